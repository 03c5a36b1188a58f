#include "services/reader/consistency_waiters.h"

#include <vector>

#include <catch2/catch.hpp>

namespace arbiter::reader {
namespace {

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
  w.Add(10, far, r.For(1));
  w.Add(5, far, r.For(2));
  w.Add(20, far, r.For(3));
  CHECK(w.size() == 3);
  w.Advance(9);
  REQUIRE(r.done.size() == 1);
  CHECK(r.done[0] == std::make_pair(2, absl::StatusCode::kOk));
  w.Advance(20);
  REQUIRE(r.done.size() == 3);
  CHECK(r.done[1].first == 1);
  CHECK(r.done[2].first == 3);
  CHECK(w.size() == 0);
  // Already reached: completes at once, on the caller's thread.
  w.Add(15, far, r.For(4));
  REQUIRE(r.done.size() == 4);
  CHECK(r.done[3] == std::make_pair(4, absl::StatusCode::kOk));
  // Advance never goes back.
  w.Advance(3);
  CHECK(w.applied() == 20);
}

TEST_CASE("waiters past their deadline get DEADLINE_EXCEEDED", "[unit][reader]") {
  ConsistencyWaiters w;
  Recorder r;
  const absl::Time t0 = absl::Now();
  w.Add(10, t0 + absl::Milliseconds(100), r.For(1));
  w.Add(10, t0 + absl::Seconds(10), r.For(2));
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
  w.Add(10, far, r.For(1));
  w.Add(11, far, r.For(2));
  w.FailAll(absl::UnavailableError("draining"));
  REQUIRE(r.done.size() == 2);
  CHECK(r.done[0].second == absl::StatusCode::kUnavailable);
  CHECK(r.done[1].second == absl::StatusCode::kUnavailable);
  w.Add(1, far, r.For(3));  // even a reached offset: closed
  REQUIRE(r.done.size() == 3);
  CHECK(r.done[2].second == absl::StatusCode::kUnavailable);
  w.Reopen();
  w.Add(12, far, r.For(4));
  CHECK(w.size() == 1);
}

}  // namespace
}  // namespace arbiter::reader
