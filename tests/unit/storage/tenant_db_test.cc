#include "common/storage/tenant_db.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/storage/test_util.h"

namespace arbiter::storage {
namespace {

using testing::TempDir;

Value V(std::string type, std::string id) { return Value{std::move(type), std::move(id)}; }

Fact F(std::string predicate, std::vector<Value> args) {
  return Fact{std::move(predicate), std::move(args)};
}

DbOptions Writer() { return DbOptions{}; }
DbOptions Reader() {
  DbOptions o;
  o.read_only = true;
  return o;
}

// A created and opened tenant database in its own temp dir.
struct Fixture {
  Fixture() {
    path = dir.File("acme.db");
    ARBITER_REQUIRE_OK(TenantDb::Create(path, {"acme", "cluster-1", 7}));
    auto opened = TenantDb::Open(path, Writer());
    ARBITER_REQUIRE_OK(opened);
    db = *std::move(opened);
  }
  Transaction Begin() {
    auto txn = Transaction::Begin(db->db(), Transaction::Mode::kImmediate);
    ARBITER_REQUIRE_OK(txn);
    return *std::move(txn);
  }
  std::vector<Fact> AllFacts() {
    std::vector<Fact> out;
    ARBITER_REQUIRE_OK(db->ForEachFact([&](const Fact& f) {
      out.push_back(f);
      return true;
    }));
    return out;
  }
  TempDir dir;
  std::string path;
  std::unique_ptr<TenantDb> db;
};

TEST_CASE("tenant db: create writes the schema and the meta row",
          "[unit][storage]") {
  Fixture fx;
  auto meta = fx.db->Meta();
  ARBITER_REQUIRE_OK(meta);
  CHECK(meta->schema_major == kTenantSchemaMajor);
  CHECK(meta->schema_minor == kTenantSchemaMinor);
  CHECK(meta->tenant == "acme");
  CHECK(meta->cluster_id == "cluster-1");
  CHECK(meta->applied_offset == 7);
  CHECK(meta->policy_version == 0);
  CHECK(meta->changes_floor == 0);
  CHECK(*fx.db->AppliedOffset() == 7);
  auto policy = fx.db->Policy();
  ARBITER_REQUIRE_OK(policy);
  CHECK_FALSE(policy->has_value());
  CHECK(*fx.db->CountFacts() == 0);
  CHECK(*fx.db->db()->QueryText("PRAGMA journal_mode") == "wal");

  ARBITER_REQUIRE_CODE(TenantDb::Create(fx.path, {"acme", "", 0}),
                       absl::StatusCode::kAlreadyExists);
  ARBITER_REQUIRE_CODE(TenantDb::Open(fx.dir.File("nope.db"), Writer()),
                       absl::StatusCode::kNotFound);
}

TEST_CASE("tenant db: open refuses another major schema version",
          "[unit][storage]") {
  Fixture fx;
  SECTION("newer major") {
    ARBITER_REQUIRE_OK(fx.db->db()->Exec("UPDATE meta SET schema_major = 2"));
    fx.db.reset();
    auto r = TenantDb::Open(fx.path, Reader());
    ARBITER_REQUIRE_CODE(r, absl::StatusCode::kFailedPrecondition);
    CHECK(r.status().message().find("2.0 is newer") != std::string::npos);
    ARBITER_REQUIRE_CODE(TenantDb::Open(fx.path, Writer()),
                         absl::StatusCode::kFailedPrecondition);
  }
  SECTION("older major") {
    ARBITER_REQUIRE_OK(fx.db->db()->Exec("UPDATE meta SET schema_major = 0"));
    fx.db.reset();
    ARBITER_REQUIRE_CODE(TenantDb::Open(fx.path, Reader()),
                         absl::StatusCode::kFailedPrecondition);
  }
  SECTION("newer minor of our major is fine") {
    ARBITER_REQUIRE_OK(fx.db->db()->Exec("UPDATE meta SET schema_minor = 9"));
    fx.db.reset();
    ARBITER_REQUIRE_OK(TenantDb::Open(fx.path, Reader()));
  }
  SECTION("not a tenant database") {
    ARBITER_REQUIRE_OK(CreateDatabase(fx.dir.File("other.db"), [](Db* db) {
      return db->Exec("CREATE TABLE t(k)");
    }));
    ARBITER_REQUIRE_CODE(TenantDb::Open(fx.dir.File("other.db"), Reader()),
                         absl::StatusCode::kFailedPrecondition);
  }
}

TEST_CASE("tenant db: insert is idempotent and records one change",
          "[unit][storage]") {
  Fixture fx;
  const Fact f = F("has_role", {V("User", "alice"), V("String", "admin"),
                                V("Organization", "acme")});
  {
    Transaction txn = fx.Begin();
    auto inserted = fx.db->InsertFact(8, f);
    ARBITER_REQUIRE_OK(inserted);
    CHECK(*inserted);
    inserted = fx.db->InsertFact(8, f);
    ARBITER_REQUIRE_OK(inserted);
    CHECK_FALSE(*inserted);
    ARBITER_REQUIRE_OK(txn.Commit());
  }
  {
    Transaction txn = fx.Begin();
    auto inserted = fx.db->InsertFact(9, f);
    ARBITER_REQUIRE_OK(inserted);
    CHECK_FALSE(*inserted);
    ARBITER_REQUIRE_OK(txn.Commit());
  }
  CHECK(fx.AllFacts() == std::vector<Fact>{f});
  auto changes = fx.db->ChangesSince(0, 100);
  ARBITER_REQUIRE_OK(changes);
  REQUIRE(changes->size() == 1);
  CHECK((*changes)[0] == Change{8, 0, ChangeOp::kInsert, f});
}

TEST_CASE("tenant db: invalid facts and writes outside a transaction",
          "[unit][storage]") {
  Fixture fx;
  const Fact ok = F("is_public", {V("Repository", "anvils")});
  ARBITER_REQUIRE_CODE(fx.db->InsertFact(8, ok),
                       absl::StatusCode::kFailedPrecondition);
  ARBITER_REQUIRE_CODE(fx.db->SetAppliedOffset(8),
                       absl::StatusCode::kFailedPrecondition);
  Transaction txn = fx.Begin();
  ARBITER_REQUIRE_CODE(fx.db->InsertFact(8, F("p", {})),
                       absl::StatusCode::kInvalidArgument);
  ARBITER_REQUIRE_CODE(
      fx.db->InsertFact(8, F("p", std::vector<Value>(6, V("A", "b")))),
      absl::StatusCode::kInvalidArgument);
  ARBITER_REQUIRE_CODE(fx.db->InsertFact(8, F("", {V("A", "b")})),
                       absl::StatusCode::kInvalidArgument);
  ARBITER_REQUIRE_CODE(fx.db->InsertFact(8, F("p", {V("A", "")})),
                       absl::StatusCode::kInvalidArgument);
  ARBITER_REQUIRE_CODE(fx.db->InsertFact(8, F("p", {V("", "b")})),
                       absl::StatusCode::kInvalidArgument);
  std::vector<std::optional<Value>> bad = {V("", "alice")};
  ARBITER_REQUIRE_CODE(fx.db->DeletePattern(8, "p", bad),
                       absl::StatusCode::kInvalidArgument);
  ARBITER_REQUIRE_CODE(fx.db->DeletePattern(8, "p", {}),
                       absl::StatusCode::kInvalidArgument);
  ARBITER_REQUIRE_CODE(fx.db->SetPolicy("x", 0),
                       absl::StatusCode::kInvalidArgument);
}

TEST_CASE("tenant db: delete by exact, wildcard and typed-wildcard patterns",
          "[unit][storage]") {
  Fixture fx;
  const Fact a = F("has_role", {V("User", "alice"), V("String", "admin"), V("Org", "acme")});
  const Fact b = F("has_role", {V("User", "bob"), V("String", "member"), V("Org", "acme")});
  const Fact c = F("has_role", {V("Group", "eng"), V("String", "member"), V("Org", "acme")});
  const Fact d = F("has_role", {V("User", "bob"), V("String", "member"), V("Org", "zeta")});
  const Fact g = F("has_role", {V("User", "bob"), V("String", "superadmin")});  // arity 2
  {
    Transaction txn = fx.Begin();
    for (const Fact& f : {a, b, c, d, g}) ARBITER_REQUIRE_OK(fx.db->InsertFact(10, f));
    ARBITER_REQUIRE_OK(txn.Commit());
  }
  Transaction txn = fx.Begin();
  using P = std::vector<std::optional<Value>>;

  SECTION("exact: only that fact") {
    auto n = fx.db->DeletePattern(11, "has_role", P{a.args[0], a.args[1], a.args[2]});
    ARBITER_REQUIRE_OK(n);
    CHECK(*n == 1);
    ARBITER_REQUIRE_OK(txn.Commit());
    CHECK(fx.AllFacts() == std::vector<Fact>{g, c, b, d});
  }
  SECTION("wildcards: nullopt and Value{\"\", \"\"} match anything") {
    auto n = fx.db->DeletePattern(11, "has_role",
                                  P{std::nullopt, V("String", "member"), V("", "")});
    ARBITER_REQUIRE_OK(n);
    CHECK(*n == 3);
    ARBITER_REQUIRE_OK(txn.Commit());
    CHECK(fx.AllFacts() == std::vector<Fact>{g, a});
    // One delete change per fact, ascending, after the inserts.
    auto changes = fx.db->ChangesSince(10, 100);
    ARBITER_REQUIRE_OK(changes);
    REQUIRE(changes->size() == 3);
    CHECK((*changes)[0] == Change{11, 0, ChangeOp::kDelete, c});
    CHECK((*changes)[1] == Change{11, 1, ChangeOp::kDelete, b});
    CHECK((*changes)[2] == Change{11, 2, ChangeOp::kDelete, d});
  }
  SECTION("typed wildcard: any id of that type") {
    auto n = fx.db->DeletePattern(11, "has_role",
                                  P{V("User", ""), std::nullopt, V("Org", "acme")});
    ARBITER_REQUIRE_OK(n);
    CHECK(*n == 2);
    ARBITER_REQUIRE_OK(txn.Commit());
    CHECK(fx.AllFacts() == std::vector<Fact>{g, c, d});
  }
  SECTION("arity is part of the match") {
    auto n = fx.db->DeletePattern(11, "has_role", P{std::nullopt, std::nullopt});
    ARBITER_REQUIRE_OK(n);
    CHECK(*n == 1);
    ARBITER_REQUIRE_OK(txn.Commit());
    CHECK(fx.AllFacts() == std::vector<Fact>{c, a, b, d});
  }
  SECTION("matching nothing is not an error and writes no change") {
    auto n = fx.db->DeletePattern(11, "has_role",
                                  P{V("Team", ""), std::nullopt, std::nullopt});
    ARBITER_REQUIRE_OK(n);
    CHECK(*n == 0);
    n = fx.db->DeletePattern(11, "no_such", P{std::nullopt});
    ARBITER_REQUIRE_OK(n);
    CHECK(*n == 0);
    ARBITER_REQUIRE_OK(txn.Commit());
    CHECK(fx.db->ChangesSince(10, 100)->empty());
  }
}

TEST_CASE("tenant db: changes are ordered, paged and pruned",
          "[unit][storage]") {
  Fixture fx;
  auto fact = [](int i) { return F("is_public", {V("Repo", "r" + std::to_string(i))}); };
  {
    // One transaction applying three entries (offsets 10, 11, 12).
    Transaction txn = fx.Begin();
    ARBITER_REQUIRE_OK(fx.db->InsertFact(10, fact(1)));
    ARBITER_REQUIRE_OK(fx.db->InsertFact(10, fact(2)));
    ARBITER_REQUIRE_OK(fx.db->InsertFact(11, fact(3)));
    using P = std::vector<std::optional<Value>>;
    ARBITER_REQUIRE_OK(fx.db->DeletePattern(12, "is_public", P{fact(1).args[0]}));
    ARBITER_REQUIRE_OK(fx.db->InsertFact(12, fact(1)));
    ARBITER_REQUIRE_OK(fx.db->SetAppliedOffset(12));
    ARBITER_REQUIRE_OK(txn.Commit());
  }
  auto all = fx.db->ChangesSince(0, 100);
  ARBITER_REQUIRE_OK(all);
  REQUIRE(all->size() == 5);
  CHECK((*all)[0] == Change{10, 0, ChangeOp::kInsert, fact(1)});
  CHECK((*all)[1] == Change{10, 1, ChangeOp::kInsert, fact(2)});
  CHECK((*all)[2] == Change{11, 0, ChangeOp::kInsert, fact(3)});
  CHECK((*all)[3] == Change{12, 0, ChangeOp::kDelete, fact(1)});
  CHECK((*all)[4] == Change{12, 1, ChangeOp::kInsert, fact(1)});

  auto since11 = fx.db->ChangesSince(11, 100);
  REQUIRE(since11->size() == 2);
  CHECK((*since11)[0].offset == 12);

  // Paging with (offset, seq) cursors.
  std::vector<Change> paged;
  int64_t off = 0, seq = std::numeric_limits<int64_t>::max();
  while (true) {
    auto page = fx.db->ChangesSince(off, 2, seq);
    ARBITER_REQUIRE_OK(page);
    if (page->empty()) break;
    CHECK(page->size() <= 2);
    paged.insert(paged.end(), page->begin(), page->end());
    off = page->back().offset;
    seq = page->back().seq;
  }
  CHECK(paged == *all);

  ARBITER_REQUIRE_CODE(fx.db->ChangesSince(0, 0), absl::StatusCode::kInvalidArgument);

  {
    Transaction txn = fx.Begin();
    auto pruned = fx.db->PruneChanges(12);
    ARBITER_REQUIRE_OK(pruned);
    CHECK(*pruned == 3);
    // Never lowers the floor.
    ARBITER_REQUIRE_OK(fx.db->PruneChanges(5));
    ARBITER_REQUIRE_OK(txn.Commit());
  }
  CHECK(fx.db->Meta()->changes_floor == 12);
  ARBITER_REQUIRE_CODE(fx.db->ChangesSince(10, 100), absl::StatusCode::kOutOfRange);
  auto rest = fx.db->ChangesSince(11, 100);
  ARBITER_REQUIRE_OK(rest);
  CHECK(rest->size() == 2);
}

TEST_CASE("tenant db: a rolled-back transaction leaves nothing",
          "[unit][storage]") {
  Fixture fx;
  {
    Transaction txn = fx.Begin();
    ARBITER_REQUIRE_OK(fx.db->InsertFact(8, F("is_public", {V("Repo", "a")})));
    ARBITER_REQUIRE_OK(fx.db->SetAppliedOffset(8));
    ARBITER_REQUIRE_OK(fx.db->SetPolicy("allow(_, _, _);", 8));
    // no Commit
  }
  CHECK(*fx.db->CountFacts() == 0);
  CHECK(*fx.db->AppliedOffset() == 7);
  CHECK_FALSE(fx.db->Policy()->has_value());
  CHECK(fx.db->ChangesSince(0, 10)->empty());

  // The seq cache may be ahead after the rollback; seq still increases.
  {
    Transaction txn = fx.Begin();
    ARBITER_REQUIRE_OK(fx.db->InsertFact(8, F("is_public", {V("Repo", "b")})));
    ARBITER_REQUIRE_OK(fx.db->InsertFact(8, F("is_public", {V("Repo", "c")})));
    ARBITER_REQUIRE_OK(txn.Commit());
  }
  auto changes = fx.db->ChangesSince(0, 10);
  REQUIRE(changes->size() == 2);
  CHECK((*changes)[0].seq < (*changes)[1].seq);
}

TEST_CASE("tenant db: applied offset, policy and cluster id",
          "[unit][storage]") {
  Fixture fx;
  Transaction txn = fx.Begin();
  ARBITER_REQUIRE_OK(fx.db->SetAppliedOffset(7));  // equal: no-op
  ARBITER_REQUIRE_OK(fx.db->SetAppliedOffset(20));
  ARBITER_REQUIRE_CODE(fx.db->SetAppliedOffset(19),
                       absl::StatusCode::kFailedPrecondition);
  ARBITER_REQUIRE_OK(fx.db->SetPolicy("actor User {}", 15));
  ARBITER_REQUIRE_OK(fx.db->SetClusterId("cluster-2"));
  ARBITER_REQUIRE_OK(txn.Commit());
  CHECK(*fx.db->AppliedOffset() == 20);
  auto policy = fx.db->Policy();
  ARBITER_REQUIRE_OK(policy);
  REQUIRE(policy->has_value());
  CHECK(**policy == PolicyRecord{"actor User {}", 15});
  CHECK(fx.db->Meta()->cluster_id == "cluster-2");
}

TEST_CASE("tenant db: a read-only connection sees committed data only",
          "[unit][storage]") {
  Fixture fx;
  auto ro = TenantDb::Open(fx.path, Reader());
  ARBITER_REQUIRE_OK(ro);
  TenantDb& reader = **ro;

  Transaction txn = fx.Begin();
  ARBITER_REQUIRE_OK(fx.db->InsertFact(8, F("is_public", {V("Repo", "a")})));
  ARBITER_REQUIRE_OK(fx.db->SetAppliedOffset(8));
  CHECK(*reader.CountFacts() == 0);
  CHECK(*reader.AppliedOffset() == 7);
  ARBITER_REQUIRE_OK(txn.Commit());
  CHECK(*reader.CountFacts() == 1);
  CHECK(*reader.AppliedOffset() == 8);

  // Writes through a read-only TenantDb are refused before SQLite sees them.
  auto rtxn = Transaction::Begin(reader.db(), Transaction::Mode::kRead);
  ARBITER_REQUIRE_OK(rtxn);
  ARBITER_REQUIRE_CODE(reader.InsertFact(9, F("is_public", {V("Repo", "b")})),
                       absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace arbiter::storage
