#ifndef ARBITER_SERVICES_READER_REPLICA_WATCHER_H_
#define ARBITER_SERVICES_READER_REPLICA_WATCHER_H_

// The reader's one background loop. Woken by the writer's signal after each
// control.db change (common/host/change_signal.h), at the latest every poll
// interval, and when the view is about to go stale:
//   1. reads control.db in one read transaction (ControlState);
//   2. when it changed, brings the tenant indexes up to it (TenantReplicas)
//      and publishes a new immutable ReplicaView (swapped under a mutex);
//   3. completes consistency waiters the new view satisfies, and expires
//      those past their deadline;
//   4. sets health SERVING / NOT_SERVING from the FreshnessGate (only on a
//      change), so health goes back to SERVING by itself;
//   5. runs the reader's side of a host drain (DESIGN.md §8.11):
//        host DRAINING (or DRAINED) seen  -> reader DRAINING: health
//            NOT_SERVING, registration DRAINING; keep answering;
//        grace over                        -> pending waits get UNAVAILABLE;
//            once no RPC is in flight      -> reader DRAINED (registration
//            DRAINED; new RPCs are refused "host draining");
//        host ACTIVE again (Undrain)       -> reader ACTIVE.
//
// Thread-safe: view() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/eval/engine.h"
#include "common/host/change_signal.h"
#include "common/host/data_dir.h"
#include "common/storage/control_db.h"
#include "services/reader/consistency_waiters.h"
#include "services/reader/freshness_gate.h"
#include "services/reader/registrar.h"
#include "services/reader/replica_view.h"
#include "services/reader/tenant_replicas.h"

namespace arbiter::reader {

struct WatcherOptions {
  std::string data_dir;
  // The safety poll: the writer signals every control.db change, so this
  // only bounds how late a missed signal is noticed.
  absl::Duration poll_interval = absl::Milliseconds(250);
  int64_t max_top_changes = 20000;  // TenantReplicas
  eval::EngineOptions engine;       // TenantReplicas: every tenant's engine
  absl::Duration drain_grace = absl::Seconds(5);
  // After the grace, how long to wait for in-flight RPCs before reporting
  // DRAINED anyway.
  absl::Duration in_flight_wait = absl::Seconds(10);
};

class ReplicaWatcher {
 public:
  struct Hooks {
    // Health; called on the poller thread when the verdict changes.
    std::function<void(bool serving)> set_serving;
    // RPCs currently in flight (for the end of a host drain).
    std::function<int64_t()> in_flight;
    // A new view was published (called on the poller thread, no lock held).
    std::function<void()> published;
  };

  // Nothing owned; everything must outlive the watcher. `registrar` may be
  // null (tests).
  ReplicaWatcher(WatcherOptions options, FreshnessGate* gate,
                 ConsistencyWaiters* waiters, Registrar* registrar,
                 Hooks hooks);
  ~ReplicaWatcher();
  ReplicaWatcher(const ReplicaWatcher&) = delete;
  ReplicaWatcher& operator=(const ReplicaWatcher&) = delete;

  // The registration file to update on a host drain. REQUIRES: before
  // Start().
  void SetRegistrar(Registrar* registrar) { registrar_ = registrar; }

  // Polls once (so a view exists when the server starts), then on a thread.
  void Start();
  void Stop();

  // One iteration of the loop (the thread calls it; tests may).
  void PollOnce() ABSL_LOCKS_EXCLUDED(mu_);

  // The newest view; never null (before the first successful read, an empty
  // view that the gate refuses).
  std::shared_ptr<const ReplicaView> view() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    return view_;
  }

  // SIGTERM: health stays NOT_SERVING from now on; the host-drain state
  // machine stops.
  void BeginShutdown();

 private:
  void Publish(std::shared_ptr<const ReplicaView> v) ABSL_LOCKS_EXCLUDED(mu_);
  void UpdateHealth(const ReplicaView& v, const storage::BootTime& now);
  void StepHostDrain(const ReplicaView& v);

  const WatcherOptions options_;
  const host::DataDir dir_;
  FreshnessGate* const gate_;
  ConsistencyWaiters* const waiters_;
  Registrar* registrar_;  // set before Start()
  const Hooks hooks_;

  // Poller thread only.
  host::ChangeWatcher changes_;
  std::atomic<int64_t> next_wait_ns_{20'000'000};
  std::unique_ptr<storage::ControlDb> control_;
  TenantReplicas replicas_;
  std::optional<storage::ControlState> last_control_;
  uint64_t sequence_ = 0;
  std::optional<bool> serving_;
  absl::Time drain_started_;
  bool drain_waiters_failed_ = false;
  absl::Time last_error_log_ = absl::InfinitePast();
  // For a periodic VLOG(1) line: views published and how long advancing took.
  absl::Time stats_since_ = absl::Now();
  int64_t stats_views_ = 0;
  absl::Duration stats_advance_total_, stats_advance_max_;
  absl::Duration stats_lag_total_, stats_lag_max_;

  std::atomic<bool> shutting_down_{false};
  mutable absl::Mutex mu_;
  std::shared_ptr<const ReplicaView> view_ ABSL_GUARDED_BY(mu_);
  absl::Mutex poll_mu_;  // one PollOnce at a time
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_REPLICA_WATCHER_H_
