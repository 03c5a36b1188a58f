#include "common/base/progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace arbiter {
namespace {

std::string Amount(double n, ProgressUnit unit) {
  if (unit == ProgressUnit::kBytes) return absl::StrFormat("%.1f", n / (1 << 20));
  return WithThousands(static_cast<int64_t>(std::llround(n)));
}

}  // namespace

std::string WithThousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -static_cast<uint64_t>(n) : static_cast<uint64_t>(n));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string FormatProgress(int64_t done, int64_t total, absl::Duration elapsed,
                           ProgressUnit unit, absl::string_view noun) {
  const std::string name =
      unit == ProgressUnit::kBytes ? "MiB" : std::string(noun.empty() ? "done" : noun);
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  const std::string rate_text = absl::StrCat(Amount(rate, unit), " ", name, "/s");
  if (total <= 0) {
    return absl::StrCat(Amount(static_cast<double>(done), unit), " ", name, ", ", rate_text);
  }
  const int64_t percent = std::clamp<int64_t>(done * 100 / total, 0, 100);
  const int64_t left = std::max<int64_t>(0, total - done);
  std::string eta = "unknown";
  if (left == 0) {
    eta = "0s";
  } else if (rate > 0) {
    eta = absl::FormatDuration(absl::Seconds(std::ceil(static_cast<double>(left) / rate)));
  }
  return absl::StrCat(Amount(static_cast<double>(done), unit), " of ",
                      Amount(static_cast<double>(total), unit), " ", name, " (", percent,
                      "%), ", rate_text, ", ETA ", eta);
}

}  // namespace arbiter
