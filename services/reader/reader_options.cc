#include "services/reader/reader_options.h"

#include "absl/strings/str_cat.h"

namespace arbiter::reader {
namespace {
bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}
}  // namespace

absl::Status ReaderOptions::Validate() const {
  if (data_dir.empty()) return absl::InvalidArgumentError("--data_dir: required");
  if (log_address.empty()) {
    return absl::InvalidArgumentError("--log_address: required");
  }
  if (reader_id.size() > 128) {
    return absl::InvalidArgumentError("--reader_id: at most 128 bytes");
  }
  for (char c : reader_id) {
    if (!IsIdChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--reader_id: \"", reader_id,
                       "\" may only hold letters, digits, '.', '_' and '-'"));
    }
  }
  if (reader_id == "." || reader_id == "..") {
    return absl::InvalidArgumentError("--reader_id: not a file name");
  }
  if (max_staleness <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--max_staleness: must be positive");
  }
  if (max_consistency_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--max_consistency_wait: must not be negative");
  }
  if (drain_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_grace: must not be negative");
  }
  if (poll_interval <= absl::ZeroDuration() || poll_interval > absl::Seconds(1)) {
    return absl::InvalidArgumentError("--poll_interval: must be in (0, 1s]");
  }
  if (max_top_changes < 100) {
    return absl::InvalidArgumentError("--max_top_changes: must be at least 100");
  }
  if (workers < 1 || workers > 256) {
    return absl::InvalidArgumentError("--workers: must be in 1..256");
  }
  if (max_watch_streams < 0 || max_watch_streams > 100000) {
    return absl::InvalidArgumentError("--max_watch_streams: must be in 0..100000");
  }
  if (watch_stall_timeout < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--watch_stall_timeout: must be at least 1s");
  }
  return absl::OkStatus();
}

}  // namespace arbiter::reader
