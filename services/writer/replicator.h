#ifndef ARBITER_SERVICES_WRITER_REPLICATOR_H_
#define ARBITER_SERVICES_WRITER_REPLICATOR_H_

// The writer's apply loop (DESIGN.md §1, §8.1–§8.5, §8.8): one thread that
// restores when the host has no trustworthy data, subscribes to the log from
// the replica's applied offset + 1, applies entries in batches (one SQLite
// transaction per tenant, then one control.db transaction with the global
// applied offset and fresh_as_of; a receiver thread queues messages and each
// batch takes everything queued so far, so batches grow with the write rate),
// and reconnects with capped exponential
// backoff when the log goes away. It is the only code that writes tenant
// databases and the applied offset / fresh_as_of in control.db.
//
//   start ─▶ control.db: REPLAYING (first) ─▶ GetHead ─▶ data trustworthy?
//              no ─▶ RESTORING ─▶ new generation ─┐
//              yes ───────────────────────────────┴▶ Subscribe(applied+1) ─▶ apply …
//   OUT_OF_RANGE (history truncated past us) or a newer epoch ─▶ RESTORING
//   stream broken ─▶ backoff ─▶ GetHead …
//
// LIVE is derived by the HostMonitor from fresh_as_of; this loop only keeps
// fresh_as_of true.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "common/host/change_signal.h"
#include "common/host/data_dir.h"
#include "common/replica/applier.h"
#include "common/storage/boot_clock.h"
#include "common/storage/control_db.h"
#include "common/storage/tenant_db.h"
#include "services/writer/apply_lanes.h"
#include "services/writer/index_maintainer.h"
#include "services/writer/wal_checkpointer.h"
#include "services/writer/writer_options.h"

namespace arbiter::writer {

// Thread-safe: Start() and Stop() from one thread; the loop runs on its own.
class Replicator {
 public:
  // Opens (creating if needed) the data directory and control.db, and marks
  // the host REPLAYING before anything else (RESTORING when it holds no
  // generation yet). FAILED_PRECONDITION when control.db cannot be used (the
  // message says what to do).
  // `on_fatal` is called once, from the loop thread, if the loop stops on a
  // condition it cannot recover from (see fatal_error()).
  static absl::StatusOr<std::unique_ptr<Replicator>> Create(
      const WriterOptions& options, const storage::BootClock* clock,
      std::function<void()> on_fatal = [] {});
  ~Replicator();

  void Start();
  // Stops the loop (cancels an open stream) and joins it. Idempotent.
  void Stop();

  // A fatal condition the loop cannot recover from by itself (e.g. the log
  // belongs to another cluster than the host's data); empty while healthy.
  // The process should report it and exit.
  std::string fatal_error() const;

  // The index maintainer's counters (tests, benchmarks).
  IndexMaintainer::Stats index_stats() const { return index_->stats(); }

 private:
  Replicator(const WriterOptions& options, const storage::BootClock* clock,
             std::function<void()> on_fatal,
             std::unique_ptr<storage::ControlDb> control);

  void Run();
  // One connection's worth of work; returns why it ended.
  absl::Status RunOnce();
  // Checks the local data against the log's identity and head; returns
  // true when the host must re-restore.
  absl::StatusOr<bool> NeedsRestore(const v1::GetHeadResponse& head,
                                    const storage::ControlState& state);
  absl::Status Restore(const v1::GetHeadResponse& head,
                       const storage::ControlState& state);
  absl::Status Follow(const v1::GetHeadResponse& head,
                      const storage::ControlState& state);
  struct Inbox;
  struct Received;
  // Applies `entries` (taken from `lanes`, in offset order) and records in
  // one control.db transaction: the applied and complete offsets, the head,
  // fresh_as_of, which tenants lag (and their own completeness and
  // freshness), and the index files ready to be named; then signals readers.
  absl::Status ApplyBatch(const std::vector<v1::LogEntry>& entries, ApplyLanes& lanes);
  // Checkpoints the WAL of each tenant `entries` wrote to, when it is due.
  void CheckpointTenants(const std::vector<v1::LogEntry>& entries);
  // The index maintainer has files to name: end the apply loop's wait.
  void WakeForIndex() ABSL_LOCKS_EXCLUDED(wake_mu_);
  // DATA_LOSS naming the tenant and the file when a registered tenant's file
  // of the current generation is missing or does not start with SQLite's
  // header (see WriterOptions::tenant_check_interval).
  absl::Status CheckTenantFiles() const;
  // DATA_LOSS (and a re-restore) when `e` does not continue the chain of the
  // entry received before it (LogEntry.chain); records its chain.
  absl::Status CheckChain(const v1::LogEntry& e);
  // Opens the applier over the current generation's tenant directory.
  absl::Status OpenGeneration(const storage::ControlState& state);
  void CloseTenants();
  bool SleepUnlessStopped(absl::Duration d);

  const WriterOptions options_;
  const storage::BootClock* const clock_;
  const std::function<void()> on_fatal_;
  const host::DataDir dir_;
  std::unique_ptr<storage::ControlDb> control_;  // loop thread only
  // --log_address's front-ends and the one followed (apply-loop thread).
  void Connect(size_t index);
  const std::string& log_address() const { return addresses_[address_index_]; }
  std::vector<std::string> addresses_;
  size_t address_index_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LogService::Stub> log_;

  // Loop-thread state.
  int64_t generation_ = 0;
  int64_t applied_ = 0;
  uint64_t applied_chain_ = 0;  // LogEntry.chain at applied_ (0: unknown)
  // The chain of the last entry received (at chain_offset_), and of each
  // entry received but not yet covered by applied_, in offset order.
  uint64_t chain_ = 0;
  int64_t chain_offset_ = 0;
  std::deque<std::pair<int64_t, uint64_t>> received_chains_;
  bool force_restore_ = false;
  std::unique_ptr<replica::Applier> applier_;  // of generation_
  std::map<std::string, int64_t> tenant_offsets_;  // registry view
  std::set<std::string> lagging_;  // tenants control.db says lag
  host::ChangeSignal signal_;
  std::unique_ptr<IndexMaintainer> index_;
  WalCheckpointer checkpointer_{options_.wal_checkpoint_bytes};

  std::atomic<bool> stopping_{false};
  mutable absl::Mutex mu_;
  grpc::ClientContext* stream_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string fatal_error_ ABSL_GUARDED_BY(mu_);
  absl::Mutex wake_mu_;
  Inbox* inbox_ ABSL_GUARDED_BY(wake_mu_) = nullptr;  // Follow's, while it runs
  std::thread thread_;
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_REPLICATOR_H_
