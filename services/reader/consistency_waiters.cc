#include "services/reader/consistency_waiters.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace arbiter::reader {

void ConsistencyWaiters::Add(int64_t offset, absl::Time deadline,
                             Callback done) {
  absl::Status now_status;
  {
    absl::MutexLock l(&mu_);
    if (!closed_.ok()) {
      now_status = closed_;
    } else if (offset <= applied_) {
      now_status = absl::OkStatus();
    } else {
      waiters_.emplace(offset, Waiter{deadline, std::move(done)});
      return;
    }
  }
  done(std::move(now_status));
}

void ConsistencyWaiters::Advance(int64_t applied) {
  std::vector<Callback> ready;
  {
    absl::MutexLock l(&mu_);
    if (applied > applied_) applied_ = applied;
    auto end = waiters_.upper_bound(applied_);
    for (auto it = waiters_.begin(); it != end; ++it) {
      ready.push_back(std::move(it->second.done));
    }
    waiters_.erase(waiters_.begin(), end);
  }
  for (auto& done : ready) done(absl::OkStatus());
}

void ConsistencyWaiters::Expire(absl::Time now) {
  std::vector<std::pair<Callback, absl::Status>> expired;
  {
    absl::MutexLock l(&mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline <= now) {
        expired.emplace_back(
            std::move(it->second.done),
            absl::DeadlineExceededError(absl::StrCat(
                "consistency wait: the replica did not reach offset ",
                it->first, " in time (it is at offset ", applied_, ")")));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [done, status] : expired) done(std::move(status));
}

void ConsistencyWaiters::FailAll(absl::Status status) {
  std::multimap<int64_t, Waiter> failed;
  {
    absl::MutexLock l(&mu_);
    closed_ = status;
    failed.swap(waiters_);
  }
  for (auto& [offset, w] : failed) w.done(status);
}

void ConsistencyWaiters::Reopen() {
  absl::MutexLock l(&mu_);
  closed_ = absl::OkStatus();
}

int64_t ConsistencyWaiters::applied() const {
  absl::MutexLock l(&mu_);
  return applied_;
}

size_t ConsistencyWaiters::size() const {
  absl::MutexLock l(&mu_);
  return waiters_.size();
}

}  // namespace arbiter::reader
