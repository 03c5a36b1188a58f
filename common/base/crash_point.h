#ifndef ARBITER_COMMON_BASE_CRASH_POINT_H_
#define ARBITER_COMMON_BASE_CRASH_POINT_H_

// Fault injection for durability tests (STYLE.md: the hidden --crash_at
// flag). A binary calls SetCrashPoint(flag value) once at start-up; code
// calls MaybeCrash("name") at named points. When the names match, the process
// ends at once with _exit(3): no destructors, no flushing, as close to a
// power cut as a process can get without losing the page cache. Inert unless
// set. Thread-safe.

#include "absl/strings/string_view.h"

namespace arbiter {

// Arms the crash point `name` ("" disarms).
void SetCrashPoint(absl::string_view name);

// _exit(3) if `name` is the armed crash point.
void MaybeCrash(absl::string_view name);

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_CRASH_POINT_H_
