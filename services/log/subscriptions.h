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
//     which the store advances after the fsync;
//   * memory is bounded across streams, not only per stream: at most
//     max_subscribers streams (more are refused with RESOURCE_EXHAUSTED),
//     and the entries buffered by all of them together stay under
//     max_total_buffer_bytes. A stream that would read past it first cuts
//     the stalest stream (the one whose pending write has waited longest,
//     at least a second) with RESOURCE_EXHAUSTED, then reads only what
//     fits (one entry at least).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
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
  size_t max_total_buffer_bytes = 256 << 20;  // --subscribers_max_buffer_bytes
  size_t max_subscribers = 1000;              // --max_subscribers
  // Whether the head this process knows was confirmed by the store recently
  // (DESIGN.md §9.2, --head_confirm_interval); while it returns false no
  // message (entry or heartbeat, both carry the head) is sent, so the hosts
  // of a front-end cut off from the store go stale and fail closed. Empty:
  // always confirmed (the embedded store).
  std::function<bool()> head_confirmed;
};

class Subscriber;

// Thread-safe.
class SubscriptionHub {
 public:
  SubscriptionHub(logstore::LogStore* store, SubscriptionOptions options);
  ~SubscriptionHub();

  // Whether a stream's caller may still follow the log (its API key is
  // live); asked by the ticker thread at every tick. Empty: always.
  using StillAllowed = std::function<absl::Status()>;

  // The Subscribe handler. A stream ends with what `still_allowed` returns
  // once it is not OK (DESIGN.md 9.7: a stream ends when its key is revoked).
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest* request,
      StillAllowed still_allowed = {});

  // A new durable head (called by the sequencer after each commit).
  void OnHead(uint64_t head) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every stream with UNAVAILABLE (at shutdown) and refuses new ones.
  void FinishAll() ABSL_LOCKS_EXCLUDED(mu_);
  // FinishAll, then stops the threads. Idempotent.
  void Stop();

  size_t active() const ABSL_LOCKS_EXCLUDED(mu_);
  // Bytes of entries buffered by every stream together.
  size_t buffered_bytes() const { return buffered_.load(); }

 private:
  friend class Subscriber;
  void Schedule(std::shared_ptr<Subscriber> s) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(Subscriber* s) ABSL_LOCKS_EXCLUDED(mu_);
  void PumpLoop();
  void TickLoop();
  // A stream whose pending write has waited a second or more, holding
  // `bytes` of buffered entries: one the pump may cut to make room for
  // others when the buffers are over --subscribers_max_buffer_bytes.
  struct StaleStream {
    std::shared_ptr<Subscriber> subscriber;
    absl::Duration stalled;
    size_t bytes;
  };
  // Pump thread: the stale streams, stalest last.
  std::vector<StaleStream> StaleStreams() ABSL_LOCKS_EXCLUDED(mu_);
  // Pump thread: ends `s` with RESOURCE_EXHAUSTED, freeing its buffer.
  void Cut(const StaleStream& s);

  logstore::LogStore* const store_;
  const SubscriptionOptions options_;

  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Subscriber>> scheduled_ ABSL_GUARDED_BY(mu_);
  uint64_t head_seen_ ABSL_GUARDED_BY(mu_) = 0;  // head the pump last handled
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<size_t> buffered_{0};  // the sum of every Subscriber's bytes_

  std::thread pump_;
  std::thread ticker_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_SUBSCRIPTIONS_H_
