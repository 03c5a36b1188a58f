#ifndef ARBITER_SERVICES_LOG_SUBSCRIPTIONS_H_
#define ARBITER_SERVICES_LOG_SUBSCRIPTIONS_H_

// Subscribe streams (DESIGN.md §8.3, §8.10) on the gRPC callback API, with
// no thread per subscriber:
//
//   * pull-based: a subscriber's next chunk (<= max_buffer_entries /
//     max_buffer_bytes, one short read transaction) is read from the store
//     only when its buffer is empty and its previous write completed, so a
//     slow subscriber costs at most one bounded buffer and never blocks the
//     sequencer or other subscribers;
//   * store reads happen on one pump thread; the sequencer only bumps the
//     durable head (OnHead), which wakes the pump within microseconds;
//   * a ticker thread sends a heartbeat to every subscriber whose last
//     message is older than heartbeat_interval and that has no write in
//     flight, and cancels (RESOURCE_EXHAUSTED) a subscriber whose pending
//     write has not completed within stall_timeout;
//   * only durable entries are streamed: reads stop at the store's head,
//     which the store advances after the fsync.

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "common/logstore/log_store.h"

namespace arbiter::log {

struct SubscriptionOptions {
  absl::Duration heartbeat_interval = absl::Milliseconds(250);
  absl::Duration stall_timeout = absl::Seconds(30);
  // After a stalled subscriber was finished with RESOURCE_EXHAUSTED, how long
  // its status may wait behind the stalled write before the call is
  // cancelled outright (freeing its buffer). arbiter-log uses the stall
  // timeout.
  absl::Duration cancel_grace = absl::Seconds(30);
  size_t max_buffer_entries = 1000;
  size_t max_buffer_bytes = 4 << 20;
};

class Subscriber;

// Thread-safe.
class SubscriptionHub {
 public:
  SubscriptionHub(logstore::LogStore* store, SubscriptionOptions options);
  ~SubscriptionHub();

  // The Subscribe handler.
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest* request);

  // A new durable head (called by the sequencer after each commit).
  void OnHead(uint64_t head) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every stream with UNAVAILABLE (at shutdown) and refuses new ones.
  void FinishAll() ABSL_LOCKS_EXCLUDED(mu_);
  // FinishAll, then stops the threads. Idempotent.
  void Stop();

  size_t active() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class Subscriber;
  void Schedule(std::shared_ptr<Subscriber> s) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(Subscriber* s) ABSL_LOCKS_EXCLUDED(mu_);
  void PumpLoop();
  void TickLoop();

  logstore::LogStore* const store_;
  const SubscriptionOptions options_;

  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Subscriber>> scheduled_ ABSL_GUARDED_BY(mu_);
  uint64_t head_seen_ ABSL_GUARDED_BY(mu_) = 0;  // head the pump last handled
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;

  std::thread pump_;
  std::thread ticker_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_SUBSCRIPTIONS_H_
