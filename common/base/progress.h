#ifndef ARBITER_COMMON_BASE_PROGRESS_H_
#define ARBITER_COMMON_BASE_PROGRESS_H_

// Progress of long work, as one line of text (issue #15): a restore's
// bytes, a replay's entries, a CLI import's operations.
//
//   FormatProgress(3'000, 12'000, absl::Seconds(2), ProgressUnit::kCount, "entries")
//     == "3,000 of 12,000 entries (25%), 1,500 entries/s, ETA 6s"
//   with bytes: "120.0 of 512.0 MiB (23%), 60.0 MiB/s, ETA 6s"
//   total unknown (<= 0): "3,000 entries, 1,500 entries/s"
//
// The rate is the average since the work started (`done` over `elapsed`);
// the ETA is what is left at that rate ("ETA unknown" before any progress).
//
// Thread-safe: pure functions.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace arbiter {

enum class ProgressUnit { kCount, kBytes };

std::string FormatProgress(int64_t done, int64_t total, absl::Duration elapsed,
                           ProgressUnit unit, absl::string_view noun = "");

// `n` with thousands separators: 1234567 -> "1,234,567".
std::string WithThousands(int64_t n);

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_PROGRESS_H_
