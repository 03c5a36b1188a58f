// The LogStore contract (common/logstore/log_store.h), one suite for every
// backend: the embedded SQLite store and the etcd one, against a real etcd
// started by the test (tests/testing/etcd.h; one member, each store on a
// prefix of its own). "Reopen" is a new store object on the same file or
// prefix, as after a restart.

#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "common/logstore/etcd_log_store.h"
#include "common/logstore/sqlite_log_store.h"
#include "tests/testing/etcd.h"
#include "tests/testing/process.h"
#include "tests/unit/logstore/log_store_test_util.h"

namespace arbiter::logstore {
namespace {

struct SqliteBackend {
  absl::StatusOr<std::unique_ptr<LogStore>> Open() {
    auto s = SqliteLogStore::Open({.path = dir.File("log.db")});
    if (!s.ok()) return s.status();
    return std::unique_ptr<LogStore>(std::move(*s));
  }
  testing::TempDir dir;
};

// One etcd for the whole process; a fresh prefix per backend.
// (Destroyed at exit, which stops the member.)
testing::EtcdCluster& SharedEtcd() {
  static std::unique_ptr<testing::EtcdCluster> etcd = [] {
    auto c = testing::EtcdCluster::Start(1);
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    return std::move(*c);
  }();
  return *etcd;
}

struct EtcdBackend {
  absl::StatusOr<std::unique_ptr<LogStore>> Open() {
    auto s = EtcdLogStore::Open({.endpoints = SharedEtcd().endpoints(), .prefix = prefix});
    if (!s.ok()) return s.status();
    return std::unique_ptr<LogStore>(std::move(*s));
  }
  static inline int next = 0;
  std::string prefix = absl::StrCat("/conformance-", ++next, "/");
};

TEMPLATE_TEST_CASE("append, read, reopen keep offsets, content and identity",
                   "[unit][logstore]", SqliteBackend, EtcdBackend) {
  TestType backend;
  std::string cluster;
  {
    auto store = backend.Open();
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
    // A batch answers in the order asked, found or not; more keys than
    // one etcd Txn holds.
    std::vector<RequestKey> keys;
    for (int i = 0; i < 300; ++i) keys.push_back({"t", i % 100 == 7 ? "r1" : absl::StrCat("n", i)});
    auto batch = (*store)->LookupRequests(keys);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 300);
    for (int i = 0; i < 300; ++i) {
      INFO(i);
      CHECK((*batch)[i] == (i % 100 == 7 ? std::optional<uint64_t>(1) : std::nullopt));
    }
    CHECK((*store)->LookupRequests({})->empty());
  }
  auto store = backend.Open();
  REQUIRE(store.ok());
  CHECK((*store)->identity().cluster_id == cluster);
  CHECK((*store)->Head() == 2);
  REQUIRE((*store)->Append({Rec(3, "t", "three")}).ok());
  CHECK(ReadAll(store->get(), 2).size() == 2);
  CHECK(ReadAll(store->get(), 4).empty());
  CHECK(ReadAll(store->get(), 1, 2).size() == 2);
}

TEMPLATE_TEST_CASE("the tenant registry is stored with the entries",
                   "[unit][logstore]", SqliteBackend, EtcdBackend) {
  TestType backend;
  auto store = backend.Open();
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

TEMPLATE_TEST_CASE("the key registry is stored with the entries and survives reopen",
                   "[unit][logstore]", SqliteBackend, EtcdBackend) {
  TestType backend;
  auth::KeyGrant k1{.id = "0000000000000001", .sha256 = std::string(64, 'a'), .tenant = "acme",
                    .scopes = auth::kRead | auth::kWrite, .name = "svc"};
  auth::KeyGrant k2{.id = "0000000000000002", .sha256 = std::string(64, 'b'), .tenant = "",
                    .scopes = auth::kOperator, .name = "op"};
  {
    auto store = backend.Open();
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
  auto store = backend.Open();
  REQUIRE(store.ok());
  auto keys = (*store)->Keys();
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  k2.created_offset = 1;
  CHECK((*keys)[0] == k2);
}

TEMPLATE_TEST_CASE("truncation: OUT_OF_RANGE below the oldest, survives reopen",
                   "[unit][logstore]", SqliteBackend, EtcdBackend) {
  TestType backend;
  {
    auto store = backend.Open();
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
  auto store = backend.Open();
  REQUIRE(store.ok());
  CHECK((*store)->Head() == 10);
  CHECK((*store)->OldestRetained() == 11);
  REQUIRE((*store)->Append({Rec(11, "t", "p")}).ok());
  CHECK(ReadAll(store->get(), 11).size() == 1);
}

// LogEntry.chain (#11 item 4): stored with each entry, and the head's chain
// survives a reopen, also once every entry was truncated.
TEMPLATE_TEST_CASE("each entry's chain is kept, and the head's across truncation",
                   "[unit][logstore]", SqliteBackend, EtcdBackend) {
  TestType backend;
  std::vector<AppendRecord> recs;
  uint64_t chain = 0;
  for (uint64_t o = 1; o <= 3; ++o) {
    recs.push_back(Rec(o, "t", absl::StrCat("p", o)));
    chain = api::NextChain(chain, recs.back().entry);
    recs.back().entry.set_chain(chain);
  }
  {
    auto store = backend.Open();
    REQUIRE(store.ok());
    CHECK((*store)->HeadChain() == 0);
    REQUIRE((*store)->Append(recs).ok());
    CHECK((*store)->HeadChain() == chain);
    auto all = ReadAll(store->get(), 1);
    REQUIRE(all.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(all[i].chain() == recs[i].entry.chain());
  }
  {
    auto store = backend.Open();
    REQUIRE(store.ok());
    CHECK((*store)->HeadChain() == chain);
    REQUIRE((*store)->TruncateBefore(4).ok());  // every entry
  }
  auto store = backend.Open();
  REQUIRE(store.ok());
  CHECK((*store)->Head() == 3);
  CHECK((*store)->HeadChain() == chain);
}

// ---- etcd only ----

std::unique_ptr<EtcdLogStore> OpenEtcd(const std::vector<std::string>& endpoints,
                                       const std::string& prefix) {
  auto s = EtcdLogStore::Open({.endpoints = endpoints, .prefix = prefix});
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(*s);
}

TEST_CASE("etcd: an append compares the head, so a second writer never overwrites an offset",
          "[unit][logstore][etcd]") {
  const std::string prefix = "/two-writers/";
  auto a = OpenEtcd(SharedEtcd().endpoints(), prefix);
  auto b = OpenEtcd(SharedEtcd().endpoints(), prefix);
  CHECK(a->identity().cluster_id == b->identity().cluster_id);
  REQUIRE(a->Append({Rec(1, "t", "from a", "ra")}).ok());
  // b still believes the head is 0: its offset 1 is refused, nothing written.
  absl::Status s = b->Append({Rec(1, "t", "from b", "rb")});
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(s.message()), Catch::Contains("another writer"));
  CHECK(b->Head() == 1);  // reloaded
  CHECK_FALSE(b->LookupRequest("t", "rb")->has_value());
  REQUIRE(b->Append({Rec(2, "t", "from b", "rb")}).ok());
  auto all = ReadAll(a.get(), 1);
  REQUIRE(all.size() == 1);  // a has not heard of offset 2 yet
  // Refresh: a learns what b appended (the log's front-ends follow the
  // store this way), and appends after it.
  CHECK(a->Shared());
  REQUIRE(a->Refresh().ok());
  CHECK(a->Head() == 2);
  CHECK(ReadAll(a.get(), 1).size() == 2);
  const uint64_t registry = a->RegistryVersion();
  AppendRecord created = Rec(3, "t", "creates t", "");
  created.tenant = TenantRecord{.name = "t", .created_offset = 3};
  REQUIRE(a->Append({created}).ok());
  REQUIRE(b->Refresh().ok());
  CHECK(b->Head() == 3);
  CHECK(b->RegistryVersion() == 3);  // a registry change moves the version
  CHECK(registry != 3);
  auto reopened = OpenEtcd(SharedEtcd().endpoints(), prefix);
  all = ReadAll(reopened.get(), 1);
  REQUIRE(all.size() == 3);
  CHECK(all[0].payload() == "from a");
  CHECK(all[1].payload() == "from b");
}

TEST_CASE("etcd: appends over etcd's Txn limits are split, and one entry over them is refused",
          "[unit][logstore][etcd]") {
  auto store = OpenEtcd(SharedEtcd().endpoints(), "/limits/");
  std::vector<AppendRecord> recs;
  // 300 entries with request ids: 600 operations, over etcd's 128 per Txn.
  for (uint64_t i = 1; i <= 300; ++i) {
    recs.push_back(Rec(i, "t", std::string(100, 'x'), absl::StrCat("r", i)));
  }
  REQUIRE(store->Append(recs).ok());
  CHECK(store->Head() == 300);
  CHECK(ReadAll(store.get(), 1).size() == 300);
  CHECK(store->LookupRequest("t", "r300")->value() == 300);
  // 2 MiB in one entry: over etcd's default --max-request-bytes.
  absl::Status big = store->Append({Rec(301, "t", std::string(2 << 20, 'y'))});
  CHECK(big.code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(big.message()), Catch::Contains("--max-request-bytes"));
  CHECK(store->Head() == 300);
  // Large entries still fit one by one, and reads page them.
  std::vector<AppendRecord> large;
  for (uint64_t i = 301; i <= 400; ++i) large.push_back(Rec(i, "t", std::string(1 << 20, 'z')));
  REQUIRE(store->Append(large).ok());
  CHECK(ReadAll(store.get(), 301).size() == 4);  // max_bytes (4 MiB) stops a read
  // A read allowed 1 GiB: its etcd pages shrink when one would exceed the
  // client's receive limit (64 MiB of large entries), and every entry comes.
  size_t n = 0;
  auto read = store->Read(1, {.max_entries = 1000, .max_bytes = size_t{1} << 30},
                          [&](v1::LogEntry&& e) { return e.offset() == ++n; });
  REQUIRE(read.ok());
  CHECK(*read == 400);
}

TEST_CASE("etcd: a store touches only its prefix", "[unit][logstore][etcd]") {
  auto a = OpenEtcd(SharedEtcd().endpoints(), "/tenant-a/");
  auto b = OpenEtcd(SharedEtcd().endpoints(), "/tenant-b/");
  CHECK(a->identity().cluster_id != b->identity().cluster_id);
  REQUIRE(a->Append({Rec(1, "t", "a1")}).ok());
  CHECK(b->Head() == 0);
  REQUIRE(a->TruncateBefore(2).ok());
  REQUIRE(b->Append({Rec(1, "t", "b1")}).ok());
  CHECK(ReadAll(b.get(), 1).size() == 1);
  CHECK(EtcdLogStore::Open({.endpoints = SharedEtcd().endpoints(), .prefix = "no-slash"})
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("etcd: three members, each killed with SIGKILL in turn under appends: nothing is lost",
          "[unit][logstore][etcd]") {
  auto etcd = testing::EtcdCluster::Start(3);
  INFO(etcd.status().ToString());
  REQUIRE(etcd.ok());
  auto store = OpenEtcd((*etcd)->endpoints(), "/arbiter/");
  uint64_t next = 1;
  auto append = [&](int n) {
    std::vector<AppendRecord> recs;
    for (int i = 0; i < n; ++i, ++next) recs.push_back(Rec(next, "t", absl::StrCat("p", next)));
    absl::Status s;
    // An election may be under way: the outcome of a failed append is
    // unknown, so the store is reopened (it reads the head) and the
    // remaining records are appended.
    for (int attempt = 0; attempt < 50; ++attempt) {
      s = store->Append(recs);
      if (s.ok()) return;
      absl::SleepFor(absl::Milliseconds(200));
      store = OpenEtcd((*etcd)->endpoints(), "/arbiter/");
      while (!recs.empty() && recs.front().entry.offset() <= store->Head()) {
        recs.erase(recs.begin());
      }
      if (recs.empty()) return;
    }
    FAIL(s.ToString());
  };
  append(20);
  for (int round = 0; round < 3; ++round) {
    REQUIRE((*etcd)->Stop(round, SIGKILL).ok());
    append(20);
    REQUIRE((*etcd)->Restart(round).ok());
    append(5);
  }
  auto all = ReadAll(store.get(), 1);
  REQUIRE(all.size() == next - 1);
  for (uint64_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].offset() == i + 1);
    CHECK(all[i].payload() == absl::StrCat("p", i + 1));
  }
}

}  // namespace
}  // namespace arbiter::logstore
