#include "common/base/progress.h"

#include <catch2/catch.hpp>

namespace arbiter {
namespace {

TEST_CASE("progress lines: done of total, rate, ETA", "[unit][base]") {
  CHECK(FormatProgress(3'000, 12'000, absl::Seconds(2), ProgressUnit::kCount, "entries") ==
        "3,000 of 12,000 entries (25%), 1,500 entries/s, ETA 6s");
  CHECK(FormatProgress(120 << 20, 512 << 20, absl::Seconds(2), ProgressUnit::kBytes) ==
        "120.0 of 512.0 MiB (23%), 60.0 MiB/s, ETA 7s");
  // Nothing done yet: no rate, no ETA.
  CHECK(FormatProgress(0, 10, absl::Seconds(1), ProgressUnit::kCount, "ops") ==
        "0 of 10 ops (0%), 0 ops/s, ETA unknown");
  // Done (or past the total: a head that moved).
  CHECK(FormatProgress(10, 10, absl::Seconds(1), ProgressUnit::kCount, "ops") ==
        "10 of 10 ops (100%), 10 ops/s, ETA 0s");
  CHECK(FormatProgress(12, 10, absl::Seconds(1), ProgressUnit::kCount, "ops") ==
        "12 of 10 ops (100%), 12 ops/s, ETA 0s");
  // Unknown total.
  CHECK(FormatProgress(2'500'000, 0, absl::Seconds(10), ProgressUnit::kCount, "facts") ==
        "2,500,000 facts, 250,000 facts/s");
  // No elapsed time: no rate rather than a division by zero.
  CHECK(FormatProgress(5, 10, absl::ZeroDuration(), ProgressUnit::kCount, "ops") ==
        "5 of 10 ops (50%), 0 ops/s, ETA unknown");
}

TEST_CASE("thousands separators", "[unit][base]") {
  CHECK(WithThousands(0) == "0");
  CHECK(WithThousands(999) == "999");
  CHECK(WithThousands(1000) == "1,000");
  CHECK(WithThousands(1234567) == "1,234,567");
  CHECK(WithThousands(-1234) == "-1,234");
}

}  // namespace
}  // namespace arbiter
