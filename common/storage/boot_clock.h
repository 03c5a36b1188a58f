#ifndef ARBITER_COMMON_STORAGE_BOOT_CLOCK_H_
#define ARBITER_COMMON_STORAGE_BOOT_CLOCK_H_

// Host-local time for freshness (DESIGN §8.5): a (boot_id, CLOCK_BOOTTIME)
// pair. Never the wall clock, never compared across hosts; a stamp from
// another boot, or one in the future, counts as stale.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace arbiter::storage {

// A point in host-local time.
struct BootTime {
  std::string boot_id;      // /proc/sys/kernel/random/boot_id, no newline
  int64_t boottime_ns = 0;  // CLOCK_BOOTTIME (counts suspend), nanoseconds

  friend bool operator==(const BootTime&, const BootTime&) = default;
};

// Reads /proc/sys/kernel/random/boot_id (trailing whitespace trimmed).
// INTERNAL when it cannot be read or is empty.
absl::StatusOr<std::string> ReadBootId();

// clock_gettime(CLOCK_BOOTTIME) in nanoseconds.
int64_t BootTimeNowNs();

// The source of BootTime: SystemBootClock in production, FakeBootClock in
// tests. Implementations are thread-safe.
class BootClock {
 public:
  virtual ~BootClock() = default;
  virtual BootTime Now() const = 0;
};

// Thread-safe. The boot id is read once, at Create().
class SystemBootClock : public BootClock {
 public:
  // INTERNAL when the boot id cannot be read.
  static absl::StatusOr<std::unique_ptr<SystemBootClock>> Create();
  BootTime Now() const override;

 private:
  explicit SystemBootClock(std::string boot_id) : boot_id_(std::move(boot_id)) {}
  const std::string boot_id_;
};

// A settable clock for tests. Thread-safe: a test may advance it while the
// code under test reads it from another thread.
class FakeBootClock : public BootClock {
 public:
  explicit FakeBootClock(std::string boot_id = "fake-boot", int64_t ns = 0)
      : now_{std::move(boot_id), ns} {}
  BootTime Now() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void Set(BootTime t) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    now_ = std::move(t);
  }
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    now_.boottime_ns += absl::ToInt64Nanoseconds(d);
  }

 private:
  mutable absl::Mutex mu_;
  BootTime now_ ABSL_GUARDED_BY(mu_);
};

// now − stamp, or std::nullopt when the stamp is not comparable (different
// boot id, empty boot id) or lies in the future (negative age).
std::optional<absl::Duration> Age(const BootTime& stamp, const BootTime& now);

// True iff Age(stamp, now) exists and is <= max_staleness.
bool IsFresh(const BootTime& stamp, const BootTime& now,
             absl::Duration max_staleness);

}  // namespace arbiter::storage

#endif  // ARBITER_COMMON_STORAGE_BOOT_CLOCK_H_
