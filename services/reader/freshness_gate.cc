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
  return Staleness(view.fresh_as_of, now, "replica");
}

absl::StatusOr<absl::Duration> FreshnessGate::Staleness(
    const storage::BootTime& fresh_as_of, const storage::BootTime& now,
    absl::string_view what) const {
  const std::optional<absl::Duration> age = storage::Age(fresh_as_of, now);
  if (!age.has_value()) {
    if (fresh_as_of.boot_id.empty()) {
      return absl::UnavailableError(absl::StrCat(what, " has not proved itself fresh yet"));
    }
    if (fresh_as_of.boot_id != now.boot_id) {
      return absl::UnavailableError(
          absl::StrCat(what, " freshness is from another boot of this host"));
    }
    return absl::UnavailableError(
        absl::StrCat(what, " freshness lies in the future (clock went back)"));
  }
  if (*age > max_staleness_) {
    return absl::UnavailableError(
        absl::StrCat(what, " stale by ", absl::ToInt64Milliseconds(*age),
                     " ms (max ", absl::ToInt64Milliseconds(max_staleness_),
                     " ms)"));
  }
  return *age;
}

absl::StatusOr<absl::Duration> FreshnessGate::CheckTenantAt(
    const ReplicaView& view, const TenantView& tenant,
    const storage::BootTime& now) const {
  absl::StatusOr<absl::Duration> host = CheckAt(view, now, /*check_drain=*/false);
  if (!host.ok()) return host;
  if (tenant.snapshot == nullptr) {
    return absl::UnavailableError(tenant.error.ok() ? "tenant not loaded yet"
                                                    : tenant.error.message());
  }
  absl::StatusOr<absl::Duration> age = Staleness(tenant.fresh_as_of, now, "tenant replica");
  if (!age.ok() && !tenant.error.ok()) {
    return absl::UnavailableError(absl::StrCat(age.status().message(), ": ",
                                               tenant.error.message()));
  }
  return age;
}

bool FreshnessGate::ShouldServe(const ReplicaView& view,
                                const storage::BootTime& now) const {
  return drain_state_.load() == ReaderDrainState::kActive &&
         CheckAt(view, now).ok();
}

}  // namespace arbiter::reader
