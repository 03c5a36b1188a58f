#include "services/cli/progress_bar.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/progress.h"

namespace arbiter::cli {
namespace {

constexpr int kBarWidth = 20;
constexpr absl::Duration kTerminalRedraw = absl::Milliseconds(100);
constexpr absl::Duration kPlainLine = absl::Seconds(5);

}  // namespace

ProgressBar::ProgressBar(std::ostream& err, bool terminal, std::string noun, int64_t total,
                         absl::Time start)
    : err_(err),
      terminal_(terminal),
      noun_(std::move(noun)),
      total_(total),
      start_(start),
      last_draw_(start) {}

std::string ProgressBar::Line(absl::Time now) const {
  std::string text = FormatProgress(done_, total_, now - start_, ProgressUnit::kCount, noun_);
  if (!terminal_ || total_ <= 0) return text;
  const int filled =
      static_cast<int>(std::clamp<int64_t>(done_ * kBarWidth / total_, 0, kBarWidth));
  return absl::StrCat("[", std::string(filled, '#'), std::string(kBarWidth - filled, '-'), "] ",
                      text);
}

void ProgressBar::Update(int64_t done, absl::Time now) {
  done_ = done;
  if (now - last_draw_ < (terminal_ ? kTerminalRedraw : kPlainLine)) return;
  last_draw_ = now;
  drawn_ = true;
  if (terminal_) {
    // \r to the line's start, \x1b[K clears what a longer line left.
    err_ << "\r" << Line(now) << "\x1b[K" << std::flush;
  } else {
    err_ << Line(now) << "\n" << std::flush;
  }
}

void ProgressBar::Finish(absl::Time now) {
  if (finished_) return;
  finished_ = true;
  if (!drawn_) return;  // quick work prints nothing
  err_ << (terminal_ ? "\r" : "") << Line(now) << (terminal_ ? "\x1b[K\n" : "\n") << std::flush;
}

}  // namespace arbiter::cli
