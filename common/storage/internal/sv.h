#ifndef ARBITER_COMMON_STORAGE_INTERNAL_SV_H_
#define ARBITER_COMMON_STORAGE_INTERNAL_SV_H_

// Debian's Abseil 20220623 is built with ABSL_OPTION_USE_STD_STRING_VIEW 0:
// absl::string_view is its own type, and absl::StrCat does not accept a
// std::string_view. Sv() bridges the two without a copy.

#include <string_view>

#include "absl/strings/string_view.h"

namespace arbiter::storage::internal {

inline absl::string_view Sv(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace arbiter::storage::internal

#endif  // ARBITER_COMMON_STORAGE_INTERNAL_SV_H_
