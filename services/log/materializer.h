#ifndef ARBITER_SERVICES_LOG_MATERIALIZER_H_
#define ARBITER_SERVICES_LOG_MATERIALIZER_H_

// The log's own materialized copy of every tenant (DESIGN.md §1), off the
// acknowledgement path: a thread tails the store and applies durable entries
// with replica::Applier (the writer's apply code) to the replica directory
// <state_dir> (replica::ReplicaDir), recording its global applied offset in
// its replica::AppliedOffsetDb after each batch. Used for the SetPolicy
// stored-fact check and for snapshots.

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/logstore/log_store.h"
#include "common/polar/program.h"
#include "common/replica/applied_offset_db.h"
#include "common/replica/applier.h"
#include "common/replica/replica_dir.h"
#include "services/log/sequencer.h"

namespace arbiter::log {

struct MaterializerOptions {
  std::string state_dir;
  std::string cluster_id;
  size_t batch_entries = 1000;
};

// Thread-safe.
class Materializer {
 public:
  static absl::StatusOr<std::unique_ptr<Materializer>> Start(
      logstore::LogStore* store, MaterializerOptions options);
  ~Materializer();
  void Stop();

  // A new durable head: wake the thread (cheap; any thread).
  void Notify() ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t applied() const ABSL_LOCKS_EXCLUDED(mu_);
  // What this process applied since it started (entries, facts changed,
  // payload bytes): the snapshotter's size triggers.
  replica::ApplyTotals totals() const ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until every entry up to `offset` is applied. DEADLINE_EXCEEDED
  // after `timeout`; the last apply error if applying is stuck.
  absl::Status WaitApplied(uint64_t offset, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `fn(applied offset)` while the applier is paused between batches.
  absl::Status Paused(absl::FunctionRef<absl::Status(uint64_t applied)> fn)
      ABSL_LOCKS_EXCLUDED(apply_mu_);

  // Every stored fact of `tenant` (as of the applied offset) that does not
  // fit `program`. REQUIRES: the caller waited for the offset it needs.
  absl::StatusOr<NonFittingFacts> CheckFacts(const std::string& tenant,
                                             const polar::Program& program);

  // The materialized state: <state_dir>.
  const replica::ReplicaDir& dir() const { return dir_; }

 private:
  Materializer(logstore::LogStore* store, MaterializerOptions options)
      : store_(store), options_(std::move(options)), dir_(options_.state_dir) {}
  void Run();
  absl::Status ApplyOnce(bool* progressed);

  logstore::LogStore* const store_;
  const MaterializerOptions options_;
  const replica::ReplicaDir dir_;
  std::unique_ptr<replica::Applier> applier_;             // materializer thread only
  std::unique_ptr<replica::AppliedOffsetDb> applied_db_;  // materializer thread only

  absl::Mutex apply_mu_;  // held while a batch is applied

  mutable absl::Mutex mu_;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  replica::ApplyTotals totals_ ABSL_GUARDED_BY(mu_);
  uint64_t wakeups_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_MATERIALIZER_H_
