#include "services/reader/consistency_waiters.h"

#include <memory>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

namespace arbiter::reader {
namespace {

// A view where every tenant is at `offset`, and tenant "slow" (if given) at
// `slow`.
std::shared_ptr<const ReplicaView> ViewAt(int64_t offset, std::optional<int64_t> slow = {}) {
  auto v = std::make_shared<ReplicaView>();
  v->applied_offset = slow.value_or(offset);
  auto map = std::make_shared<TenantMap>();
  TenantView t;
  t.snapshot = std::make_shared<TenantSnapshot>();
  t.complete_offset = offset;
  (*map)["t"] = t;
  if (slow.has_value()) {
    t.complete_offset = *slow;
    (*map)["slow"] = t;
  }
  v->tenants = std::move(map);
  return v;
}

struct Recorder {
  std::vector<std::pair<int, absl::StatusCode>> done;
  ConsistencyWaiters::Callback For(int id) {
    return [this, id](absl::Status s) { done.emplace_back(id, s.code()); };
  }
};

TEST_CASE("waiters complete in offset order when the replica reaches them",
          "[unit][reader]") {
  ConsistencyWaiters w;
  Recorder r;
  const absl::Time far = absl::Now() + absl::Hours(1);
  w.Add("t", 10, far, r.For(1));
  w.Add("t", 5, far, r.For(2));
  w.Add("t", 20, far, r.For(3));
  CHECK(w.size() == 3);
  w.Advance(ViewAt(9));
  REQUIRE(r.done.size() == 1);
  CHECK(r.done[0] == std::make_pair(2, absl::StatusCode::kOk));
  w.Advance(ViewAt(20));
  REQUIRE(r.done.size() == 3);
  CHECK(r.done[1].first == 1);
  CHECK(r.done[2].first == 3);
  CHECK(w.size() == 0);
  // Already reached: completes at once, on the caller's thread.
  w.Add("t", 15, far, r.For(4));
  REQUIRE(r.done.size() == 4);
  CHECK(r.done[3] == std::make_pair(4, absl::StatusCode::kOk));
}

TEST_CASE("waiters follow their own tenant's offset", "[unit][reader]") {
  ConsistencyWaiters w;
  Recorder r;
  const absl::Time far = absl::Now() + absl::Hours(1);
  w.Add("t", 30, far, r.For(1));
  w.Add("slow", 30, far, r.For(2));
  w.Add("absent", 30, far, r.For(3));  // a tenant the host does not have yet
  // "t" is complete through 40, "slow" (lagging) through 10; an absent
  // tenant follows the host's applied offset (10).
  w.Advance(ViewAt(40, 10));
  REQUIRE(r.done.size() == 1);
  CHECK(r.done[0].first == 1);
  w.Advance(ViewAt(50, 35));
  REQUIRE(r.done.size() == 3);
  CHECK(w.size() == 0);
  CHECK(w.NextDeadline() == std::nullopt);
}

TEST_CASE("waiters past their deadline get DEADLINE_EXCEEDED", "[unit][reader]") {
  ConsistencyWaiters w;
  Recorder r;
  const absl::Time t0 = absl::Now();
  w.Add("t", 10, t0 + absl::Milliseconds(100), r.For(1));
  w.Add("t", 10, t0 + absl::Seconds(10), r.For(2));
  CHECK(w.NextDeadline() == t0 + absl::Milliseconds(100));
  w.Expire(t0 + absl::Milliseconds(50));
  CHECK(r.done.empty());
  w.Expire(t0 + absl::Milliseconds(100));
  REQUIRE(r.done.size() == 1);
  CHECK(r.done[0] == std::make_pair(1, absl::StatusCode::kDeadlineExceeded));
  CHECK(w.size() == 1);
}

TEST_CASE("FailAll completes every waiter and refuses new ones until Reopen",
          "[unit][reader]") {
  ConsistencyWaiters w;
  Recorder r;
  const absl::Time far = absl::Now() + absl::Hours(1);
  w.Add("t", 10, far, r.For(1));
  w.Add("t", 11, far, r.For(2));
  w.FailAll(absl::UnavailableError("draining"));
  REQUIRE(r.done.size() == 2);
  CHECK(r.done[0].second == absl::StatusCode::kUnavailable);
  CHECK(r.done[1].second == absl::StatusCode::kUnavailable);
  w.Add("t", 1, far, r.For(3));  // even a reached offset: closed
  REQUIRE(r.done.size() == 3);
  CHECK(r.done[2].second == absl::StatusCode::kUnavailable);
  w.Reopen();
  w.Add("t", 12, far, r.For(4));
  CHECK(w.size() == 1);
}

}  // namespace
}  // namespace arbiter::reader
