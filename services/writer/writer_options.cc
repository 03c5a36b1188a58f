#include "services/writer/writer_options.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace arbiter::writer {

absl::Status WriterOptions::Validate() const {
  if (data_dir.empty()) return absl::InvalidArgumentError("--data_dir: must not be empty");
  for (absl::string_view a : absl::StrSplit(log_address, ',')) {
    if (a.empty() || a.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--log_address: expected HOST:PORT[,HOST:PORT...], got \"", log_address, "\""));
    }
  }
  if (live_enter <= absl::ZeroDuration() || live_exit < live_enter) {
    return absl::InvalidArgumentError(
        "--live_enter / --live_exit: need 0 < live_enter <= live_exit");
  }
  if (log_silence_timeout < absl::Milliseconds(500)) {
    return absl::InvalidArgumentError("--log_silence_timeout: must be at least 500ms");
  }
  if (max_batch_entries < 1) {
    return absl::InvalidArgumentError("--max_batch_entries: must be at least 1");
  }
  if (max_tenant_batch_bytes < 1) {
    return absl::InvalidArgumentError("--max_tenant_batch_bytes: must be at least 1");
  }
  if (apply_slice_target <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--apply_slice_target: must be positive");
  }
  if (max_queued_bytes < (1 << 20)) {
    return absl::InvalidArgumentError("--max_queued_bytes: must be at least 1048576");
  }
  if (absl::Status s = index.Validate(); !s.ok()) return s;
  if (tenant_check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--tenant_check_interval: must be positive");
  }
  if (reconnect_min <= absl::ZeroDuration() || reconnect_max < reconnect_min) {
    return absl::InvalidArgumentError(
        "--reconnect_min / --reconnect_max: need 0 < min <= max");
  }
  return absl::OkStatus();
}

}  // namespace arbiter::writer
