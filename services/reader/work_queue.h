#ifndef ARBITER_SERVICES_READER_WORK_QUEUE_H_
#define ARBITER_SERVICES_READER_WORK_QUEUE_H_

// A fixed pool of worker threads running queued closures in FIFO order: where
// the reader evaluates requests that are not bounded sub-millisecond work
// (List, Query, GetFacts, Explain, AuthorizeResources) and requests released
// by a consistency wait, so gRPC's callback threads and the poller never run
// them.
//
// Thread-safe.

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace arbiter::reader {

class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  // Runs what is queued, then joins.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Post(std::function<void()> fn) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs what is queued, then joins. Idempotent; Post after Stop runs the
  // closure inline.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_WORK_QUEUE_H_
