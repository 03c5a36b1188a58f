#include "services/log/subscriptions.h"

#include <pthread.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/grpc_status.h"
#include "glog/logging.h"

namespace arbiter::log {

// One Subscribe stream. Its mutex is held while StartWrite / Finish are
// called: gRPC never runs a server reaction inline inside them, and holding
// it guarantees that no write starts after Finish.
class Subscriber : public grpc::ServerWriteReactor<v1::SubscribeResponse>,
                   public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(SubscriptionHub* hub, grpc::CallbackServerContext* ctx,
             uint64_t next_offset, SubscriptionHub::StillAllowed still_allowed)
      : hub_(hub), ctx_(ctx), still_allowed_(std::move(still_allowed)),
        next_offset_(next_offset) {}

  // Pump thread: if idle and behind the head, read the next chunk and send.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    if (finished_ || writing_) return;
    logstore::LogStore* store = hub_->store_;
    if (buffer_.empty() && next_offset_ <= store->Head()) {
      const SubscriptionOptions& o = hub_->options_;
      const size_t total = hub_->buffered_.load();
      const size_t room = total < o.max_total_buffer_bytes ? o.max_total_buffer_bytes - total : 0;
      absl::StatusOr<size_t> n = store->Read(
          next_offset_,
          {.max_entries = o.max_buffer_entries,
           .max_bytes = std::max<size_t>(1, std::min(o.max_buffer_bytes, room))},
          [&](v1::LogEntry&& e) {
            mu_.AssertHeld();
            const size_t b = e.ByteSizeLong();
            bytes_ += b;
            hub_->buffered_ += b;
            next_offset_ = e.offset() + 1;
            buffer_.push_back(std::move(e));
            return true;
          });
      if (!n.ok()) {
        FinishLocked(server::ToGrpcStatus(n.status()));
        return;
      }
    }
    MaybeSendLocked(absl::Now());
  }

  // How long its pending write has waited (zero without one): how stale it
  // is, for SubscriptionHub::StaleStreams.
  absl::Duration Stalled(absl::Time now, size_t* bytes) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    *bytes = bytes_;
    return finished_ || !writing_ ? absl::ZeroDuration() : now - write_started_;
  }

  // Ticker thread: heartbeats and the stall timeout.
  void Tick(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    const SubscriptionOptions& o = hub_->options_;
    if (finished_) {
      if (writing_ && !cancelled_ && now - finished_at_ > o.cancel_grace) {
        // Its status is stuck behind the stalled write: cancel the call to
        // free it. Under mu_ on purpose: writing_ is set, so OnWriteDone
        // (which needs mu_) and hence OnDone cannot have run, and ctx_ is
        // alive; gRPC runs OnCancel on its own threads, never inline.
        LOG(WARNING) << "cancelling stalled subscriber " << ctx_->peer();
        cancelled_ = true;
        ctx_->TryCancel();
      }
      return;
    }
    if (still_allowed_) {
      if (absl::Status allowed = still_allowed_(); !allowed.ok()) {
        FinishLocked(server::ToGrpcStatus(allowed));
        return;
      }
    }
    if (writing_) {
      if (now - write_started_ > o.stall_timeout) {
        LOG(WARNING) << "subscriber " << ctx_->peer() << " stalled for "
                     << absl::FormatDuration(now - write_started_)
                     << " with " << buffer_.size() << " entries buffered: cancelling";
        FinishLocked(grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat("subscriber did not read for ",
                         absl::FormatDuration(o.stall_timeout),
                         ": its server-side buffer (", buffer_.size(),
                         " entries) is full; resubscribe from offset ",
                         buffer_.empty() ? next_offset_ : buffer_.front().offset())));
      }
      return;
    }
    MaybeSendLocked(now);
  }

  void FinishWith(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    FinishLocked(std::move(status));
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    bool schedule = false;
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
        return;
      }
      if (!MaybeSendLocked(absl::Now()) && !finished_) schedule = true;
    }
    if (schedule) hub_->Schedule(shared_from_this());
  }

  void OnCancel() override {
    FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override { hub_->Remove(this); }

 private:
  // Starts the next write: a heartbeat if one is due, else the next
  // buffered entry. False if nothing was started.
  bool MaybeSendLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return false;
    const bool heartbeat_due = now - last_sent_ >= hub_->options_.heartbeat_interval;
    if (!heartbeat_due && buffer_.empty()) return false;
    if (hub_->options_.head_confirmed && !hub_->options_.head_confirmed()) return false;
    const logstore::LogStore* store = hub_->store_;
    msg_.Clear();
    msg_.set_cluster_id(store->identity().cluster_id);
    msg_.set_epoch(store->identity().epoch);
    msg_.set_durable_head(store->Head());
    if (heartbeat_due) {
      msg_.mutable_heartbeat()->set_server_time_unix_ms(absl::ToUnixMillis(now));
    } else {
      const size_t b = buffer_.front().ByteSizeLong();
      bytes_ -= b;
      hub_->buffered_ -= b;
      *msg_.mutable_entry() = std::move(buffer_.front());
      buffer_.pop_front();
    }
    writing_ = true;
    write_started_ = now;
    last_sent_ = now;
    StartWrite(&msg_);
    return true;
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    finished_at_ = absl::Now();
    buffer_.clear();
    hub_->buffered_ -= bytes_;
    bytes_ = 0;
    Finish(std::move(status));
  }

  SubscriptionHub* const hub_;
  grpc::CallbackServerContext* const ctx_;
  const SubscriptionHub::StillAllowed still_allowed_;

  absl::Mutex mu_;
  uint64_t next_offset_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::LogEntry> buffer_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of the entries in buffer_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time finished_at_ ABSL_GUARDED_BY(mu_);
  v1::SubscribeResponse msg_ ABSL_GUARDED_BY(mu_);
};

SubscriptionHub::SubscriptionHub(logstore::LogStore* store, SubscriptionOptions options)
    : store_(store), options_(options) {
  {
    absl::MutexLock l(&mu_);
    head_ = head_seen_ = store->Head();
  }
  pump_ = std::thread([this] { PumpLoop(); });
  ticker_ = std::thread([this] { TickLoop(); });
}

SubscriptionHub::~SubscriptionHub() { Stop(); }

grpc::ServerWriteReactor<v1::SubscribeResponse>* SubscriptionHub::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request,
    StillAllowed still_allowed) {
  const auto& id = store_->identity();
  if (!request->expected_cluster_id().empty() &&
      request->expected_cluster_id() != id.cluster_id) {
    return new server::FailedStream<v1::SubscribeResponse>(absl::FailedPreconditionError(
        absl::StrCat("expected cluster \"", request->expected_cluster_id(),
                     "\" but this log is cluster \"", id.cluster_id, "\"")));
  }
  uint64_t from = std::max<uint64_t>(request->from_offset(), 1);
  if (from < store_->OldestRetained()) {
    return new server::FailedStream<v1::SubscribeResponse>(absl::OutOfRangeError(
        absl::StrCat("offset ", from,
                     " was truncated; the oldest retained offset is ",
                     store_->OldestRetained(), " (restore from a snapshot)")));
  }
  auto sub = std::make_shared<Subscriber>(this, context, from, std::move(still_allowed));
  {
    absl::MutexLock l(&mu_);
    if (closed_) {
      return new server::FailedStream<v1::SubscribeResponse>(
          absl::UnavailableError("the log is shutting down"));
    }
    if (subscribers_.size() >= options_.max_subscribers) {
      return new server::FailedStream<v1::SubscribeResponse>(absl::ResourceExhaustedError(
          absl::StrCat("the log already serves ", subscribers_.size(),
                       " Subscribe streams (--max_subscribers); retry later")));
    }
    subscribers_.insert(sub);
    scheduled_.push_back(sub);
  }
  return sub.get();
}

void SubscriptionHub::OnHead(uint64_t head) {
  absl::MutexLock l(&mu_);
  head_ = std::max(head_, head);
}

void SubscriptionHub::Schedule(std::shared_ptr<Subscriber> s) {
  absl::MutexLock l(&mu_);
  scheduled_.push_back(std::move(s));
}

void SubscriptionHub::Remove(Subscriber* s) {
  std::shared_ptr<Subscriber> keep;  // destroyed outside the lock
  absl::MutexLock l(&mu_);
  for (auto it = subscribers_.begin(); it != subscribers_.end(); ++it) {
    if (it->get() == s) {
      keep = *it;
      subscribers_.erase(it);
      break;
    }
  }
}

size_t SubscriptionHub::active() const {
  absl::MutexLock l(&mu_);
  return subscribers_.size();
}

void SubscriptionHub::FinishAll() {
  std::vector<std::shared_ptr<Subscriber>> all;
  {
    absl::MutexLock l(&mu_);
    closed_ = true;
    all.assign(subscribers_.begin(), subscribers_.end());
  }
  for (auto& s : all) {
    s->FinishWith(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the log is shutting down"));
  }
}

void SubscriptionHub::Stop() {
  FinishAll();
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (pump_.joinable()) pump_.join();
  if (ticker_.joinable()) ticker_.join();
}

void SubscriptionHub::PumpLoop() {
  pthread_setname_np(pthread_self(), "log-sub-pump");
  while (true) {
    std::vector<std::shared_ptr<Subscriber>> work;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || !scheduled_.empty() || head_ != head_seen_;
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      if (head_ != head_seen_) {
        head_seen_ = head_;
        work.assign(subscribers_.begin(), subscribers_.end());
        scheduled_.clear();
      } else {
        work.assign(scheduled_.begin(), scheduled_.end());
        scheduled_.clear();
      }
    }
    // Streams to cut when the buffers are full, stalest last: looked up
    // once per round, the first time one is needed.
    std::optional<std::vector<StaleStream>> stale;
    for (auto& s : work) {
      if (buffered_.load() + options_.max_buffer_bytes > options_.max_total_buffer_bytes) {
        if (!stale.has_value()) stale = StaleStreams();
        if (!stale->empty()) {
          Cut(stale->back());
          stale->pop_back();
        }
      }
      s->Pump();
    }
  }
}

std::vector<SubscriptionHub::StaleStream> SubscriptionHub::StaleStreams() {
  std::vector<std::shared_ptr<Subscriber>> all;
  {
    absl::MutexLock l(&mu_);
    all.assign(subscribers_.begin(), subscribers_.end());
  }
  const absl::Time now = absl::Now();
  std::vector<StaleStream> stale;
  for (auto& s : all) {
    size_t bytes = 0;
    const absl::Duration stalled = s->Stalled(now, &bytes);
    // Younger writes are just in flight.
    if (bytes > 0 && stalled >= absl::Seconds(1)) stale.push_back({s, stalled, bytes});
  }
  std::sort(stale.begin(), stale.end(),
            [](const StaleStream& a, const StaleStream& b) { return a.stalled < b.stalled; });
  return stale;
}

void SubscriptionHub::Cut(const StaleStream& s) {
  LOG(WARNING) << "subscriber buffers at " << buffered_.load()
               << " bytes (--subscribers_max_buffer_bytes " << options_.max_total_buffer_bytes
               << "): cutting the stalest stream (" << s.bytes << " bytes, write pending for "
               << absl::FormatDuration(s.stalled) << ")";
  s.subscriber->FinishWith(grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat("this stream read nothing for ", absl::FormatDuration(s.stalled),
                   " while the log's subscriber buffers were full "
                   "(--subscribers_max_buffer_bytes); resubscribe")));
}

void SubscriptionHub::TickLoop() {
  pthread_setname_np(pthread_self(), "log-sub-ticker");
  const absl::Duration period =
      std::min(absl::Milliseconds(50), options_.heartbeat_interval / 5);
  while (true) {
    std::vector<std::shared_ptr<Subscriber>> all;
    {
      absl::MutexLock l(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
      all.assign(subscribers_.begin(), subscribers_.end());
    }
    absl::Time now = absl::Now();
    for (auto& s : all) s->Tick(now);
  }
}

}  // namespace arbiter::log
