// arbiter-writer: one per host; restores, replays and follows the log into the
// host's replica (DESIGN.md §1).

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/auth/auth_flags.h"
#include "common/base/crash_point.h"
#include "common/base/env.h"
#include "common/base/file_util.h"
#include "common/server/server_runner.h"
#include "common/storage/boot_clock.h"
#include "glog/logging.h"
#include "services/writer/host_monitor.h"
#include "services/writer/writer_metrics.h"
#include "services/writer/replicator.h"
#include "services/writer/writer_admin_service.h"

using arbiter::EnvOr;

namespace {
const arbiter::writer::WriterOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, file_access, "owner",
          "who may read the files this process creates: owner (files 0600, "
          "directories 0700) or group (0640, 0750)");
ABSL_FLAG(std::string, listen, "127.0.0.1:50052",
          "HOST:PORT for the admin service; port 0 picks a free port. Keep it "
          "on loopback unless the network is trusted: Drain is unauthenticated");
ABSL_FLAG(std::string, port_file, "",
          "if set, the chosen port is written to this file once listening");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9462",
          "HOST:PORT serving Prometheus metrics at /metrics (port 0 picks one; "
          "empty: none). If it cannot listen, the error is logged and the "
          "service runs without metrics");
ABSL_FLAG(std::string, metrics_port_file, "",
          "if set, the metrics port is written to this file once listening");
ABSL_FLAG(std::string, data_dir, kDefaults.data_dir,
          "the host's data directory (tenant replicas, control.db)");
ABSL_FLAG(std::string, log_address,
          EnvOr("ARBITER_LOG_ADDRESS", "127.0.0.1:50051"),
          "arbiter-log's HOST:PORT, or several front-ends' comma-separated (the writer "
          "moves to the next when one fails); default from $ARBITER_LOG_ADDRESS");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(5),
          "on SIGTERM, how long to keep serving after health goes "
          "NOT_SERVING");
ABSL_FLAG(bool, undrain_on_start, false,
          "a host left DRAINING or DRAINED (by Drain, e.g. a Kubernetes preStop "
          "drain) returns to ACTIVE when this writer starts: for platforms that "
          "restart the writer only to keep the host in service. Leave it off "
          "where a drained host must stay drained (the EC2 termination policy)");
ABSL_FLAG(absl::Duration, live_enter, kDefaults.live_enter,
          "become LIVE once the replica was fresh within this long");
ABSL_FLAG(absl::Duration, live_exit, kDefaults.live_exit,
          "stop being LIVE once the replica has not been fresh for this long");
ABSL_FLAG(absl::Duration, log_silence_timeout, kDefaults.log_silence_timeout,
          "abandon a Subscribe stream that brought no message (the log sends a heartbeat "
          "every ~250 ms) for this long, and reconnect (to the next --log_address)");
ABSL_FLAG(int, max_batch_entries, kDefaults.max_batch_entries,
          "most log entries applied in one batch (one transaction per tenant)");
ABSL_FLAG(absl::Duration, apply_slice_target, kDefaults.apply_slice_target,
          "size each tenant's slice of an apply batch so that a batch takes about "
          "this long at the measured apply rate: one tenant's bulk load is applied "
          "in slices and never holds back another tenant's writes or freshness");
ABSL_FLAG(int64_t, max_tenant_batch_bytes, kDefaults.max_tenant_batch_bytes,
          "most payload bytes of one tenant applied in one batch");
ABSL_FLAG(int64_t, max_queued_bytes, kDefaults.max_queued_bytes,
          "stop reading the log's stream while this many payload bytes wait to "
          "be applied");
ABSL_FLAG(int64_t, index_recent_every_changes, kDefaults.index.recent_every_changes,
          "rebuild a tenant's recent index file after this many changed facts "
          "(readers hold the changes since it in memory and rebuild them at every "
          "advance)");
ABSL_FLAG(int64_t, index_delta_every_changes, kDefaults.index.delta_every_changes,
          "fold the recent index file into a new delta file once it holds this many "
          "changed facts");
ABSL_FLAG(int64_t, index_merge_min_changes, kDefaults.index.merge_min_changes,
          "merge a tenant's index delta into a new base once it holds at least "
          "this many changed facts ...");
ABSL_FLAG(int64_t, index_merge_max_changes, kDefaults.index.merge_max_changes,
          "... and at most this many ...");
ABSL_FLAG(double, index_merge_ratio, kDefaults.index.merge_ratio,
          "... and otherwise this share of the base's facts");
ABSL_FLAG(absl::Duration, index_grace, kDefaults.index.grace,
          "keep a replaced index file this long (readers may still be opening it)");
ABSL_FLAG(absl::Duration, reconnect_max, kDefaults.reconnect_max,
          "longest backoff between attempts to reach the log");
ABSL_FLAG(absl::Duration, tenant_check_interval, kDefaults.tenant_check_interval,
          "how often every tenant file is checked to exist and be a database; "
          "a missing or damaged one re-restores the host into a new generation");
ABSL_FLAG(std::string, crash_at, "", "test hook: _exit(3) at this named point");

int main(int argc, char** argv) {
  arbiter::server::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "arbiter-writer: one per host. Restores the newest snapshot, replays "
      "the log and follows it live into the host's SQLite replicas.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (absl::Status s = arbiter::SetFileAccess(absl::GetFlag(FLAGS_file_access)); !s.ok()) {
    std::cerr << "arbiter-writer: " << s.message() << "\n";
    return 2;
  }
  LOG(INFO) << "open file limit " << arbiter::RaiseOpenFileLimit();

  arbiter::server::ServerOptions server_options{
      .listen = absl::GetFlag(FLAGS_listen),
      .port_file = absl::GetFlag(FLAGS_port_file),
      .drain_grace = absl::GetFlag(FLAGS_drain_grace),
  };
  arbiter::auth::ApplyServerTlsFlags(&server_options);
  server_options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  server_options.metrics_port_file = absl::GetFlag(FLAGS_metrics_port_file);
  arbiter::writer::WriterOptions options;
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.log_address = absl::GetFlag(FLAGS_log_address);
  absl::StatusOr<std::string> log_key = arbiter::auth::LogKeyFromFlags();
  if (!log_key.ok()) {
    std::cerr << "arbiter-writer: " << log_key.status().message() << "\n";
    return 2;
  }
  options.log_key = *log_key;
  options.log_tls = arbiter::auth::LogTlsFromFlags();
  options.live_enter = absl::GetFlag(FLAGS_live_enter);
  options.log_silence_timeout = absl::GetFlag(FLAGS_log_silence_timeout);
  options.live_exit = absl::GetFlag(FLAGS_live_exit);
  options.max_batch_entries = absl::GetFlag(FLAGS_max_batch_entries);
  options.reconnect_max = absl::GetFlag(FLAGS_reconnect_max);
  options.tenant_check_interval = absl::GetFlag(FLAGS_tenant_check_interval);
  options.apply_slice_target = absl::GetFlag(FLAGS_apply_slice_target);
  options.max_tenant_batch_bytes = absl::GetFlag(FLAGS_max_tenant_batch_bytes);
  options.max_queued_bytes = absl::GetFlag(FLAGS_max_queued_bytes);
  options.index.recent_every_changes = absl::GetFlag(FLAGS_index_recent_every_changes);
  options.index.delta_every_changes = absl::GetFlag(FLAGS_index_delta_every_changes);
  options.index.merge_min_changes = absl::GetFlag(FLAGS_index_merge_min_changes);
  options.index.merge_max_changes = absl::GetFlag(FLAGS_index_merge_max_changes);
  options.index.merge_ratio = absl::GetFlag(FLAGS_index_merge_ratio);
  options.index.grace = absl::GetFlag(FLAGS_index_grace);
  options.crash_at = absl::GetFlag(FLAGS_crash_at);
  for (const absl::Status& s : {server_options.Validate(), options.Validate()}) {
    if (!s.ok()) {
      std::cerr << "arbiter-writer: " << s.message() << "\n";
      return 2;
    }
  }
  arbiter::SetCrashPoint(options.crash_at);

  auto clock = arbiter::storage::SystemBootClock::Create();
  if (!clock.ok()) {
    LOG(ERROR) << clock.status();
    return 1;
  }
  arbiter::server::ServerRunner runner(server_options);
  auto replicator = arbiter::writer::Replicator::Create(
      options, clock->get(), [&runner] { runner.RequestStop(); });
  if (!replicator.ok()) {
    LOG(ERROR) << replicator.status().message();
    return 1;
  }
  auto monitor = arbiter::writer::HostMonitor::Create(options, clock->get());
  if (!monitor.ok()) {
    LOG(ERROR) << monitor.status();
    return 1;
  }
  if (absl::GetFlag(FLAGS_undrain_on_start)) {
    if (auto state = (*monitor)->Status(); state.ok() &&
                                           state->drain_state() != arbiter::v1::DRAIN_STATE_ACTIVE) {
      LOG(INFO) << "--undrain_on_start: the host was "
                << arbiter::v1::DrainState_Name(state->drain_state());
      if (absl::Status s = (*monitor)->Undrain().status(); !s.ok()) {
        LOG(ERROR) << "--undrain_on_start: " << s;
        return 1;
      }
    }
  }
  arbiter::writer::AddHostGauges(monitor->get());
  arbiter::writer::WriterAdminService service(monitor->get(),
                                              arbiter::auth::AccessOptionsFromFlags());
  runner.AddService(&service,
                    arbiter::v1::WriterAdminService::service_full_name());
  if (absl::Status s = runner.Start(); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  (*replicator)->Start();
  (*monitor)->Start();
  runner.WaitForTerminationSignal();
  runner.Drain();
  (*replicator)->Stop();
  (*monitor)->Stop();
  std::string fatal = (*replicator)->fatal_error();
  if (!fatal.empty()) {
    std::cerr << "arbiter-writer: " << fatal << "\n";
    return 1;
  }
  return 0;
}
