#include "common/logstore/sqlite_log_store.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "common/base/crc32c.h"
#include "tests/testing/process.h"
#include "tests/unit/logstore/log_store_test_util.h"

namespace arbiter::logstore {
namespace {

TEST_CASE("the chain depends on the previous chain and on the entry", "[unit][logstore]") {
  v1::LogEntry e = Rec(7, "t", "payload").entry;
  const uint64_t a = api::NextChain(0, e);
  CHECK(a != 0);
  CHECK(api::NextChain(0, e) == a);  // deterministic
  CHECK(api::NextChain(1, e) != a);
  v1::LogEntry other = Rec(7, "t", "another payload").entry;
  CHECK(api::NextChain(0, other) != a);
  v1::LogEntry moved = Rec(8, "t", "payload").entry;
  CHECK(api::NextChain(0, moved) != a);
}

TEST_CASE("a damaged payload is DATA_LOSS, never returned", "[unit][logstore]") {
  testing::TempDir dir;
  std::string path = dir.File("log.db");
  auto store = SqliteLogStore::Open({.path = path});
  REQUIRE(store.ok());
  REQUIRE((*store)->Append({Rec(1, "t", "payload")}).ok());
  sqlite3* db;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE entries SET payload = x'00'", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  auto r = (*store)->Read(1, {}, [](v1::LogEntry&&) { return true; });
  CHECK(r.status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("the WAL is checkpointed past its bound while readers read", "[unit][logstore]") {
  testing::TempDir dir;
  auto store = SqliteLogStore::Open({.path = dir.File("log.db"), .checkpoint_bytes = 256 << 10});
  REQUIRE(store.ok());
  std::string payload(4000, 'x');
  int64_t max_wal = 0;
  for (uint64_t i = 1; i <= 1000; ++i) {
    REQUIRE((*store)->Append({Rec(i, "t", payload)}).ok());
    // A reader reads a chunk in a short transaction between appends.
    REQUIRE((*store)->Read(i > 50 ? i - 50 : 1, {.max_entries = 50},
                           [](v1::LogEntry&&) { return true; }).ok());
    max_wal = std::max(max_wal, (*store)->WalFileBytes());
  }
  CHECK((*store)->checkpoints() > 0);
  // 4 MB were written; the WAL stays near its bound.
  CHECK(max_wal < 2 * (256 << 10) + (64 << 10));
}

}  // namespace
}  // namespace arbiter::logstore
