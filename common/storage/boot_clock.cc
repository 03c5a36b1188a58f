#include "common/storage/boot_clock.h"

#include <time.h>

#include <fstream>
#include <iterator>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace arbiter::storage {

namespace {
constexpr char kBootIdPath[] = "/proc/sys/kernel/random/boot_id";
}  // namespace

absl::StatusOr<std::string> ReadBootId() {
  std::ifstream in(kBootIdPath);
  if (!in) {
    return absl::InternalError(absl::StrCat("cannot open ", kBootIdPath));
  }
  std::string id((std::istreambuf_iterator<char>(in)),
                 std::istreambuf_iterator<char>());
  absl::StripAsciiWhitespace(&id);
  if (id.empty()) {
    return absl::InternalError(absl::StrCat(kBootIdPath, " is empty"));
  }
  return id;
}

int64_t BootTimeNowNs() {
  struct timespec ts;
  // CLOCK_BOOTTIME exists on every Linux we run on; it cannot fail with a
  // valid clock id and pointer.
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

absl::StatusOr<std::unique_ptr<SystemBootClock>> SystemBootClock::Create() {
  absl::StatusOr<std::string> id = ReadBootId();
  if (!id.ok()) return id.status();
  return std::unique_ptr<SystemBootClock>(new SystemBootClock(*std::move(id)));
}

BootTime SystemBootClock::Now() const { return {boot_id_, BootTimeNowNs()}; }

std::optional<absl::Duration> Age(const BootTime& stamp, const BootTime& now) {
  if (stamp.boot_id.empty() || stamp.boot_id != now.boot_id) return std::nullopt;
  if (now.boottime_ns < stamp.boottime_ns) return std::nullopt;
  return absl::Nanoseconds(now.boottime_ns - stamp.boottime_ns);
}

bool IsFresh(const BootTime& stamp, const BootTime& now,
             absl::Duration max_staleness) {
  std::optional<absl::Duration> age = Age(stamp, now);
  return age.has_value() && *age <= max_staleness;
}

}  // namespace arbiter::storage
