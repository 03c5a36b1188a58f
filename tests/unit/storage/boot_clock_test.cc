#include "common/storage/boot_clock.h"

#include <catch2/catch.hpp>

#include "tests/unit/storage/test_util.h"

namespace arbiter::storage {
namespace {

TEST_CASE("boot clock: boot id and CLOCK_BOOTTIME", "[unit][storage]") {
  auto id = ReadBootId();
  ARBITER_REQUIRE_OK(id);
  CHECK(id->size() == 36);  // a UUID
  CHECK(id->find('\n') == std::string::npos);

  auto clock = SystemBootClock::Create();
  ARBITER_REQUIRE_OK(clock);
  BootTime a = (*clock)->Now();
  BootTime b = (*clock)->Now();
  CHECK(a.boot_id == *id);
  CHECK(a.boottime_ns > 0);
  CHECK(b.boottime_ns >= a.boottime_ns);
}

TEST_CASE("boot clock: age and freshness", "[unit][storage]") {
  FakeBootClock clock("boot-1", 1'000'000'000);
  const BootTime stamp = clock.Now();
  clock.Advance(absl::Milliseconds(250));
  CHECK(*Age(stamp, clock.Now()) == absl::Milliseconds(250));
  CHECK(IsFresh(stamp, clock.Now(), absl::Milliseconds(250)));
  CHECK_FALSE(IsFresh(stamp, clock.Now(), absl::Milliseconds(249)));

  // Another boot, an empty boot id, or a stamp from the future: stale.
  CHECK_FALSE(Age(BootTime{"boot-0", stamp.boottime_ns}, clock.Now()).has_value());
  CHECK_FALSE(Age(BootTime{"", 0}, BootTime{"", 5}).has_value());
  BootTime future = clock.Now();
  future.boottime_ns += 1;
  CHECK_FALSE(Age(future, clock.Now()).has_value());
  CHECK_FALSE(IsFresh(future, clock.Now(), absl::Hours(1)));
}

}  // namespace
}  // namespace arbiter::storage
