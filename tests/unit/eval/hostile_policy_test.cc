// Policies built to exhaust the evaluator (issue #11 items 1 and 2): chains
// of body literals that would overflow the thread's stack, `in` lists whose
// product is astronomically large, and evaluations stopped by a deadline or
// a cancellation. Each must end with a clear error, never a crash or a hang.

#include <pthread.h>

#include <string>

#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/polar/policy.h"
#include "tests/testing/hostile_policies.h"
#include "tests/unit/eval/test_programs.h"

namespace arbiter::eval {
namespace {

using arbiter::testing::ChainPolicy;
using arbiter::testing::InProductPolicy;
using arbiter::testing::kAllowTest;
using testing::Ent;
using testing::Str;

std::shared_ptr<const Engine> Build(const std::string& source, EngineOptions o = {}) {
  auto p = polar::CompilePolicy(source);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  auto e = Engine::Create(*std::move(p), o);
  REQUIRE(e.ok());
  return *e;
}

const Value alice = Ent("User", "alice");
const Value doc = Ent("Doc", "d");

std::shared_ptr<const FactIndex> NoFacts() {
  auto f = FactIndex::Create({});
  REQUIRE(f.ok());
  return *f;
}

TEST_CASE("a chain of 18000 nested body literals is RESOURCE_EXHAUSTED, not a stack overflow",
          "[unit][eval]") {
  auto e = Build(ChainPolicy(300, 60));
  auto facts = NoFacts();
  auto r = e->Authorize(*facts, alice, Str("a"), doc);
  REQUIRE(r.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("stack limit of 4096 KiB"));
  auto why = e->Explain(*facts, alice, Str("a"), doc);
  CHECK(why.status().code() == absl::StatusCode::kResourceExhausted);
  // The same policy, short enough: allowed.
  auto small = Build(ChainPolicy(20, 60));
  auto ok = small->Authorize(*facts, alice, Str("a"), doc);
  REQUIRE(ok.ok());
  CHECK(*ok);
}

// DESIGN.md 9.12: ten times the reported input, on the default stack of the
// thread that runs the test (also under ASan, whose frames are larger).
TEST_CASE("ten times the reported chain (180000 body literals) is RESOURCE_EXHAUSTED too",
          "[unit][eval]") {
  auto e = Build(ChainPolicy(3000, 60));
  auto facts = NoFacts();
  auto r = e->Authorize(*facts, alice, Str("a"), doc);
  REQUIRE(r.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("stack limit"));
}

TEST_CASE("policy tests of a too-deep policy fail with the limit, not a crash", "[unit][eval]") {
  auto p = polar::CompilePolicy(ChainPolicy(300, 60, kAllowTest));
  REQUIRE(p.ok());
  auto results = RunTests(*p);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 1);
  CHECK_FALSE((*results)[0].passed);
  REQUIRE_FALSE((*results)[0].failures.empty());
  CHECK_THAT((*results)[0].failures[0].message, Catch::Contains("stack limit"));
}

// On a thread with a small stack the limit shrinks to fit it.
TEST_CASE("the stack limit follows the thread's own stack", "[unit][eval]") {
  auto e = Build(ChainPolicy(300, 60));
  auto facts = NoFacts();
  struct Args {
    const Engine* e;
    const FactIndex* f;
    absl::Status status;
  } args{e.get(), facts.get(), absl::OkStatus()};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 << 10);
  pthread_t t;
  REQUIRE(pthread_create(
              &t, &attr,
              +[](void* p) -> void* {
                auto* a = static_cast<Args*>(p);
                a->status = a->e->Authorize(*a->f, alice, Str("a"), doc).status();
                return nullptr;
              },
              &args) == 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
  CHECK(args.status.code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(args.status.message()), Catch::Contains("stack limit of"));
}

TEST_CASE("every candidate of `in` is a step: a product of lists runs out of budget",
          "[unit][eval]") {
  auto e = Build(InProductPolicy());
  auto facts = NoFacts();
  const absl::Time start = absl::Now();
  auto r = e->Authorize(*facts, alice, Str("a"), doc);
  CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("step budget of 1000000"));
  CHECK(absl::Now() - start < absl::Seconds(30));  // hours before the fix
}

TEST_CASE("an evaluation stops at its deadline and on cancellation", "[unit][eval]") {
  // A budget the evaluation would need hours for: only the deadline stops it.
  auto e = Build(InProductPolicy(), EngineOptions{.step_budget = int64_t{1} << 60});
  auto facts = NoFacts();
  QueryOptions q;
  q.deadline = absl::Now() + absl::Milliseconds(50);
  const absl::Time start = absl::Now();
  auto r = e->Authorize(*facts, alice, Str("a"), doc, q);
  CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(absl::Now() - start < absl::Seconds(30));

  int polls = 0;
  QueryOptions c;
  c.cancelled = [&polls] { return ++polls >= 3; };
  auto r2 = e->Authorize(*facts, alice, Str("a"), doc, c);
  CHECK(r2.status().code() == absl::StatusCode::kCancelled);
  CHECK(polls == 3);

  // A deadline in the past stops a long evaluation at its first poll, and
  // leaves a short one alone (it never reaches 4,096 steps).
  auto small = Build("allow(_a, _b, _c) if x in [1, 2, 3] and x = 3;");
  QueryOptions past;
  past.deadline = absl::Now() - absl::Seconds(1);
  auto ok = small->Authorize(*facts, alice, Str("a"), doc, past);
  REQUIRE(ok.ok());
  CHECK(*ok);
}

}  // namespace
}  // namespace arbiter::eval
