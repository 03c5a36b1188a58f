#ifndef ARBITER_COMMON_BASE_FILE_UTIL_H_
#define ARBITER_COMMON_BASE_FILE_UTIL_H_

// Durable file operations: the one place that fsyncs and renames.

#include <cstdint>
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

// Who may read what this process creates from now on (the process umask,
// so it covers SQLite's files and every directory too): "owner" (the
// default of every service's --file_access) makes files 0600 and
// directories 0700; "group" 0640 and 0750, for a reader and a writer that
// run as different users of one group. INVALID_ARGUMENT naming
// --file_access otherwise. Call it first in main().
absl::Status SetFileAccess(absl::string_view access);

// Raises this process's soft limit on open files (RLIMIT_NOFILE) to its
// hard limit (at most 1,048,576): SQLite keeps three descriptors per open
// database (file, -wal, -shm), and the common soft limit of 1,024 is
// reached at a few hundred tenants. Returns the soft limit now in force;
// never fails (the limit is left as it was if it cannot be raised). Call
// it in main().
uint64_t RaiseOpenFileLimit();

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_FILE_UTIL_H_
