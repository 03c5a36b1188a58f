#include "common/logstore/sqlite_log_store.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "common/base/crc32c.h"
#include "tests/testing/process.h"

namespace arbiter::logstore {
namespace {

AppendRecord Rec(uint64_t offset, std::string tenant, std::string payload,
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

std::vector<v1::LogEntry> ReadAll(LogStore* s, uint64_t from, size_t max = 1000) {
  std::vector<v1::LogEntry> out;
  auto n = s->Read(from, {.max_entries = max}, [&](v1::LogEntry&& e) {
    out.push_back(std::move(e));
    return true;
  });
  REQUIRE(n.ok());
  CHECK(*n == out.size());
  return out;
}

TEST_CASE("append, read, reopen keep offsets, content and identity", "[unit][logstore]") {
  testing::TempDir dir;
  std::string path = dir.File("log.db");
  std::string cluster;
  {
    auto store = SqliteLogStore::Open({.path = path});
    REQUIRE(store.ok());
    cluster = (*store)->identity().cluster_id;
    CHECK(cluster.size() == 32);
    CHECK((*store)->identity().epoch == 1);
    CHECK((*store)->Head() == 0);
    CHECK((*store)->OldestRetained() == 1);
    std::string binary("a\0b\xff", 4);
    REQUIRE((*store)->Append({Rec(1, "t", binary, "r1"), Rec(2, "t", "two")}).ok());
    CHECK((*store)->Head() == 2);
    // Out of sequence.
    CHECK((*store)->Append({Rec(4, "t", "x")}).code() ==
          absl::StatusCode::kFailedPrecondition);
    auto all = ReadAll(store->get(), 0);
    REQUIRE(all.size() == 2);
    CHECK(all[0].payload() == binary);
    CHECK(all[0].time_unix_ms() == 1001);
    CHECK(all[1].offset() == 2);
    auto found = (*store)->LookupRequest("t", "r1");
    REQUIRE(found.ok());
    CHECK(found->value() == 1);
    CHECK(!(*store)->LookupRequest("u", "r1")->has_value());
  }
  auto store = SqliteLogStore::Open({.path = path});
  REQUIRE(store.ok());
  CHECK((*store)->identity().cluster_id == cluster);
  CHECK((*store)->Head() == 2);
  REQUIRE((*store)->Append({Rec(3, "t", "three")}).ok());
  CHECK(ReadAll(store->get(), 2).size() == 2);
  CHECK(ReadAll(store->get(), 4).empty());
  CHECK(ReadAll(store->get(), 1, 2).size() == 2);
}

TEST_CASE("the tenant registry is stored with the entries", "[unit][logstore]") {
  testing::TempDir dir;
  auto store = SqliteLogStore::Open({.path = dir.File("log.db")});
  REQUIRE(store.ok());
  AppendRecord a = Rec(1, "b", "x");
  a.tenant = TenantRecord{.name = "b", .created_offset = 1};
  AppendRecord b = Rec(2, "a", "y");
  b.tenant = TenantRecord{.name = "a", .created_offset = 2};
  AppendRecord c = Rec(3, "b", "z");
  c.tenant = TenantRecord{.name = "b", .created_offset = 1, .policy_version = 3,
                          .policy_source = "src", .policy_filename = "f.polar"};
  REQUIRE((*store)->Append({a, b, c}).ok());
  auto tenants = (*store)->Tenants();
  REQUIRE(tenants.ok());
  REQUIRE(tenants->size() == 2);
  CHECK((*tenants)[0].name == "a");
  CHECK((*tenants)[1].policy_version == 3);
  CHECK((*tenants)[1].policy_filename == "f.polar");
}

TEST_CASE("the key registry is stored with the entries and survives reopen",
          "[unit][logstore]") {
  testing::TempDir dir;
  const std::string path = dir.File("log.db");
  auth::KeyGrant k1{.id = "0000000000000001", .sha256 = std::string(64, 'a'), .tenant = "acme",
                    .scopes = auth::kRead | auth::kWrite, .name = "svc"};
  auth::KeyGrant k2{.id = "0000000000000002", .sha256 = std::string(64, 'b'), .tenant = "",
                    .scopes = auth::kOperator, .name = "op"};
  {
    auto store = SqliteLogStore::Open({.path = path});
    REQUIRE(store.ok());
    AppendRecord a = Rec(1, "_system", "x");
    a.keys_created = {k1, k2};
    AppendRecord b = Rec(2, "_system", "y");
    b.keys_revoked = {k1.id};
    REQUIRE((*store)->Append({a}).ok());
    auto keys = (*store)->Keys();
    REQUIRE(keys.ok());
    REQUIRE(keys->size() == 2);
    CHECK((*keys)[0].created_offset == 1);
    REQUIRE((*store)->Append({b}).ok());
  }
  auto store = SqliteLogStore::Open({.path = path});
  REQUIRE(store.ok());
  auto keys = (*store)->Keys();
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  k2.created_offset = 1;
  CHECK((*keys)[0] == k2);
}

TEST_CASE("truncation: OUT_OF_RANGE below the oldest, survives reopen", "[unit][logstore]") {
  testing::TempDir dir;
  std::string path = dir.File("log.db");
  {
    auto store = SqliteLogStore::Open({.path = path});
    REQUIRE(store.ok());
    std::vector<AppendRecord> recs;
    for (uint64_t i = 1; i <= 10; ++i) recs.push_back(Rec(i, "t", "p", i == 2 ? "r2" : ""));
    REQUIRE((*store)->Append(recs).ok());
    REQUIRE((*store)->TruncateBefore(5).ok());
    CHECK((*store)->OldestRetained() == 5);
    CHECK(!(*store)->LookupRequest("t", "r2")->has_value());
    auto r = (*store)->Read(4, {}, [](v1::LogEntry&&) { return true; });
    CHECK(r.status().code() == absl::StatusCode::kOutOfRange);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("oldest retained offset is 5"));
    CHECK(ReadAll(store->get(), 5).size() == 6);
    // Truncate everything: the head survives.
    REQUIRE((*store)->TruncateBefore(11).ok());
  }
  auto store = SqliteLogStore::Open({.path = path});
  REQUIRE(store.ok());
  CHECK((*store)->Head() == 10);
  CHECK((*store)->OldestRetained() == 11);
  REQUIRE((*store)->Append({Rec(11, "t", "p")}).ok());
  CHECK(ReadAll(store->get(), 11).size() == 1);
}

// LogEntry.chain (#11 item 4): stored with each entry, and the head's chain
// survives a reopen, also once every entry was truncated.
TEST_CASE("each entry's chain is kept, and the head's across truncation", "[unit][logstore]") {
  testing::TempDir dir;
  const std::string path = dir.File("log.db");
  std::vector<AppendRecord> recs;
  uint64_t chain = 0;
  for (uint64_t o = 1; o <= 3; ++o) {
    recs.push_back(Rec(o, "t", absl::StrCat("p", o)));
    chain = api::NextChain(chain, recs.back().entry);
    recs.back().entry.set_chain(chain);
  }
  {
    auto store = SqliteLogStore::Open({.path = path});
    REQUIRE(store.ok());
    CHECK((*store)->HeadChain() == 0);
    REQUIRE((*store)->Append(recs).ok());
    CHECK((*store)->HeadChain() == chain);
    auto all = ReadAll(store->get(), 1);
    REQUIRE(all.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(all[i].chain() == recs[i].entry.chain());
  }
  {
    auto store = SqliteLogStore::Open({.path = path});
    REQUIRE(store.ok());
    CHECK((*store)->HeadChain() == chain);
    REQUIRE((*store)->TruncateBefore(4).ok());  // every entry
  }
  auto store = SqliteLogStore::Open({.path = path});
  REQUIRE(store.ok());
  CHECK((*store)->Head() == 3);
  CHECK((*store)->HeadChain() == chain);
}

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
