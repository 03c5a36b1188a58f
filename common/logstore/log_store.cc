#include "common/logstore/log_store.h"

#include <random>

#include "absl/strings/str_format.h"

namespace arbiter::logstore {

std::string RandomClusterId() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) absl::StrAppendFormat(&out, "%08x", rd());
  return out;
}

}  // namespace arbiter::logstore
