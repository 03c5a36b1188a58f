#ifndef ARBITER_SERVICES_WRITER_HOST_MONITOR_H_
#define ARBITER_SERVICES_WRITER_HOST_MONITOR_H_

// The host's derived states, re-evaluated every --monitor_interval on a
// thread of its own, and the admin operations that change them:
//  * LIVE (DESIGN.md §8.5) with hysteresis: REPLAYING -> LIVE once the replica
//    was fresh within live_enter; LIVE -> REPLAYING once it has not been
//    fresh for live_exit. RESTORING is set and cleared by the Replicator.
//  * Drain (DESIGN.md §8.11): Drain() marks control.db DRAINING; the host
//    becomes DRAINED once every registered reader reports DRAINED in its own
//    file or its lease expired. Undrain() returns it to ACTIVE.

#include <memory>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "arbiter/v1/writer_admin.pb.h"
#include "common/host/data_dir.h"
#include "common/storage/boot_clock.h"
#include "common/host/change_signal.h"
#include "common/auth/api_key.h"
#include "common/storage/control_db.h"
#include "services/writer/writer_options.h"

namespace arbiter::writer {

// Thread-safe.
class HostMonitor {
 public:
  // Opens its own connection to control.db (created by the Replicator).
  static absl::StatusOr<std::unique_ptr<HostMonitor>> Create(
      const WriterOptions& options, const storage::BootClock* clock);
  ~HostMonitor();

  void Start();
  void Stop();

  // The whole host status, as GetStatus answers.
  absl::StatusOr<v1::GetStatusResponse> Status() ABSL_LOCKS_EXCLUDED(mu_);
  // Marks the host DRAINING (idempotent: a DRAINED host stays DRAINED).
  absl::StatusOr<v1::DrainState> Drain() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::DrainState> Undrain() ABSL_LOCKS_EXCLUDED(mu_);

  // The API key `id` as this host's replica holds it (its "_system"
  // tenant), whatever the replica's freshness: a stale host must still be
  // drainable (DESIGN.md 9.7). UNAVAILABLE before the host holds any keys.
  absl::StatusOr<std::optional<auth::KeyGrant>> FindKey(const std::string& id)
      ABSL_LOCKS_EXCLUDED(mu_);

  // One evaluation of the derived states (the thread calls it; tests may).
  absl::Status Tick() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  HostMonitor(const WriterOptions& options, const storage::BootClock* clock,
              std::unique_ptr<storage::ControlDb> control)
      : options_(options), clock_(clock), dir_(options.data_dir),
        control_(std::move(control)) {}

  static constexpr absl::Duration kReplayLineInterval = absl::Seconds(5);
  void LogReplayProgress(const storage::ControlState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WriterOptions options_;
  const storage::BootClock* const clock_;
  const host::DataDir dir_;
  absl::Mutex mu_;
  std::unique_ptr<storage::ControlDb> control_ ABSL_GUARDED_BY(mu_);
  // Readers learn of state changes (LIVE, drain) at once.
  host::ChangeSignal signal_ ABSL_GUARDED_BY(mu_);
  // While REPLAYING, a progress line every kReplayLineInterval: entries
  // applied since the replay began of those the log held then and since.
  struct Replay {
    absl::Time started;
    absl::Time last_line;
    int64_t from = 0;  // applied offset when it began
  };
  std::optional<Replay> replay_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_HOST_MONITOR_H_
