#include "services/reader/freshness_gate.h"

#include <catch2/catch.hpp>

#include "common/storage/boot_clock.h"

namespace arbiter::reader {
namespace {

using storage::BootTime;
using storage::FakeBootClock;

ReplicaView LiveView(BootTime fresh) {
  ReplicaView v;
  v.generation = 1;
  v.cluster_id = "c";
  v.replication_state = storage::ReplicationState::kLive;
  v.fresh_as_of = std::move(fresh);
  v.tenants = std::make_shared<TenantMap>();
  return v;
}

TEST_CASE("gate serves a live, fresh replica and reports its staleness",
          "[unit][reader]") {
  FakeBootClock clock("boot-a", 1'000'000'000);
  FreshnessGate gate(absl::Milliseconds(500), &clock);
  ReplicaView v = LiveView({"boot-a", 1'000'000'000});
  auto s = gate.Admit(v);
  REQUIRE(s.ok());
  CHECK(*s == absl::ZeroDuration());
  clock.Advance(absl::Milliseconds(500));
  s = gate.Admit(v);
  REQUIRE(s.ok());
  CHECK(*s == absl::Milliseconds(500));
  CHECK(gate.ShouldServe(v, clock.Now()));
}

TEST_CASE("gate refuses a stale replica and says by how much", "[unit][reader]") {
  FakeBootClock clock("boot-a", 0);
  FreshnessGate gate(absl::Milliseconds(500), &clock);
  ReplicaView v = LiveView({"boot-a", 0});
  clock.Advance(absl::Milliseconds(812));
  auto s = gate.Admit(v);
  REQUIRE(absl::IsUnavailable(s.status()));
  CHECK(s.status().message() == "replica stale by 812 ms (max 500 ms)");
  CHECK_FALSE(gate.ShouldServe(v, clock.Now()));
  // Fresh again (a new heartbeat) -> serving again by itself.
  v.fresh_as_of = clock.Now();
  CHECK(gate.Admit(v).ok());
}

TEST_CASE("gate: another boot, an empty stamp or a future stamp is stale",
          "[unit][reader]") {
  FakeBootClock clock("boot-b", 5'000'000'000);
  FreshnessGate gate(absl::Seconds(2), &clock);
  CHECK(absl::IsUnavailable(gate.Admit(LiveView({"boot-a", 5'000'000'000})).status()));
  CHECK(absl::IsUnavailable(gate.Admit(LiveView({"", 5'000'000'000})).status()));
  auto future = gate.Admit(LiveView({"boot-b", 6'000'000'000}));
  CHECK(absl::IsUnavailable(future.status()));
  CHECK_THAT(std::string(future.status().message()), Catch::Contains("future"));
}

TEST_CASE("gate refuses a writer that is not live, naming its state",
          "[unit][reader]") {
  FakeBootClock clock("boot-a", 0);
  FreshnessGate gate(absl::Seconds(2), &clock);
  ReplicaView v = LiveView({"boot-a", 0});
  v.replication_state = storage::ReplicationState::kReplaying;
  auto s = gate.Admit(v);
  CHECK(absl::IsUnavailable(s.status()));
  CHECK(s.status().message() == "writer not live (REPLAYING)");
  ReplicaView none;
  CHECK(absl::IsUnavailable(gate.Admit(none).status()));
}

TEST_CASE("gate: draining keeps answering but not serving, drained refuses",
          "[unit][reader]") {
  FakeBootClock clock("boot-a", 0);
  FreshnessGate gate(absl::Seconds(2), &clock);
  ReplicaView v = LiveView({"boot-a", 0});
  gate.set_drain_state(ReaderDrainState::kDraining);
  CHECK(gate.Admit(v).ok());
  CHECK_FALSE(gate.ShouldServe(v, clock.Now()));
  gate.set_drain_state(ReaderDrainState::kDrained);
  auto s = gate.Admit(v);
  CHECK(absl::IsUnavailable(s.status()));
  CHECK(s.status().message() == "host draining");
  // An admitted request still answers: Check ignores the drain.
  TenantView t;
  t.snapshot = std::make_shared<TenantSnapshot>();
  t.fresh_as_of = v.fresh_as_of;
  CHECK(gate.Check(v, t).ok());
}

TEST_CASE("gate: a tenant is checked against its own freshness", "[unit][reader]") {
  FakeBootClock clock("boot-a", 0);
  FreshnessGate gate(absl::Milliseconds(500), &clock);
  clock.Advance(absl::Seconds(10));
  ReplicaView v = LiveView(clock.Now());  // the host is fresh
  TenantView lagging;
  lagging.snapshot = std::make_shared<TenantSnapshot>();
  lagging.fresh_as_of = {"boot-a", 0};  // a bulk load it has not applied
  TenantView current = lagging;
  current.fresh_as_of = clock.Now();
  CHECK(gate.Admit(v).ok());
  CHECK(gate.Check(v, current).ok());
  auto s = gate.Check(v, lagging);
  REQUIRE(absl::IsUnavailable(s.status()));
  CHECK(s.status().message() == "tenant replica stale by 10000 ms (max 500 ms)");
  // A tenant that could not be advanced says why once it is stale.
  lagging.error = absl::DataLossError("tenant \"a\": index file damaged");
  s = gate.Check(v, lagging);
  CHECK_THAT(std::string(s.status().message()), Catch::Contains("index file damaged"));
  // A tenant never loaded is refused with its error.
  TenantView never;
  never.error = absl::NotFoundError("opening a.db: no such file");
  s = gate.Check(v, never);
  REQUIRE(absl::IsUnavailable(s.status()));
  CHECK_THAT(std::string(s.status().message()), Catch::Contains("no such file"));
}

}  // namespace
}  // namespace arbiter::reader
