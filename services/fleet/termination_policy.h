#ifndef ARBITER_SERVICES_FLEET_TERMINATION_POLICY_H_
#define ARBITER_SERVICES_FLEET_TERMINATION_POLICY_H_

// The fail-closed termination policy (issue #12, DESIGN.md §1): which of the
// instances an EC2 Auto Scaling group proposes to terminate may go now.
//
// Auto Scaling calls a custom termination policy (a Lambda) with
//   {"CapacityToTerminate": [{"AvailabilityZone": "...", "Capacity": 2, ...}],
//    "Instances": [{"AvailabilityZone", "InstanceId", "InstanceType",
//                   "InstanceMarketOption"}, ...],
//    "Cause": "SCALE_IN" | "INSTANCE_REFRESH" | "MAX_INSTANCE_LIFETIME" | "REBALANCE"}
// and terminates the instances of the answer {"InstanceIDs": [...]}; an
// empty answer makes it ask again later. The answer holds only instances
// whose host is DRAINED (every reader stopped answering and finished what it
// had), so a terminated host never takes a request down with it. Hosts that
// are not drained yet are asked to drain (Drain returns at once), so that a
// later call finds them DRAINED.
//
// Decide is pure: main.cc polls the writers and sends the drains. Every
// doubt (an unknown instance, an unreachable writer, a status of another
// cluster, a malformed event) keeps an instance out of the answer.
//
// Which hosts start draining, deterministically, among the candidates that
// are neither DRAINED nor DRAINING, only as many as the answer still lacks:
//   1. hosts that serve nothing anyway (not LIVE) before LIVE ones;
//   2. then fewer readers registered first (less capacity taken away);
//   3. then by instance id.
// A LIVE host is drained only while more than `min_serving_hosts` hosts of
// the inventory are LIVE and ACTIVE (unreachable ones count as not serving).
//
// Thread-safe: pure functions.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "arbiter/v1/writer_admin.pb.h"

namespace arbiter::fleet {

struct TerminationEvent {
  // The sum of CapacityToTerminate[].Capacity: at most this many instances
  // are answered.
  int64_t capacity = 0;
  // Instances[].InstanceId, in the event's order.
  std::vector<std::string> candidates;
  std::string cause;
};

// INVALID_ARGUMENT naming the field ("Instances[2].InstanceId: required").
absl::StatusOr<TerminationEvent> ParseTerminationEvent(const std::string& json);

// Instance id -> the host's writer admin address, from
//   {"hosts": [{"instance_id": "i-0abc", "writer": "10.0.0.7:50052"}, ...]}
// INVALID_ARGUMENT naming the field; a duplicate instance id is refused.
using Inventory = std::map<std::string, std::string>;
absl::StatusOr<Inventory> ParseInventory(const std::string& json);

// One host of the inventory as its writer reported it.
struct HostReport {
  std::string instance_id;
  // nullopt: no status (unreachable, refused, timed out): `error` says why.
  std::optional<v1::GetStatusResponse> status;
  std::string error;
};

struct PolicyOptions {
  int64_t min_serving_hosts = 1;
};

struct TerminationDecision {
  // The answer: DRAINED candidates, at most `capacity`, by instance id.
  std::vector<std::string> terminate;
  // Candidates to ask to drain now.
  std::vector<std::string> drain;
  // One line per candidate: what was decided and why (for the log).
  std::vector<std::string> notes;
};

// `hosts`: every inventory host polled (candidates and the others, for the
// min_serving_hosts count); a candidate missing from it is unknown.
TerminationDecision Decide(const TerminationEvent& event, const std::vector<HostReport>& hosts,
                           const PolicyOptions& options);

// {"InstanceIDs":["i-1","i-2"]}
std::string FormatAnswer(const std::vector<std::string>& instance_ids);

}  // namespace arbiter::fleet

#endif  // ARBITER_SERVICES_FLEET_TERMINATION_POLICY_H_
