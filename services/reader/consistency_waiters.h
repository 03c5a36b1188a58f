#ifndef ARBITER_SERVICES_READER_CONSISTENCY_WAITERS_H_
#define ARBITER_SERVICES_READER_CONSISTENCY_WAITERS_H_

// Requests waiting for the replica to reach an offset (Consistency.at_least,
// fully_consistent, later list pages), without a thread per waiting request
// (DESIGN.md §8.7): a waiter is a callback registered under its tenant and
// offset; the ReplicaWatcher's poller completes it when it publishes a view
// whose TenantOffset(tenant) is at or past that offset (DESIGN.md §9.6:
// tenants advance on their own), or when its deadline passes.
//
// Callbacks run on the thread that completes them (the poller, or the caller
// of Add when the offset is already reached) and outside the lock; they must
// be short (the reader posts the evaluation to a worker queue).
//
// Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/reader/replica_view.h"

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

  // Registers `done` for `offset` of `tenant`. Calls it at once (OK) if the
  // newest view already reached it. While closed (after FailAll, before
  // Reopen) calls it at once with the closing status.
  void Add(const std::string& tenant, int64_t offset, absl::Time deadline,
           Callback done) ABSL_LOCKS_EXCLUDED(mu_);

  // Records the newly published `view` and completes, with OK, every waiter
  // it satisfies.
  void Advance(std::shared_ptr<const ReplicaView> view) ABSL_LOCKS_EXCLUDED(mu_);

  // Completes every waiter whose deadline is <= now with DEADLINE_EXCEEDED.
  void Expire(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Completes every waiter with `status` and refuses new ones with it until
  // Reopen(). REQUIRES: !status.ok().
  void FailAll(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  void Reopen() ABSL_LOCKS_EXCLUDED(mu_);

  // The earliest deadline of a waiter (the poller wakes up for it).
  std::optional<absl::Time> NextDeadline() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    std::string tenant;
    absl::Time deadline;
    Callback done;
  };
  int64_t Reached(const std::string& tenant) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::shared_ptr<const ReplicaView> view_ ABSL_GUARDED_BY(mu_);
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
  std::multimap<int64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_CONSISTENCY_WAITERS_H_
