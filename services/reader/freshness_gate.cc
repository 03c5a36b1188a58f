#include "services/reader/freshness_gate.h"

#include "absl/strings/str_cat.h"

namespace arbiter::reader {

absl::StatusOr<absl::Duration> FreshnessGate::CheckAt(
    const ReplicaView& view, const storage::BootTime& now,
    bool check_drain) const {
  if (check_drain && drain_state_.load() == ReaderDrainState::kDrained) {
    return absl::UnavailableError("host draining");
  }
  if (view.generation == 0 || view.tenants == nullptr) {
    return absl::UnavailableError("no replica installed on this host yet");
  }
  if (view.replication_state != storage::ReplicationState::kLive) {
    return absl::UnavailableError(absl::StrCat(
        "writer not live (", absl::string_view(storage::ToString(view.replication_state).data(), storage::ToString(view.replication_state).size()), ")"));
  }
  const std::optional<absl::Duration> age = storage::Age(view.fresh_as_of, now);
  if (!age.has_value()) {
    if (view.fresh_as_of.boot_id.empty()) {
      return absl::UnavailableError("replica has not proved itself fresh yet");
    }
    if (view.fresh_as_of.boot_id != now.boot_id) {
      return absl::UnavailableError(
          "replica freshness is from another boot of this host");
    }
    return absl::UnavailableError(
        "replica freshness lies in the future (clock went back)");
  }
  if (*age > max_staleness_) {
    return absl::UnavailableError(
        absl::StrCat("replica stale by ", absl::ToInt64Milliseconds(*age),
                     " ms (max ", absl::ToInt64Milliseconds(max_staleness_),
                     " ms)"));
  }
  return *age;
}

bool FreshnessGate::ShouldServe(const ReplicaView& view,
                                const storage::BootTime& now) const {
  return drain_state_.load() == ReaderDrainState::kActive &&
         CheckAt(view, now).ok();
}

}  // namespace arbiter::reader
