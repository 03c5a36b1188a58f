#include "common/polar/diagnostics.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace arbiter::polar {

void Diagnostics::Add(Location location, std::string message) {
  problems_.push_back({location, std::move(message)});
}

absl::Status Diagnostics::ToStatus() const {
  if (problems_.empty()) return absl::OkStatus();
  std::vector<Problem> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.location.line, a.location.column) <
           std::tie(b.location.line, b.location.column);
  });
  std::vector<std::string> lines;
  std::set<std::string> seen;
  for (const Problem& p : sorted) {
    std::string line = absl::StrFormat("%s:%d:%d: %s", filename_, p.location.line,
                                       p.location.column, p.message);
    if (!seen.insert(line).second) continue;
    lines.push_back(std::move(line));
    if (static_cast<int>(lines.size()) == kMaxReportedProblems) break;
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

}  // namespace arbiter::polar
