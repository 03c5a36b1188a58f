#ifndef ARBITER_COMMON_POLAR_DIAGNOSTICS_H_
#define ARBITER_COMMON_POLAR_DIAGNOSTICS_H_

// Collects policy problems with their source locations and renders them as
// one INVALID_ARGUMENT status. Not thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/polar/program.h"

namespace arbiter::polar {

inline constexpr int kMaxReportedProblems = 20;

class Diagnostics {
 public:
  explicit Diagnostics(std::string filename) : filename_(std::move(filename)) {}

  // Records a problem. `message` starts lowercase and has no trailing period.
  void Add(Location location, std::string message);

  bool empty() const { return problems_.empty(); }
  const std::string& filename() const { return filename_; }

  // OK when nothing was recorded; otherwise INVALID_ARGUMENT with one line per
  // distinct problem, "<filename>:<line>:<col>: <message>", sorted by
  // location (then by recording order), at most kMaxReportedProblems lines.
  absl::Status ToStatus() const;

 private:
  struct Problem {
    Location location;
    std::string message;
  };
  std::string filename_;
  std::vector<Problem> problems_;
};

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_DIAGNOSTICS_H_
