#ifndef ARBITER_SERVICES_READER_CONSISTENCY_WAITERS_H_
#define ARBITER_SERVICES_READER_CONSISTENCY_WAITERS_H_

// Requests waiting for the replica to reach an offset (Consistency.at_least,
// fully_consistent, later list pages), without a thread per waiting request
// (DESIGN.md §8.7): a waiter is a callback registered under its offset; the
// ReplicaWatcher's poller completes it when it publishes a view at or past
// that offset, or when its deadline passes.
//
// Callbacks run on the thread that completes them (the poller, or the caller
// of Add when the offset is already reached) and outside the lock; they must
// be short (the reader posts the evaluation to a worker queue).
//
// Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace arbiter::reader {

class ConsistencyWaiters {
 public:
  // Receives OK when the offset was reached (a view at or past it is
  // published), DEADLINE_EXCEEDED when the deadline passed first, or the
  // status given to FailAll (UNAVAILABLE at the end of a drain's grace).
  using Callback = std::function<void(absl::Status)>;

  ConsistencyWaiters() = default;
  ConsistencyWaiters(const ConsistencyWaiters&) = delete;
  ConsistencyWaiters& operator=(const ConsistencyWaiters&) = delete;

  // Registers `done` for `offset`. Calls it at once (OK) if `offset` was
  // already reached. While closed (after FailAll, before Reopen) calls it at
  // once with the closing status.
  void Add(int64_t offset, absl::Time deadline, Callback done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Records that the replica reached `applied` (a view at it is published)
  // and completes every waiter at or below it with OK.
  void Advance(int64_t applied) ABSL_LOCKS_EXCLUDED(mu_);

  // Completes every waiter whose deadline is <= now with DEADLINE_EXCEEDED.
  void Expire(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Completes every waiter with `status` and refuses new ones with it until
  // Reopen(). REQUIRES: !status.ok().
  void FailAll(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  void Reopen() ABSL_LOCKS_EXCLUDED(mu_);

  int64_t applied() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    absl::Time deadline;
    Callback done;
  };

  mutable absl::Mutex mu_;
  int64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
  std::multimap<int64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_CONSISTENCY_WAITERS_H_
