#ifndef ARBITER_COMMON_BASE_STATUS_MACROS_H_
#define ARBITER_COMMON_BASE_STATUS_MACROS_H_

// Propagation helpers for absl::Status / absl::StatusOr (Abseil 20220623 has
// none of its own).
//
//   ARBITER_RETURN_IF_ERROR(DoThing());
//   ARBITER_ASSIGN_OR_RETURN(auto db, Db::Open(path));

#include "absl/strings/string_view.h"
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace arbiter {

// Returns `s` with "context: " prefixed to its message; the code is kept.
// OK stays OK.
inline absl::Status Annotate(const absl::Status& s, absl::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

}  // namespace arbiter

#define ARBITER_STATUS_CONCAT_INNER_(a, b) a##b
#define ARBITER_STATUS_CONCAT_(a, b) ARBITER_STATUS_CONCAT_INNER_(a, b)

#define ARBITER_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::absl::Status arbiter_status_ = (expr);          \
    if (!arbiter_status_.ok()) return arbiter_status_; \
  } while (false)

#define ARBITER_ASSIGN_OR_RETURN(lhs, expr)                                  \
  ARBITER_ASSIGN_OR_RETURN_IMPL_(                                            \
      ARBITER_STATUS_CONCAT_(arbiter_statusor_, __LINE__), lhs, expr)

#define ARBITER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // ARBITER_COMMON_BASE_STATUS_MACROS_H_
