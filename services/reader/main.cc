// arbiter-reader: answers authorization questions from the host's replica
// (DESIGN.md §1). Wiring only; see reader_service.h for the request path and
// replica_watcher.h for the background loop.
//
// Order: flags -> options -> watcher (first poll) -> server -> registration
// file -> wait for SIGTERM -> drain: NOT_SERVING, registration DRAINING,
// answer for --drain_grace, pending consistency waits get UNAVAILABLE,
// Shutdown (in-flight RPCs finish) -> stop the loops -> remove the
// registration file -> exit 0.

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/auth/auth_flags.h"
#include "common/base/env.h"
#include "common/base/file_util.h"
#include "common/eval/engine_flags.h"
#include "common/host/data_dir.h"
#include "common/server/server_runner.h"
#include "common/storage/boot_clock.h"
#include "glog/logging.h"
#include "services/reader/consistency_waiters.h"
#include "services/reader/freshness_gate.h"
#include "services/reader/log_head_client.h"
#include "services/reader/reader_options.h"
#include "services/reader/reader_service.h"
#include "services/reader/registrar.h"
#include "services/reader/reader_metrics.h"
#include "services/reader/replica_watcher.h"
#include "services/reader/work_queue.h"

using arbiter::EnvOr;

ABSL_FLAG(std::string, file_access, "owner",
          "who may read the files this process creates: owner (files 0600, "
          "directories 0700) or group (0640, 0750)");
ABSL_FLAG(std::string, listen, "127.0.0.1:50053",
          "HOST:PORT to serve on; port 0 picks a free port");
ABSL_FLAG(std::string, port_file, "",
          "if set, the chosen port is written to this file once listening");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9463",
          "HOST:PORT serving Prometheus metrics at /metrics (port 0 picks one; "
          "empty: none). If it cannot listen, the error is logged and the "
          "service runs without metrics");
ABSL_FLAG(std::string, metrics_port_file, "",
          "if set, the metrics port is written to this file once listening");
ABSL_FLAG(std::string, data_dir, "./var/host",
          "the host's data directory, as the host's arbiter-writer uses it");
ABSL_FLAG(std::string, log_address,
          EnvOr("ARBITER_LOG_ADDRESS", "127.0.0.1:50051"),
          "arbiter-log's HOST:PORT, for fully_consistent reads (default from "
          "$ARBITER_LOG_ADDRESS)");
ABSL_FLAG(std::string, reader_id, "",
          "this reader's id on the host: its registration file is "
          "<data_dir>/readers/<id>.json; default reader-<port>");
ABSL_FLAG(absl::Duration, max_staleness, absl::Seconds(2),
          "serve only while the replica proved fresh within this long");
ABSL_FLAG(absl::Duration, max_consistency_wait, absl::Seconds(5),
          "longest wait for the replica to reach a consistency token");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(5),
          "on SIGTERM or host drain, how long to keep serving after health "
          "goes NOT_SERVING");
ABSL_FLAG(absl::Duration, poll_interval, absl::Milliseconds(250),
          "safety poll of control.db (at most 1s): the writer signals every "
          "change (<data>/notify, inotify), this bounds a missed signal");
ABSL_FLAG(int64_t, max_top_changes, 20000,
          "a tenant whose changes past the writer's newest index file exceed "
          "this many keeps its current view (and goes stale alone) until the "
          "writer names a newer file, instead of rebuilding an ever larger "
          "in-memory layer at every advance");
ABSL_FLAG(std::string, decision_log, "",
          "if set, a JSON-lines log of Authorize answers is appended to this "
          "file (- for stdout), written off the request path "
          "(docs/OPERATIONS.md); empty: none");
ABSL_FLAG(double, decision_log_sample, 1.0,
          "the share of Authorize answers written to --decision_log, in [0, 1]");
ABSL_FLAG(int64_t, decision_log_max_queued, 10000,
          "decision log entries waiting to be written beyond which new ones "
          "are dropped (counted in arbiter_reader_decision_log_dropped_total)");
ABSL_FLAG(int, workers, 2,
          "worker threads for List, Query, GetFacts, Explain and released "
          "consistency waits");
ABSL_FLAG(int64_t, max_watch_streams, 1000,
          "Watch streams served at once; more are refused with RESOURCE_EXHAUSTED "
          "(0: Watch is off)");
ABSL_FLAG(absl::Duration, watch_stall_timeout, absl::Seconds(30),
          "a Watch stream whose client leaves a message unread this long ends with "
          "RESOURCE_EXHAUSTED");

int main(int argc, char** argv) {
  arbiter::server::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "arbiter-reader: answers Authorize, List, Actions and Query from the "
      "host's local replica; fails closed when the replica is not fresh.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (absl::Status s = arbiter::SetFileAccess(absl::GetFlag(FLAGS_file_access)); !s.ok()) {
    std::cerr << "arbiter-reader: " << s.message() << "\n";
    return 2;
  }
  LOG(INFO) << "open file limit " << arbiter::RaiseOpenFileLimit();

  arbiter::reader::ReaderOptions options{
      .data_dir = absl::GetFlag(FLAGS_data_dir),
      .log_address = absl::GetFlag(FLAGS_log_address),
      .reader_id = absl::GetFlag(FLAGS_reader_id),
      .max_staleness = absl::GetFlag(FLAGS_max_staleness),
      .max_consistency_wait = absl::GetFlag(FLAGS_max_consistency_wait),
      .drain_grace = absl::GetFlag(FLAGS_drain_grace),
      .poll_interval = absl::GetFlag(FLAGS_poll_interval),
      .max_top_changes = absl::GetFlag(FLAGS_max_top_changes),
      .workers = absl::GetFlag(FLAGS_workers),
      .max_watch_streams = absl::GetFlag(FLAGS_max_watch_streams),
      .watch_stall_timeout = absl::GetFlag(FLAGS_watch_stall_timeout),
  };
  // The grace is run here (see below), so the runner shuts down at once.
  arbiter::server::ServerOptions server_options{
      .listen = absl::GetFlag(FLAGS_listen),
      .port_file = absl::GetFlag(FLAGS_port_file),
      .drain_grace = absl::ZeroDuration(),
      // Fail closed from the first instant: SERVING only once the first
      // poll proves the replica fresh.
      .initially_serving = false,
  };
  arbiter::auth::ApplyServerTlsFlags(&server_options);
  server_options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  server_options.metrics_port_file = absl::GetFlag(FLAGS_metrics_port_file);
  absl::StatusOr<arbiter::eval::EngineOptions> engine_options =
      arbiter::eval::EngineOptionsFromFlags();
  absl::Status valid = engine_options.status();
  if (valid.ok()) valid = options.Validate();
  if (valid.ok()) valid = server_options.Validate();
  if (!valid.ok()) {
    std::cerr << "arbiter-reader: " << valid.message() << "\n";
    return 2;
  }
  auto clock = arbiter::storage::SystemBootClock::Create();
  if (!clock.ok()) {
    LOG(ERROR) << clock.status();
    return 1;
  }

  using namespace arbiter::reader;  // NOLINT: wiring only
  std::unique_ptr<DecisionLog> decision_log;
  if (!absl::GetFlag(FLAGS_decision_log).empty()) {
    absl::StatusOr<std::unique_ptr<DecisionLog>> opened = DecisionLog::Open(DecisionLogOptions{
        .path = absl::GetFlag(FLAGS_decision_log),
        .sample = absl::GetFlag(FLAGS_decision_log_sample),
        .max_queued = absl::GetFlag(FLAGS_decision_log_max_queued)});
    if (!opened.ok()) {
      std::cerr << "arbiter-reader: " << opened.status().message() << "\n";
      return 2;
    }
    decision_log = std::move(*opened);
  }
  FreshnessGate gate(options.max_staleness, clock->get());
  ConsistencyWaiters waiters;
  WorkQueue work(options.workers);
  absl::StatusOr<std::string> log_key = arbiter::auth::LogKeyFromFlags();
  if (!log_key.ok()) {
    std::cerr << "arbiter-reader: " << log_key.status().message() << "\n";
    return 2;
  }
  LogHeadClient log(options.log_address, *log_key, arbiter::auth::LogTlsFromFlags());
  arbiter::server::ServerRunner runner(server_options);
  ReaderService* service_ptr = nullptr;
  std::unique_ptr<Registrar> registrar;  // created once the port is known
  Registrar* registrar_ptr = nullptr;
  // Health is set by the poller until the drain starts, then only here: the
  // mutex orders a poller's SetServing(true) before the drain's (false).
  absl::Mutex health_mu;
  bool started = false, draining = false;
  WatchHub* watches_ptr = nullptr;
  ReplicaWatcher watcher(
      WatcherOptions{.data_dir = options.data_dir,
                     .poll_interval = options.poll_interval,
                     .max_top_changes = options.max_top_changes,
                     .engine = *engine_options,
                     .drain_grace = options.drain_grace},
      &gate, &waiters, nullptr,
      ReplicaWatcher::Hooks{
          .set_serving =
              [&](bool serving) {
                absl::MutexLock l(&health_mu);
                if (started && !draining) runner.SetServing(serving);
              },
          .in_flight =
              [&]() -> int64_t {
                return service_ptr != nullptr ? service_ptr->in_flight() : 0;
              },
          .published =
              [&] {
                if (watches_ptr != nullptr) watches_ptr->OnView();
              },
      });
  WatchHub watches(WatchOptions{.max_streams = static_cast<size_t>(options.max_watch_streams),
                                .stall_timeout = options.watch_stall_timeout},
                   [&watcher] { return watcher.view(); });
  watches_ptr = &watches;
  ReaderService service(
      ReaderServiceOptions{.max_consistency_wait = options.max_consistency_wait,
                           .access = arbiter::auth::AccessOptionsFromFlags(),
                           .decision_log = decision_log.get()},
      &watcher, &gate, &waiters, &log, &work, &watches);
  service_ptr = &service;
  AddReaderGauges(&watcher, &gate, &watches);
  runner.AddService(&service, arbiter::v1::ReaderService::service_full_name());
  if (absl::Status s = runner.Start(); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  {
    absl::MutexLock l(&health_mu);
    started = true;  // the poller may set health from now on
  }

  const std::string listen = server_options.listen;
  const std::string host = listen.substr(0, listen.rfind(':'));
  const std::string id = options.reader_id.empty()
                             ? absl::StrCat("reader-", runner.port())
                             : options.reader_id;
  registrar = std::make_unique<Registrar>(
      RegistrarOptions{
          .readers_dir = arbiter::host::DataDir(options.data_dir).ReadersDir(),
          .id = id,
          .address = absl::StrCat(host, ":", runner.port()),
          .lease = options.lease},
      clock->get(), [&]() -> uint64_t {
        auto v = watcher.view();
        auto age = arbiter::storage::Age(v->fresh_as_of, gate.clock()->Now());
        return age ? static_cast<uint64_t>(absl::ToInt64Milliseconds(*age)) : 0;
      });
  registrar_ptr = registrar.get();
  if (decision_log != nullptr) decision_log->SetReader(id);
  if (absl::Status s = registrar->Start(); !s.ok()) {
    LOG(ERROR) << "cannot write the registration file: " << s;
    return 1;
  }
  watcher.SetRegistrar(registrar_ptr);
  watcher.Start();
  LOG(INFO) << "arbiter-reader " << id << " on port " << runner.port()
            << ", data " << options.data_dir << ", max staleness "
            << options.max_staleness;

  const int sig = runner.WaitForTerminationSignal();
  LOG(INFO) << "signal " << sig << ": draining (grace " << options.drain_grace
            << ")";
  {
    absl::MutexLock l(&health_mu);
    draining = true;
    runner.SetServing(false);  // and it stays so
  }
  watcher.BeginShutdown();
  if (absl::Status s = registrar->SetDrainState(arbiter::v1::DRAIN_STATE_DRAINING);
      !s.ok()) {
    LOG(WARNING) << "registration file: " << s;
  }
  absl::SleepFor(options.drain_grace);
  // Streams never end by themselves: end them now, with where to resume.
  watches.FinishAll(absl::UnavailableError(
      "reader draining: resume from the last token on another reader"));
  waiters.FailAll(absl::UnavailableError(
      "reader draining: the consistency wait was still pending at the end of "
      "the drain grace period"));
  // Shutdown: new calls refused, in-flight calls finish, and whatever still
  // evaluates at the shutdown deadline is cancelled.
  absl::Notification drained;
  std::thread cutoff([&] {
    if (!drained.WaitForNotificationWithTimeout(server_options.shutdown_deadline)) {
      LOG(WARNING) << "evaluations still running at the shutdown deadline: cancelling them";
      service.CancelEvaluations();
    }
  });
  runner.Drain();
  drained.Notify();
  cutoff.join();
  work.Stop();
  watcher.Stop();
  watches.Stop();
  if (absl::Status s = registrar->Remove(); !s.ok()) {
    LOG(WARNING) << "removing the registration file: " << s;
  }
  LOG(INFO) << "arbiter-reader stopped";
  return 0;
}
