#include "common/auth/auth_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/auth/api_key.h"

ABSL_FLAG(bool, insecure_no_auth, false,
          "Accept every call without an API key (local experiments only: anyone who can "
          "reach the port may read, write and administer every tenant)");
ABSL_FLAG(std::string, log_key_file, "",
          "File holding the API key (replicate or operator scope) sent to arbiter-log; "
          "empty: none (for a log run with --insecure_no_auth)");

namespace arbiter::auth {

AccessOptions AccessOptionsFromFlags() {
  return AccessOptions{.disabled = absl::GetFlag(FLAGS_insecure_no_auth)};
}

absl::StatusOr<std::string> LogKeyFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_log_key_file);
  if (path.empty()) return std::string();
  absl::StatusOr<std::string> key = ReadKeyFile(path);
  if (!key.ok()) {
    return absl::Status(key.status().code(),
                        absl::StrCat("--log_key_file: ", key.status().message()));
  }
  return key;
}

}  // namespace arbiter::auth
