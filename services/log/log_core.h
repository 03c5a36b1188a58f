#ifndef ARBITER_SERVICES_LOG_LOG_CORE_H_
#define ARBITER_SERVICES_LOG_LOG_CORE_H_

// arbiter-log's core, without gRPC types except the Subscribe reactor:
//
//   <data_dir>/log.db                 the durable log (SqliteLogStore), unless
//                                     it is in etcd (--store=etcd: EtcdLogStore)
//   <data_dir>/state/                 the materialized tenants (Materializer),
//                                     a replica::ReplicaDir: tenants/<t>.db
//                                     and materializer.db (its applied offset)
//   <data_dir>/state/epoch            the epoch state/ belongs to
//   <data_dir>/state.restore/         state/ being restored from a snapshot
//   <data_dir>/snapshots/snap-*/      snapshots (common/snapshot)
//
//   <data_dir>/lock, front_end_id     one process per directory; its id in
//                                     the leader election (etcd)
//
// Threads: the sequencer, the materializer, the subscription pump and
// ticker, and the snapshotter (cuts snapshots, applies retention); with
// etcd also the store follower and the leadership (leadership.h).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.pb.h"
#include "common/auth/client.h"
#include "common/eval/engine.h"
#include "common/logstore/log_store.h"
#include "common/snapshot/snapshot.h"
#include "services/log/leadership.h"
#include "services/log/materializer.h"
#include "services/log/sequencer.h"
#include "services/log/subscriptions.h"

namespace arbiter::log {

struct LogOptions {
  std::string data_dir = "./var/log";
  // Where entries are stored: "sqlite" (<data_dir>/log.db) or "etcd" (the
  // cluster at etcd_endpoints, host:port,..., under etcd_prefix). Any number
  // of front-ends may share one etcd prefix (see LogCore).
  std::string store = "sqlite";
  std::vector<std::string> etcd_endpoints;
  std::string etcd_prefix = "/arbiter/";
  // etcd: the lease of the leader election and of this front-end's
  // registration (leadership.h); how often the store's head is re-read
  // (what other front-ends appended reaches this one's subscribers within
  // it); and how old the last confirmation of the head may be before this
  // front-end stops sending to subscribers (DESIGN.md §9.2).
  absl::Duration leader_lease_ttl = absl::Seconds(5);
  absl::Duration etcd_poll_interval = absl::Milliseconds(50);
  absl::Duration head_confirm_interval = absl::Seconds(1);
  // The etcd cluster's --max-request-bytes (what one Txn may hold) and
  // whether truncation compacts etcd's (cluster-wide) history.
  int64_t etcd_max_request_bytes = 3 << 19;
  bool etcd_compact = true;
  // A snapshot is cut when, since the last one, any of these was reached
  // (0 turns a trigger off): entries applied; facts inserted + deleted (as
  // the applier counts them, since this process started); payload bytes of
  // the entries applied (likewise); or the interval passed with anything
  // applied.
  int64_t snapshot_every_entries = 10000;
  int64_t snapshot_every_facts = 100000;
  int64_t snapshot_every_bytes = int64_t{64} << 20;
  absl::Duration snapshot_interval = absl::Minutes(10);
  // And once nothing was applied for `snapshot_quiet` after at least a tenth
  // of snapshot_every_facts facts changed: the end of a bulk load is
  // covered, not left to the interval (0 turns it off).
  absl::Duration snapshot_quiet = absl::Seconds(5);
  // snapshot::SnapshotStore::ApplyRetention: the newest `snapshot_keep`
  // (>= 1) are kept; entries are truncated only below a snapshot older than
  // `snapshot_retention`.
  int64_t snapshot_keep = 3;
  absl::Duration snapshot_retention = absl::Hours(24);
  absl::Duration subscriber_stall_timeout = absl::Seconds(30);
  absl::Duration heartbeat_interval = absl::Milliseconds(250);
  int64_t wal_checkpoint_bytes = 16 << 20;
  // SubscriptionOptions: Subscribe streams at once, and the bytes of entries
  // all of them may hold buffered together.
  int64_t max_subscribers = 1000;
  int64_t subscribers_max_buffer_bytes = int64_t{256} << 20;
  // SetPolicy preparation (SequencerOptions): worker threads, calls in
  // progress at once, the bound on a policy's tests and fact check, and the
  // evaluation limits of its tests.
  int policy_workers = 1;
  int64_t max_pending_policies = 16;
  absl::Duration policy_test_timeout = absl::Seconds(10);
  eval::EngineOptions engine;
  // The operator key created on the start that creates "_system" (the
  // log's first): read from this file, or generated and written there (mode
  // 0600). Never honoured again: a restart never revives a revoked bootstrap
  // key. Empty: none (then no call can authenticate, except with
  // --insecure_no_auth).
  std::string bootstrap_key_file;
  // etcd: how this front-end reaches its peers when its state is behind the
  // retained log and no snapshot of its own covers the gap (an empty data
  // directory after a truncation): it fetches a peer's snapshot (--tls_ca /
  // --tls_cert / --tls_key, and --log_key_file: a replicate-scope key).
  auth::ClientTls peer_tls;
  std::string peer_key;

  // INVALID_ARGUMENT naming the flag (--snapshot_interval, ...).
  absl::Status Validate() const;
};

// With --store=etcd, several LogCores (front-ends, in separate processes)
// may share one prefix (DESIGN.md §9.2): each follows the store (re-reads
// its head every etcd_poll_interval: the subscribers, the materializer and
// the sequencer's registries catch up), materializes the tenants and cuts
// its own snapshots; one elected leader (leadership.h) sequences, and the
// others' LogService forwards writes to it (Route). Only the leader
// truncates, and only below the newest snapshot of every registered
// front-end. The "_system" tenant and the bootstrap key are created by the
// first leader.
//
// Thread-safe.
class LogCore {
 public:
  // Creates data_dir if needed, opens the store (creating the cluster
  // identity on first start), starts every thread.
  static absl::StatusOr<std::unique_ptr<LogCore>> Open(const LogOptions& options);
  ~LogCore();

  Sequencer* sequencer() { return sequencer_.get(); }
  SubscriptionHub* subscriptions() { return hub_.get(); }
  snapshot::SnapshotStore* snapshots() { return snapshots_.get(); }
  logstore::LogStore* store() { return store_.get(); }
  Materializer* materializer() { return materializer_.get(); }

  // etcd: starts the leader election and the store follower, with
  // `address` (host:port) as where peers forward writes to this front-end.
  // Call once the server listens. A no-op for the embedded store.
  void StartFrontEnd(const std::string& address);

  // etcd: waits until a leader is known, the "_system" tenant exists and,
  // with a bootstrap key file, an entry follows it (whichever front-end
  // leads created them), so that the first calls can authenticate and be
  // sequenced. DEADLINE_EXCEEDED after `timeout`.
  absl::Status AwaitBootstrap(absl::Duration timeout);

  // Where a write (and any call answered from the sequencer's state) goes:
  // here (""), or the leader's address. UNAVAILABLE while no leader is
  // known.
  absl::StatusOr<std::string> Route() const;
  // Whether the store confirmed the head within head_confirm_interval
  // (always, for the embedded store).
  bool HeadConfirmed() const;

  v1::GetHeadResponse GetHead() const;
  std::string Token(uint64_t offset) const;

  // Cuts a snapshot now if anything was applied since the last one
  // (returns it), else returns the newest (NOT_FOUND if none).
  absl::StatusOr<v1::SnapshotManifest> SnapshotNow() ABSL_LOCKS_EXCLUDED(snap_mu_);

  // Stops every thread, input first (subscribers, sequencer), then the
  // materializer and snapshotter. Idempotent.
  void Stop();

 private:
  explicit LogCore(LogOptions options) : options_(std::move(options)) {}
  std::string StateDir() const { return options_.data_dir + "/state"; }
  // If the materialized state is missing or older than the oldest retained
  // entry (state/ lost after a truncation), replaces it with the newest
  // snapshot (replica::SnapshotInstall: copied to state.restore/, verified
  // against the manifest, renamed over state/); with etcd, when none of
  // ours covers the gap, a peer's (RestoreStateFromPeer).
  absl::Status RestoreStateIfBehind();
  // etcd, none of our snapshots covers the gap below `oldest`: installs the
  // newest snapshot of a registered peer (same cluster and epoch, offset >=
  // oldest - 1) as state/, retrying for 6 lease TTLs while none has one.
  absl::Status RestoreStateFromPeer(int64_t applied, uint64_t oldest);
  // A store behind its own materialized state (an offset past its head, or
  // a newer epoch in state/epoch) lost acknowledged entries: a new epoch
  // past both (every host re-restores), and the state is rebuilt.
  absl::Status StartNewEpochIfAhead();
  // A state of an older epoch than the store's (another front-end started
  // a new epoch after a restore from a backup): the state and the
  // snapshots of other epochs are removed, to be rebuilt.
  absl::Status DiscardStateOfOlderEpoch();
  absl::Status RemoveSnapshotsNotOfEpoch(uint64_t epoch);
  // Creates the "_system" tenant if missing, then the bootstrap key (see
  // LogOptions::bootstrap_key_file). Waits for both to be durable.
  absl::Status Bootstrap();
  // etcd: re-reads the store's head every etcd_poll_interval and passes
  // what other front-ends appended on.
  void FollowLoop();
  // Runs when this front-end becomes the leader.
  void OnElected();
  void SnapshotLoop();
  absl::StatusOr<v1::SnapshotManifest> CutSnapshot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(snap_mu_);
  absl::Status ApplyRetention() ABSL_EXCLUSIVE_LOCKS_REQUIRED(snap_mu_);

  const LogOptions options_;
  std::unique_ptr<logstore::LogStore> store_;
  std::unique_ptr<Materializer> materializer_;
  std::unique_ptr<SubscriptionHub> hub_;
  std::unique_ptr<Sequencer> sequencer_;
  std::unique_ptr<snapshot::SnapshotStore> snapshots_;
  int lock_fd_ = -1;          // flock on <data_dir>/lock, held while open
  std::string front_end_id_;  // <data_dir>/front_end_id
  std::unique_ptr<Leadership> leadership_;  // etcd only
  std::thread follower_;                     // etcd only
  // When the store last confirmed the head (steady clock, ns).
  std::atomic<int64_t> confirmed_at_ns_{0};

  absl::Mutex snap_mu_;  // one snapshot / retention pass at a time
  uint64_t last_snapshot_offset_ ABSL_GUARDED_BY(snap_mu_) = 0;
  absl::Time last_snapshot_time_ ABSL_GUARDED_BY(snap_mu_);
  // The materializer's totals when the last snapshot was cut (zero at start:
  // what was applied before this process started is not counted).
  replica::ApplyTotals last_snapshot_totals_ ABSL_GUARDED_BY(snap_mu_);
  // The applied offset the snapshotter saw last, and since when.
  uint64_t seen_applied_ ABSL_GUARDED_BY(snap_mu_) = 0;
  absl::Time seen_applied_since_ ABSL_GUARDED_BY(snap_mu_);

  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread snapshotter_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_LOG_CORE_H_
