#ifndef ARBITER_COMMON_AUTH_AUTH_FLAGS_H_
#define ARBITER_COMMON_AUTH_AUTH_FLAGS_H_

// Authentication as command-line flags, shared by every server (arbiter-log,
// arbiter-reader, arbiter-writer) so they are spelled the same everywhere:
//
//   --insecure_no_auth   accept every call without an API key (local
//                        experiments only; a warning is logged)
//
// and by every client of the log (the writer, the reader):
//
//   --log_key_file=PATH  the API key (replicate or operator scope) sent to
//                        arbiter-log

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/access.h"

namespace arbiter::auth {

AccessOptions AccessOptionsFromFlags();

// The key in --log_key_file; "" when the flag is empty. The file's errors
// (auth::ReadKeyFile) name --log_key_file.
absl::StatusOr<std::string> LogKeyFromFlags();

}  // namespace arbiter::auth

#endif  // ARBITER_COMMON_AUTH_AUTH_FLAGS_H_
