#include "services/fleet/termination_policy.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace arbiter::fleet {
namespace {

std::string Event(int capacity, const std::vector<std::string>& ids) {
  std::string instances;
  for (const std::string& id : ids) {
    if (!instances.empty()) instances += ",";
    instances += R"({"AvailabilityZone":"us-east-1a","InstanceId":")" + id +
                 R"(","InstanceType":"m6i.large","InstanceMarketOption":"on-demand"})";
  }
  return R"({"CapacityToTerminate":[{"AvailabilityZone":"us-east-1a","Capacity":)" +
         std::to_string(capacity) + R"(,"InstanceMarketOption":"on-demand"}],"Instances":[)" +
         instances + R"(],"Cause":"SCALE_IN"})";
}

HostReport Host(const std::string& id, v1::DrainState drain,
                v1::ReplicationState state = v1::REPLICATION_STATE_LIVE, int readers = 2) {
  HostReport h;
  h.instance_id = id;
  h.status.emplace();
  h.status->set_drain_state(drain);
  h.status->set_replication_state(state);
  for (int i = 0; i < readers; ++i) h.status->add_readers();
  return h;
}

HostReport Unreachable(const std::string& id) {
  HostReport h;
  h.instance_id = id;
  h.error = "UNAVAILABLE: connection refused";
  return h;
}

TerminationDecision Run(int capacity, const std::vector<std::string>& candidates,
                        const std::vector<HostReport>& hosts, int64_t min_serving = 1) {
  auto event = ParseTerminationEvent(Event(capacity, candidates));
  REQUIRE(event.ok());
  TerminationDecision d = Decide(*event, hosts, {.min_serving_hosts = min_serving});
  INFO(absl::StrJoin(d.notes, "\n"));
  return d;
}

using Ids = std::vector<std::string>;

TEST_CASE("the event as Auto Scaling sends it", "[unit][fleet]") {
  auto e = ParseTerminationEvent(Event(2, {"i-1", "i-2", "i-3"}));
  REQUIRE(e.ok());
  CHECK(e->capacity == 2);
  CHECK(e->candidates == Ids{"i-1", "i-2", "i-3"});
  CHECK(e->cause == "SCALE_IN");
  // Capacities of several zones add up.
  auto two = ParseTerminationEvent(
      R"({"CapacityToTerminate":[{"Capacity":1},{"Capacity":2}],"Instances":[]})");
  REQUIRE(two.ok());
  CHECK(two->capacity == 3);
}

TEST_CASE("a malformed event or inventory names the field", "[unit][fleet]") {
  auto bad = [](const std::string& json) { return ParseTerminationEvent(json).status(); };
  CHECK(absl::StrContains(bad("not json").message(), "not a JSON object"));
  CHECK(absl::StrContains(bad(R"({"Instances":[]})").message(), "CapacityToTerminate"));
  CHECK(absl::StrContains(
      bad(R"({"CapacityToTerminate":[{"Capacity":-1}],"Instances":[]})").message(),
      "CapacityToTerminate[0].Capacity"));
  CHECK(absl::StrContains(
      bad(R"({"CapacityToTerminate":[{"Capacity":1}],"Instances":[{"InstanceId":"i-1"},{}]})")
          .message(),
      "Instances[1].InstanceId: required"));
  CHECK(absl::StrContains(
      bad(R"({"CapacityToTerminate":[{"Capacity":1}],"Instances":[{"InstanceId":"i\"x"}]})")
          .message(),
      "not an instance id"));

  auto inv = ParseInventory(R"({"hosts":[{"instance_id":"i-1","writer":"10.0.0.1:50052"}]})");
  REQUIRE(inv.ok());
  CHECK(inv->at("i-1") == "10.0.0.1:50052");
  CHECK(absl::StrContains(
      ParseInventory(R"({"hosts":[{"instance_id":"i-1"}]})").status().message(),
      "hosts[0].writer"));
  CHECK(absl::StrContains(ParseInventory(R"({"hosts":[{"instance_id":"i-1","writer":"a:1"},)"
                                         R"({"instance_id":"i-1","writer":"b:1"}]})")
                              .status()
                              .message(),
                          "listed twice"));
}

TEST_CASE("only DRAINED hosts are answered, at most the capacity asked for", "[unit][fleet]") {
  auto d = Run(1, {"i-b", "i-a", "i-c"},
               {Host("i-a", v1::DRAIN_STATE_DRAINED), Host("i-b", v1::DRAIN_STATE_DRAINED),
                Host("i-c", v1::DRAIN_STATE_ACTIVE)});
  CHECK(d.terminate == Ids{"i-a"});  // by instance id
  CHECK(d.drain.empty());           // nothing more is needed
  CHECK(FormatAnswer(d.terminate) == R"({"InstanceIDs":["i-a"]})");
  CHECK(FormatAnswer({}) == R"({"InstanceIDs":[]})");
}

TEST_CASE("active hosts are asked to drain, and answered only once DRAINED", "[unit][fleet]") {
  std::vector<HostReport> hosts = {Host("i-a", v1::DRAIN_STATE_ACTIVE),
                                   Host("i-b", v1::DRAIN_STATE_ACTIVE),
                                   Host("i-c", v1::DRAIN_STATE_ACTIVE)};
  auto first = Run(1, {"i-a", "i-b", "i-c"}, hosts);
  CHECK(first.terminate.empty());
  CHECK(first.drain == Ids{"i-a"});
  // Next call: draining, so no second drain is started.
  hosts[0] = Host("i-a", v1::DRAIN_STATE_DRAINING);
  auto second = Run(1, {"i-a", "i-b", "i-c"}, hosts);
  CHECK(second.terminate.empty());
  CHECK(second.drain.empty());
  hosts[0] = Host("i-a", v1::DRAIN_STATE_DRAINED);
  auto third = Run(1, {"i-a", "i-b", "i-c"}, hosts);
  CHECK(third.terminate == Ids{"i-a"});
  CHECK(third.drain.empty());
}

TEST_CASE("which hosts drain first: not LIVE, then fewer readers, then id", "[unit][fleet]") {
  std::vector<HostReport> hosts = {
      Host("i-a", v1::DRAIN_STATE_ACTIVE, v1::REPLICATION_STATE_LIVE, 3),
      Host("i-b", v1::DRAIN_STATE_ACTIVE, v1::REPLICATION_STATE_LIVE, 1),
      Host("i-c", v1::DRAIN_STATE_ACTIVE, v1::REPLICATION_STATE_REPLAYING, 4),
      Host("i-d", v1::DRAIN_STATE_ACTIVE, v1::REPLICATION_STATE_LIVE, 1),
      Host("i-e", v1::DRAIN_STATE_ACTIVE, v1::REPLICATION_STATE_LIVE, 5)};
  CHECK(Run(3, {"i-a", "i-b", "i-c", "i-d", "i-e"}, hosts).drain == Ids{"i-c", "i-b", "i-d"});
  // The same inputs in another order: the same choice.
  std::reverse(hosts.begin(), hosts.end());
  CHECK(Run(3, {"i-e", "i-d", "i-c", "i-b", "i-a"}, hosts).drain == Ids{"i-c", "i-b", "i-d"});
}

TEST_CASE("doubt keeps an instance: unknown, unreachable, over capacity", "[unit][fleet]") {
  auto d = Run(3, {"i-unknown", "i-down", "i-a"},
               {Unreachable("i-down"), Host("i-a", v1::DRAIN_STATE_DRAINED),
                Host("i-other", v1::DRAIN_STATE_ACTIVE)});
  CHECK(d.terminate == Ids{"i-a"});
  CHECK(d.drain.empty());  // neither the unknown nor the unreachable one
  const std::string notes = absl::StrJoin(d.notes, "\n");
  CHECK(absl::StrContains(notes, "i-unknown: not in the inventory"));
  CHECK(absl::StrContains(notes, "i-down: no status (UNAVAILABLE"));
}

TEST_CASE("the last serving hosts are never drained", "[unit][fleet]") {
  // Two hosts serve; min 1: one may drain, not both.
  std::vector<HostReport> hosts = {Host("i-a", v1::DRAIN_STATE_ACTIVE),
                                   Host("i-b", v1::DRAIN_STATE_ACTIVE)};
  CHECK(Run(2, {"i-a", "i-b"}, hosts).drain == Ids{"i-a"});
  CHECK(Run(2, {"i-a", "i-b"}, hosts, /*min_serving=*/2).drain.empty());
  // An unreachable host does not count as serving.
  hosts.push_back(Unreachable("i-c"));
  CHECK(Run(1, {"i-a"}, {Host("i-a", v1::DRAIN_STATE_ACTIVE), Unreachable("i-c")}).drain.empty());
  // A host that is not LIVE serves nothing: draining it is always allowed.
  CHECK(Run(1, {"i-r"},
            {Host("i-r", v1::DRAIN_STATE_ACTIVE, v1::REPLICATION_STATE_RESTORING),
             Host("i-a", v1::DRAIN_STATE_ACTIVE)},
            /*min_serving=*/1)
            .drain == Ids{"i-r"});
}

TEST_CASE("capacity 0 or no candidates: nothing", "[unit][fleet]") {
  auto d = Run(0, {"i-a"}, {Host("i-a", v1::DRAIN_STATE_DRAINED)});
  CHECK(d.terminate.empty());
  CHECK(d.drain.empty());
  CHECK(Run(2, {}, {Host("i-a", v1::DRAIN_STATE_ACTIVE)}).drain.empty());
}

}  // namespace
}  // namespace arbiter::fleet
