#ifndef ARBITER_COMMON_BASE_ENV_H_
#define ARBITER_COMMON_BASE_ENV_H_

// Environment variables as flag defaults (ABSL_FLAG(..., EnvOr("ARBITER_X", "d"), ...)).

#include <cstdlib>
#include <string>

namespace arbiter {

// $name when it is set and not empty, else `fallback`.
inline std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_ENV_H_
