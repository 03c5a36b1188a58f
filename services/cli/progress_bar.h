#ifndef ARBITER_SERVICES_CLI_PROGRESS_BAR_H_
#define ARBITER_SERVICES_CLI_PROGRESS_BAR_H_

// Progress of a long CLI command (a batch import, a full fact export), on
// stderr so that stdout stays the command's result:
//   * on a terminal, a bar redrawn in place at most 10 times a second:
//       [##########----------] 3,000 of 6,000 ops (50%), 1,500 ops/s, ETA 2s
//   * otherwise (a pipe, a CI log), a plain line every 5 s, so that work
//     shorter than that prints nothing.
// Finish ends the bar's line (a terminal) or prints the last line (work that
// printed lines before). The text is common/base/progress.h's.
//
// Not thread-safe.

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace arbiter::cli {

class ProgressBar {
 public:
  // `total` <= 0: unknown (a counter instead of a bar).
  ProgressBar(std::ostream& err, bool terminal, std::string noun, int64_t total,
              absl::Time start = absl::Now());
  void Update(int64_t done, absl::Time now = absl::Now());
  void Finish(absl::Time now = absl::Now());

 private:
  std::string Line(absl::Time now) const;

  std::ostream& err_;
  const bool terminal_;
  const std::string noun_;
  const int64_t total_;
  const absl::Time start_;
  absl::Time last_draw_;
  int64_t done_ = 0;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace arbiter::cli

#endif  // ARBITER_SERVICES_CLI_PROGRESS_BAR_H_
