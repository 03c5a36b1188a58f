#include "services/fleet/termination_policy.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace arbiter::fleet {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::Status Invalid(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<Struct> ParseObject(const std::string& json, const std::string& what) {
  Struct s;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &s);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a JSON object: ", parsed.message().as_string()));
  }
  return s;
}

const Value* Field(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

// EC2 instance ids ("i-0123456789abcdef0") and test names: letters, digits,
// '-', '_', '.'; nothing that would need escaping in the answer.
bool IsInstanceId(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                  c == '.';
         });
}

absl::StatusOr<std::string> InstanceIdAt(const Value& v, const std::string& field) {
  if (v.kind_case() != Value::kStringValue) return Invalid(field, "required, a string");
  if (!IsInstanceId(v.string_value())) {
    return Invalid(field, absl::StrCat("\"", v.string_value(), "\" is not an instance id"));
  }
  return v.string_value();
}

}  // namespace

absl::StatusOr<TerminationEvent> ParseTerminationEvent(const std::string& json) {
  absl::StatusOr<Struct> s = ParseObject(json, "the event");
  if (!s.ok()) return s.status();
  TerminationEvent event;
  const Value* capacity = Field(*s, "CapacityToTerminate");
  if (capacity == nullptr || capacity->kind_case() != Value::kListValue) {
    return Invalid("CapacityToTerminate", "required, a list");
  }
  for (int i = 0; i < capacity->list_value().values_size(); ++i) {
    const std::string field = absl::StrCat("CapacityToTerminate[", i, "].Capacity");
    const Value& entry = capacity->list_value().values(i);
    const Value* n = entry.kind_case() == Value::kStructValue
                         ? Field(entry.struct_value(), "Capacity")
                         : nullptr;
    if (n == nullptr || n->kind_case() != Value::kNumberValue || n->number_value() < 0 ||
        n->number_value() > 1e6 || std::floor(n->number_value()) != n->number_value()) {
      return Invalid(field, "required, a whole number >= 0");
    }
    event.capacity += static_cast<int64_t>(n->number_value());
  }
  const Value* instances = Field(*s, "Instances");
  if (instances == nullptr || instances->kind_case() != Value::kListValue) {
    return Invalid("Instances", "required, a list");
  }
  std::set<std::string> seen;
  for (int i = 0; i < instances->list_value().values_size(); ++i) {
    const std::string field = absl::StrCat("Instances[", i, "].InstanceId");
    const Value& entry = instances->list_value().values(i);
    const Value* id = entry.kind_case() == Value::kStructValue
                          ? Field(entry.struct_value(), "InstanceId")
                          : nullptr;
    if (id == nullptr) return Invalid(field, "required");
    absl::StatusOr<std::string> parsed = InstanceIdAt(*id, field);
    if (!parsed.ok()) return parsed.status();
    if (seen.insert(*parsed).second) event.candidates.push_back(*parsed);
  }
  if (const Value* cause = Field(*s, "Cause");
      cause != nullptr && cause->kind_case() == Value::kStringValue) {
    event.cause = cause->string_value();
  }
  return event;
}

absl::StatusOr<Inventory> ParseInventory(const std::string& json) {
  absl::StatusOr<Struct> s = ParseObject(json, "the inventory");
  if (!s.ok()) return s.status();
  const Value* hosts = Field(*s, "hosts");
  if (hosts == nullptr || hosts->kind_case() != Value::kListValue) {
    return Invalid("hosts", "required, a list");
  }
  Inventory inventory;
  for (int i = 0; i < hosts->list_value().values_size(); ++i) {
    const std::string at = absl::StrCat("hosts[", i, "]");
    const Value& entry = hosts->list_value().values(i);
    if (entry.kind_case() != Value::kStructValue) return Invalid(at, "not an object");
    const Value* id = Field(entry.struct_value(), "instance_id");
    if (id == nullptr) return Invalid(at + ".instance_id", "required");
    absl::StatusOr<std::string> parsed = InstanceIdAt(*id, at + ".instance_id");
    if (!parsed.ok()) return parsed.status();
    const Value* writer = Field(entry.struct_value(), "writer");
    if (writer == nullptr || writer->kind_case() != Value::kStringValue ||
        writer->string_value().empty()) {
      return Invalid(at + ".writer", "required, the writer's admin HOST:PORT");
    }
    if (!inventory.emplace(*parsed, writer->string_value()).second) {
      return Invalid(at + ".instance_id", absl::StrCat("\"", *parsed, "\" is listed twice"));
    }
  }
  return inventory;
}

TerminationDecision Decide(const TerminationEvent& event, const std::vector<HostReport>& hosts,
                           const PolicyOptions& options) {
  TerminationDecision d;
  std::map<std::string, const HostReport*> by_id;
  for (const HostReport& h : hosts) by_id[h.instance_id] = &h;
  auto serving = [](const v1::GetStatusResponse& s) {
    return s.replication_state() == v1::REPLICATION_STATE_LIVE &&
           s.drain_state() == v1::DRAIN_STATE_ACTIVE;
  };
  int64_t serving_hosts = 0;
  for (const HostReport& h : hosts) serving_hosts += h.status.has_value() && serving(*h.status);

  // Candidates by what their host reports.
  std::vector<std::string> drained;
  int64_t draining = 0;
  std::vector<const HostReport*> active;
  std::set<std::string> candidates(event.candidates.begin(), event.candidates.end());
  for (const std::string& id : candidates) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      d.notes.push_back(absl::StrCat(id, ": not in the inventory: kept"));
      continue;
    }
    const HostReport& h = *it->second;
    if (!h.status.has_value()) {
      d.notes.push_back(absl::StrCat(id, ": no status (", h.error, "): kept"));
      continue;
    }
    switch (h.status->drain_state()) {
      case v1::DRAIN_STATE_DRAINED:
        drained.push_back(id);
        break;
      case v1::DRAIN_STATE_DRAINING:
        ++draining;
        d.notes.push_back(absl::StrCat(id, ": draining: not yet"));
        break;
      default:
        active.push_back(&h);
    }
  }
  // The answer: drained hosts, by id (std::set order), at most capacity.
  for (const std::string& id : drained) {
    if (static_cast<int64_t>(d.terminate.size()) < event.capacity) {
      d.terminate.push_back(id);
      d.notes.push_back(absl::StrCat(id, ": drained: terminate"));
    } else {
      d.notes.push_back(absl::StrCat(id, ": drained, over the capacity asked for: kept"));
    }
  }
  // Start as many drains as the answer still lacks, the others counted.
  int64_t wanted = event.capacity - static_cast<int64_t>(d.terminate.size()) - draining;
  std::sort(active.begin(), active.end(), [&](const HostReport* a, const HostReport* b) {
    return std::make_tuple(serving(*a->status), a->status->readers_size(), a->instance_id) <
           std::make_tuple(serving(*b->status), b->status->readers_size(), b->instance_id);
  });
  for (const HostReport* h : active) {
    if (wanted <= 0) {
      d.notes.push_back(absl::StrCat(h->instance_id, ": active, not needed: kept"));
      continue;
    }
    if (serving(*h->status)) {
      if (serving_hosts <= options.min_serving_hosts) {
        d.notes.push_back(absl::StrCat(h->instance_id, ": one of the last ", serving_hosts,
                                       " serving hosts (--min_serving_hosts=",
                                       options.min_serving_hosts, "): kept"));
        continue;
      }
      --serving_hosts;
    }
    d.drain.push_back(h->instance_id);
    d.notes.push_back(absl::StrCat(h->instance_id, ": drain started: not yet"));
    --wanted;
  }
  return d;
}

std::string FormatAnswer(const std::vector<std::string>& instance_ids) {
  std::vector<std::string> quoted;
  for (const std::string& id : instance_ids) quoted.push_back(absl::StrCat("\"", id, "\""));
  return absl::StrCat("{\"InstanceIDs\":[", absl::StrJoin(quoted, ","), "]}");
}

}  // namespace arbiter::fleet
