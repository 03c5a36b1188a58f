#ifndef ARBITER_TESTS_UNIT_LOGSTORE_LOG_STORE_TEST_UTIL_H_
#define ARBITER_TESTS_UNIT_LOGSTORE_LOG_STORE_TEST_UTIL_H_

// Records and reads for the LogStore tests.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/base/crc32c.h"
#include "common/logstore/log_store.h"

namespace arbiter::logstore {

inline AppendRecord Rec(uint64_t offset, std::string tenant, std::string payload,
                 std::string request_id = "") {
  AppendRecord r;
  r.entry.set_offset(offset);
  r.entry.set_tenant(tenant);
  r.entry.set_time_unix_ms(1000 + offset);
  r.entry.set_payload(payload);
  r.entry.set_payload_crc32c(Crc32c(payload));
  r.request_id = std::move(request_id);
  return r;
}

inline std::vector<v1::LogEntry> ReadAll(LogStore* s, uint64_t from, size_t max = 1000) {
  std::vector<v1::LogEntry> out;
  auto n = s->Read(from, {.max_entries = max}, [&](v1::LogEntry&& e) {
    out.push_back(std::move(e));
    return true;
  });
  REQUIRE(n.ok());
  CHECK(*n == out.size());
  return out;
}

}  // namespace arbiter::logstore

#endif  // ARBITER_TESTS_UNIT_LOGSTORE_LOG_STORE_TEST_UTIL_H_
