// arbiter-log: the central, durable, ordered log (DESIGN.md §1).

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/crash_point.h"
#include "common/base/file_util.h"
#include "common/eval/engine_flags.h"
#include "common/auth/auth_flags.h"
#include "common/server/server_runner.h"
#include "glog/logging.h"
#include "services/log/log_core.h"
#include "services/log/log_metrics.h"
#include "services/log/log_service.h"

ABSL_FLAG(std::string, file_access, "owner",
          "who may read the files this process creates: owner (files 0600, "
          "directories 0700) or group (0640, 0750)");
ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve on; port 0 picks a free port");
ABSL_FLAG(std::string, port_file, "",
          "if set, the chosen port is written to this file once listening");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9461",
          "HOST:PORT serving Prometheus metrics at /metrics (port 0 picks one; "
          "empty: none). If it cannot listen, the error is logged and the "
          "service runs without metrics");
ABSL_FLAG(std::string, metrics_port_file, "",
          "if set, the metrics port is written to this file once listening");
ABSL_FLAG(std::string, data_dir, "./var/log",
          "directory for the log's durable store, materialized state and "
          "snapshots");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(5),
          "on SIGTERM, how long to keep serving after health goes "
          "NOT_SERVING");
ABSL_FLAG(int64_t, snapshot_every_entries, 10000,
          "cut a snapshot after this many new entries (0: not by entries)");
ABSL_FLAG(int64_t, snapshot_every_facts, 100000,
          "cut a snapshot once this many facts were inserted or deleted since "
          "the last one (0: not by facts), so a bulk load is followed by a "
          "snapshot");
ABSL_FLAG(absl::Duration, snapshot_quiet, absl::Seconds(5),
          "also cut a snapshot once nothing was applied for this long after at "
          "least a tenth of --snapshot_every_facts facts changed: the end of a "
          "bulk load is covered (0: off)");
ABSL_FLAG(int64_t, snapshot_every_bytes, int64_t{64} << 20,
          "cut a snapshot once the entries since the last one carry this many "
          "payload bytes (0: not by bytes)");
ABSL_FLAG(absl::Duration, snapshot_interval, absl::Minutes(10),
          "cut a snapshot at least this often when something changed");
ABSL_FLAG(int64_t, snapshot_keep, 3,
          "keep the newest this many snapshots (>= 1); older ones are deleted, "
          "however young, unless a fetch pins them, the retained log needs "
          "them, or they are the current or next truncation point");
ABSL_FLAG(absl::Duration, snapshot_retention, absl::Hours(24),
          "truncate log entries only below a snapshot at least this old: "
          "entries younger than this are always kept");
ABSL_FLAG(absl::Duration, subscriber_stall_timeout, absl::Seconds(30),
          "cancel a subscriber (RESOURCE_EXHAUSTED) whose pending write has "
          "not completed for this long");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Milliseconds(250),
          "Subscribe heartbeat period");
ABSL_FLAG(int64_t, wal_checkpoint_bytes, 16 << 20,
          "checkpoint (RESTART) the log's WAL once it grows past this");
ABSL_FLAG(int64_t, max_subscribers, 1000,
          "Subscribe streams served at once; more are RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, subscribers_max_buffer_bytes, int64_t{256} << 20,
          "bytes of log entries all Subscribe streams together may hold "
          "buffered; past it the stalest stream is cut with RESOURCE_EXHAUSTED");
ABSL_FLAG(int, policy_workers, 1,
          "threads that compile SetPolicy's policy, run its tests and check the "
          "tenant's stored facts (never the RPC or sequencer threads)");
ABSL_FLAG(int64_t, max_pending_policies, 16,
          "SetPolicy calls in progress at once; more are RESOURCE_EXHAUSTED");
ABSL_FLAG(absl::Duration, policy_test_timeout, absl::Seconds(10),
          "longest a SetPolicy's tests and stored-fact check may take (also "
          "bounded by the call's deadline); past it DEADLINE_EXCEEDED");
ABSL_FLAG(std::string, bootstrap_key_file, "",
          "On the log's first start: the operator key, read from this file, or generated "
          "and written there with mode 0600. Ignored on later starts");
ABSL_FLAG(std::string, store, "sqlite",
          "where entries are stored: sqlite (<data_dir>/log.db) or etcd (--etcd_endpoints)");
ABSL_FLAG(std::vector<std::string>, etcd_endpoints, {},
          "with --store=etcd: host:port of each etcd member's client URL, comma-separated");
ABSL_FLAG(std::string, etcd_prefix, "/arbiter/",
          "with --store=etcd: the key prefix of this log's keys (ends with '/')");
ABSL_FLAG(int64_t, etcd_max_request_bytes, 3 << 19,
          "with --store=etcd: the etcd members' --max-request-bytes (one Txn's limit); a write "
          "or policy that cannot fit one entry is refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(bool, etcd_compact, true,
          "with --store=etcd: compact etcd's history after truncating old entries (etcd's "
          "history is cluster-wide: turn off when other applications share the cluster)");
ABSL_FLAG(absl::Duration, leader_lease_ttl, absl::Seconds(5),
          "with --store=etcd: the etcd lease of the front-ends' leader election (whole seconds, "
          ">= 2s): a leader that dies or loses etcd is replaced within it");
ABSL_FLAG(absl::Duration, etcd_poll_interval, absl::Milliseconds(50),
          "with --store=etcd: how often the store's head is re-read (what other front-ends "
          "appended reaches this one's subscribers within it; each read confirms the head)");
ABSL_FLAG(absl::Duration, head_confirm_interval, absl::Seconds(1),
          "with --store=etcd: stop sending to subscribers (their hosts go stale and fail "
          "closed) while the store has not confirmed the head for this long");
ABSL_FLAG(std::string, advertise_address, "",
          "with --store=etcd: HOST:PORT where the other front-ends reach this one (writes are "
          "forwarded to the leader); empty: --listen's host (this host's name if it is a "
          "wildcard) and the port it listens on");
ABSL_FLAG(std::string, crash_at, "", "(testing) _exit(3) at this named point");

namespace {

// --advertise_address, or --listen's host with the port listened on.
std::string AdvertiseAddress(const std::string& listen, int port) {
  std::string flag = absl::GetFlag(FLAGS_advertise_address);
  if (!flag.empty()) return flag;
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") {
    char name[256] = {};
    host = gethostname(name, sizeof(name) - 1) == 0 ? name : "localhost";
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace

int main(int argc, char** argv) {
  arbiter::server::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "arbiter-log: the central log. Validates writes, orders and stores "
      "them durably, streams them to hosts, and cuts snapshots.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (absl::Status s = arbiter::SetFileAccess(absl::GetFlag(FLAGS_file_access)); !s.ok()) {
    std::cerr << "arbiter-log: " << s.message() << "\n";
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
  arbiter::log::LogOptions log_options{
      .data_dir = absl::GetFlag(FLAGS_data_dir),
      .store = absl::GetFlag(FLAGS_store),
      .etcd_endpoints = absl::GetFlag(FLAGS_etcd_endpoints),
      .etcd_prefix = absl::GetFlag(FLAGS_etcd_prefix),
      .leader_lease_ttl = absl::GetFlag(FLAGS_leader_lease_ttl),
      .etcd_poll_interval = absl::GetFlag(FLAGS_etcd_poll_interval),
      .head_confirm_interval = absl::GetFlag(FLAGS_head_confirm_interval),
      .etcd_max_request_bytes = absl::GetFlag(FLAGS_etcd_max_request_bytes),
      .etcd_compact = absl::GetFlag(FLAGS_etcd_compact),
      .snapshot_every_entries = absl::GetFlag(FLAGS_snapshot_every_entries),
      .snapshot_every_facts = absl::GetFlag(FLAGS_snapshot_every_facts),
      .snapshot_every_bytes = absl::GetFlag(FLAGS_snapshot_every_bytes),
      .snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval),
      .snapshot_quiet = absl::GetFlag(FLAGS_snapshot_quiet),
      .snapshot_keep = absl::GetFlag(FLAGS_snapshot_keep),
      .snapshot_retention = absl::GetFlag(FLAGS_snapshot_retention),
      .subscriber_stall_timeout = absl::GetFlag(FLAGS_subscriber_stall_timeout),
      .heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval),
      .wal_checkpoint_bytes = absl::GetFlag(FLAGS_wal_checkpoint_bytes),
      .max_subscribers = absl::GetFlag(FLAGS_max_subscribers),
      .subscribers_max_buffer_bytes = absl::GetFlag(FLAGS_subscribers_max_buffer_bytes),
      .policy_workers = absl::GetFlag(FLAGS_policy_workers),
      .max_pending_policies = absl::GetFlag(FLAGS_max_pending_policies),
      .policy_test_timeout = absl::GetFlag(FLAGS_policy_test_timeout),
      .bootstrap_key_file = absl::GetFlag(FLAGS_bootstrap_key_file),
      .peer_tls = arbiter::auth::LogTlsFromFlags(),
  };
  absl::StatusOr<std::string> peer_key = arbiter::auth::LogKeyFromFlags();
  if (!peer_key.ok()) {
    std::cerr << "arbiter-log: " << peer_key.status().message() << "\n";
    return 2;
  }
  log_options.peer_key = *peer_key;
  absl::StatusOr<arbiter::eval::EngineOptions> engine = arbiter::eval::EngineOptionsFromFlags();
  if (engine.ok()) log_options.engine = *engine;
  for (absl::Status s :
       {engine.status(), server_options.Validate(), log_options.Validate()}) {
    if (!s.ok()) {
      std::cerr << "arbiter-log: " << s.message() << "\n";
      return 2;
    }
  }
  arbiter::SetCrashPoint(absl::GetFlag(FLAGS_crash_at));

  absl::StatusOr<std::unique_ptr<arbiter::log::LogCore>> core =
      arbiter::log::LogCore::Open(log_options);
  if (!core.ok()) {
    LOG(ERROR) << "cannot open the log: " << core.status();
    return 1;
  }
  arbiter::log::AddLogGauges(core->get());
  arbiter::log::LogService service(core->get(), arbiter::auth::AccessOptionsFromFlags(),
                                   arbiter::auth::LogTlsFromFlags());
  // etcd: the port file is written once the front-end can authenticate
  // calls (the bootstrap is the first leader's, after the election).
  const bool shared = log_options.store == "etcd";
  const std::string port_file = server_options.port_file;
  if (shared) server_options.port_file.clear();
  arbiter::server::ServerRunner runner(server_options);
  runner.AddService(&service, arbiter::v1::LogService::service_full_name());
  if (absl::Status s = runner.Start(); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  (*core)->StartFrontEnd(AdvertiseAddress(server_options.listen, runner.port()));
  if (shared) {
    if (absl::Status s = (*core)->AwaitBootstrap(3 * log_options.leader_lease_ttl +
                                                 absl::Seconds(10));
        !s.ok()) {
      LOG(WARNING) << s;
    }
    if (!port_file.empty()) {
      if (absl::Status s = arbiter::WriteFileAtomically(port_file, absl::StrCat(runner.port(), "\n"));
          !s.ok()) {
        LOG(ERROR) << "--port_file: " << s;
        return 1;
      }
    }
  }
  runner.WaitForTerminationSignal();
  // Subscribe streams never end by themselves: end them when the grace
  // period is over, so Shutdown does not wait for its deadline.
  std::thread end_streams([&core, grace = server_options.drain_grace] {
    absl::SleepFor(grace);
    (*core)->subscriptions()->FinishAll();
  });
  runner.Drain();
  end_streams.join();
  (*core)->Stop();
  return 0;
}
