#ifndef ARBITER_SERVICES_READER_FRESHNESS_GATE_H_
#define ARBITER_SERVICES_READER_FRESHNESS_GATE_H_

// Fail closed (DESIGN.md §8.5): decides whether the reader may answer from a
// ReplicaView right now, and says why not.
//
// A view may be answered from only while all of these hold:
//   * the reader has not finished a host drain (its own state is not
//     DRAINED) — "host draining";
//   * a generation is installed and the writer is LIVE — "writer not live
//     (REPLAYING)";
//   * now − fresh_as_of <= max_staleness, measured on the host's
//     (boot_id, CLOCK_BOOTTIME) clock; a stamp from another boot, an empty
//     one, or one in the future counts as stale — "replica stale by 812 ms
//     (max 500 ms)".
// The check runs per request against the request's own view (whose
// fresh_as_of is the deadline's base: the deadline is fresh_as_of +
// max_staleness, kept in memory), so no successful answer reports a staleness
// above the maximum even when the poller is late. Admission checks the
// host's freshness; the answer is checked against its tenant's own
// (DESIGN.md §9.6: a tenant lagging behind the host is stale alone).
//
// Health SERVING additionally requires the reader to be ACTIVE (not draining
// for a host drain or a SIGTERM).
//
// Thread-safe.

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/storage/boot_clock.h"
#include "services/reader/replica_view.h"

namespace arbiter::reader {

// The reader's own drain state (separate from the host's, in control.db).
enum class ReaderDrainState { kActive, kDraining, kDrained };

class FreshnessGate {
 public:
  // `clock` is not owned and must outlive the gate.
  FreshnessGate(absl::Duration max_staleness, const storage::BootClock* clock)
      : max_staleness_(max_staleness), clock_(clock) {}

  // Admission of a new request: OK with the view's staleness now, or
  // UNAVAILABLE with the reason (including "host draining" once the reader
  // finished a host drain).
  absl::StatusOr<absl::Duration> Admit(const ReplicaView& view) const {
    return CheckAt(view, clock_->Now(), /*check_drain=*/true);
  }
  // For an admitted request about to answer from `tenant` of `view`: the
  // tenant's own freshness (DESIGN.md §9.6), without the drain check (a
  // drain never fails an admitted RPC, staleness always does). A stale
  // tenant that could not be advanced names the reason.
  absl::StatusOr<absl::Duration> Check(const ReplicaView& view,
                                       const TenantView& tenant) const {
    return CheckTenantAt(view, tenant, clock_->Now());
  }
  absl::StatusOr<absl::Duration> CheckTenantAt(const ReplicaView& view,
                                               const TenantView& tenant,
                                               const storage::BootTime& now) const;
  absl::StatusOr<absl::Duration> CheckAt(const ReplicaView& view,
                                         const storage::BootTime& now,
                                         bool check_drain = true) const;

  // Whether health should say SERVING for `view` at `now`.
  bool ShouldServe(const ReplicaView& view, const storage::BootTime& now) const;

  void set_drain_state(ReaderDrainState s) { drain_state_.store(s); }
  ReaderDrainState drain_state() const { return drain_state_.load(); }

  absl::Duration max_staleness() const { return max_staleness_; }
  const storage::BootClock* clock() const { return clock_; }

 private:
  absl::StatusOr<absl::Duration> Staleness(const storage::BootTime& fresh_as_of,
                                           const storage::BootTime& now,
                                           absl::string_view what) const;

  const absl::Duration max_staleness_;
  const storage::BootClock* const clock_;
  std::atomic<ReaderDrainState> drain_state_{ReaderDrainState::kActive};
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_FRESHNESS_GATE_H_
