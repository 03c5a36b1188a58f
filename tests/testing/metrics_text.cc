#include "tests/testing/metrics_text.h"

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace arbiter::testing {

std::optional<double> MetricSample(const std::string& text, const std::string& name,
                                   const std::map<std::string, std::string>& labels) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#' || !absl::ConsumePrefix(&line, name)) continue;
    if (line.empty() || (line[0] != ' ' && line[0] != '{')) continue;  // a longer name
    bool match = true;
    for (const auto& [k, v] : labels) {
      if (line.find(absl::StrCat(k, "=\"", v, "\"")) == absl::string_view::npos) match = false;
    }
    if (!match) continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    absl::string_view number = line.substr(space + 1);
    if (number == "+Inf") return std::numeric_limits<double>::infinity();
    if (absl::SimpleAtod(number, &value)) return value;
  }
  return std::nullopt;
}

}  // namespace arbiter::testing
