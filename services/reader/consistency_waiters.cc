#include "services/reader/consistency_waiters.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace arbiter::reader {

int64_t ConsistencyWaiters::Reached(const std::string& tenant) const {
  return view_ == nullptr ? 0 : view_->TenantOffset(tenant);
}

void ConsistencyWaiters::Add(const std::string& tenant, int64_t offset,
                             absl::Time deadline, Callback done) {
  absl::Status now_status;
  {
    absl::MutexLock l(&mu_);
    if (!closed_.ok()) {
      now_status = closed_;
    } else if (offset <= Reached(tenant)) {
      now_status = absl::OkStatus();
    } else {
      waiters_.emplace(offset, Waiter{tenant, deadline, std::move(done)});
      return;
    }
  }
  done(std::move(now_status));
}

void ConsistencyWaiters::Advance(std::shared_ptr<const ReplicaView> view) {
  std::vector<Callback> ready;
  {
    absl::MutexLock l(&mu_);
    view_ = std::move(view);
    // No tenant is complete past the highest offset any of them reached.
    int64_t top = view_->applied_offset;
    if (view_->tenants != nullptr) {
      for (const auto& [name, t] : *view_->tenants) top = std::max(top, t.complete_offset);
    }
    auto end = waiters_.upper_bound(top);
    for (auto it = waiters_.begin(); it != end;) {
      if (it->first <= Reached(it->second.tenant)) {
        ready.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
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
                "consistency wait: the replica did not reach offset ", it->first,
                " in time (it is at offset ", Reached(it->second.tenant), ")")));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [done, status] : expired) done(std::move(status));
}

std::optional<absl::Time> ConsistencyWaiters::NextDeadline() const {
  absl::MutexLock l(&mu_);
  std::optional<absl::Time> next;
  for (const auto& [offset, w] : waiters_) {
    if (!next.has_value() || w.deadline < *next) next = w.deadline;
  }
  return next;
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

size_t ConsistencyWaiters::size() const {
  absl::MutexLock l(&mu_);
  return waiters_.size();
}

}  // namespace arbiter::reader
