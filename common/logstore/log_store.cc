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

absl::StatusOr<std::optional<uint64_t>> LogStore::LookupRequest(
    const std::string& tenant, const std::string& request_id) {
  auto found = LookupRequests({RequestKey{tenant, request_id}});
  if (!found.ok()) return found.status();
  return found->front();
}

}  // namespace arbiter::logstore
