#ifndef ARBITER_COMMON_BASE_FILE_UTIL_H_
#define ARBITER_COMMON_BASE_FILE_UTIL_H_

// Durable file operations: the one place that fsyncs and renames.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace arbiter {

// fsync()s a file or a directory (after a rename, create or unlink in it).
// INTERNAL naming the path and the errno text on failure.
absl::Status SyncPath(const std::string& path);

// Replaces `path` with `contents` so that a reader sees the old or the new
// file, never a mix, and the new one survives a crash: writes
// "<path>.tmp", fsyncs it, renames it over `path`, fsyncs the directory.
// INTERNAL naming the step and the path on failure.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_FILE_UTIL_H_
