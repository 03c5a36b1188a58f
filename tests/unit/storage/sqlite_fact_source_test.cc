#include "common/storage/sqlite_fact_source.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/eval/fact_index.h"
#include "common/storage/internal/fact_table.h"
#include "common/storage/tenant_db.h"
#include "tests/unit/storage/test_util.h"

namespace arbiter::storage {
namespace {

using testing::TempDir;
using PatternVec = std::vector<std::optional<Value>>;

Value V(std::string type, std::string id) { return Value{std::move(type), std::move(id)}; }

// The query plan of `sql` as its detail lines.
std::vector<std::string> QueryPlan(Db* db, const std::string& sql) {
  auto stmt = db->PrepareUncached("EXPLAIN QUERY PLAN " + sql);
  ARBITER_REQUIRE_OK(stmt);
  std::vector<std::string> lines;
  while (true) {
    auto row = (*stmt)->Step();
    ARBITER_REQUIRE_OK(row);
    if (!*row) break;
    lines.emplace_back((*stmt)->ColumnText(3));
  }
  return lines;
}

TEST_CASE("fact lookups: every binding pattern of every arity is an index "
          "SEARCH on a bound argument, never a SCAN of facts",
          "[unit][storage]") {
  TempDir dir;
  ARBITER_REQUIRE_OK(TenantDb::Create(dir.File("t.db"), {"t", "", 0}));
  auto tdb = TenantDb::Open(dir.File("t.db"), DbOptions{});
  ARBITER_REQUIRE_OK(tdb);
  Db* db = (*tdb)->db();
  int checked = 0;
  for (int arity = 1; arity <= kMaxArity; ++arity) {
    for (uint32_t mask = 0; mask < (1u << arity); ++mask) {
      const std::string& sql = internal::ScanSql(arity, mask);
      std::vector<std::string> plan = QueryPlan(db, sql);
      INFO("arity " << arity << " mask " << mask << "\nsql: " << sql
                    << "\nplan: " << absl::StrJoin(plan, " | "));
      REQUIRE(!plan.empty());
      const std::string& line = plan[0];
      CHECK(line.rfind("SEARCH facts USING ", 0) == 0);
      CHECK(line.find("predicate=? AND arity=?") != std::string::npos);
      for (const std::string& l : plan) CHECK(l.find("SCAN") == std::string::npos);
      if (mask != 0) {
        // The seek must use a bound argument, not just the predicate: an
        // index on (predicate, arity) alone would scan the whole relation.
        bool seeks_bound_arg = false;
        for (int k = 0; k < arity; ++k) {
          if ((mask & (1u << k)) == 0) continue;
          if (line.find(absl::StrCat("t", k + 1, "=? AND i", k + 1, "=?")) !=
              std::string::npos) {
            seeks_bound_arg = true;
          }
        }
        CHECK(seeks_bound_arg);
      }
      // Patterns with at most one bound argument (the ones whose answers can
      // be large) stream in index order: no sort, so early stop is cheap.
      // With two or more bound, SQLite (3.40) cannot skip an index column
      // that is constrained only by a WHERE filter when matching ORDER BY,
      // so it may sort the (small, already seeked) match set.
      if (std::popcount(mask) <= 1) {
        CHECK(plan.size() == 1);
        for (const std::string& l : plan) {
          CHECK(l.find("TEMP B-TREE") == std::string::npos);
        }
      } else {
        for (size_t i = 1; i < plan.size(); ++i) {
          CHECK(plan[i].find("USE TEMP B-TREE") == 0);
        }
      }
      ++checked;
    }
  }
  CHECK(checked == 2 + 4 + 8 + 16 + 32);

  // The change feed is a range seek too.
  std::vector<std::string> plan = QueryPlan(
      db, "SELECT * FROM changes WHERE (log_offset, seq) > (?1, ?2) "
          "ORDER BY log_offset, seq LIMIT ?3");
  INFO(absl::StrJoin(plan, " | "));
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].rfind("SEARCH changes USING PRIMARY KEY", 0) == 0);
}

// ------------------------------------------------------------- conformance

// Facts with the awkward corners of ordering: several arities of one
// predicate, types and ids that sort differently as numbers or by case,
// shared values across positions, multi-byte UTF-8, and a duplicate.
std::vector<Fact> ConformanceFacts() {
  std::vector<Fact> facts;
  const std::vector<Value> values = {
      V("User", "alice"), V("User", "bob"),      V("User", "Bob"),
      V("user", "alice"), V("Group", "eng"),     V("Integer", "10"),
      V("Integer", "9"),  V("String", "member"), V("String", "ä"),
      V("Org", "acme"),   V("Org", "acme-2"),
  };
  const size_t n = values.size();
  for (size_t i = 0; i < n; ++i) {
    facts.push_back({"is_public", {values[i]}});
    facts.push_back({"pair", {values[i], values[(i * 3 + 1) % n]}});
    facts.push_back({"pair", {values[i], values[(i * 5 + 2) % n]}});
    facts.push_back({"has_role", {values[i % 5], values[7 + i % 2], values[9 + i % 2]}});
    facts.push_back({"has_role", {values[i % 5], values[7]}});  // arity 2
    facts.push_back({"quad", {values[i], values[i % 3], values[(i + 1) % 4], values[i % 2]}});
    facts.push_back({"five", {values[i % 2], values[i % 3], values[i], values[(i + 7) % n],
                              values[i % 4]}});
  }
  facts.push_back(facts.front());  // a duplicate is stored once
  return facts;
}

// The reference answer: filter, dedupe, sort ascending by arguments.
std::vector<std::vector<Value>> Expected(const std::vector<Fact>& facts,
                                         const std::string& predicate,
                                         const PatternVec& pattern) {
  std::set<std::vector<Value>> out;
  for (const Fact& f : facts) {
    if (f.predicate != predicate || f.args.size() != pattern.size()) continue;
    bool match = true;
    for (size_t k = 0; k < pattern.size(); ++k) {
      if (pattern[k].has_value() && *pattern[k] != f.args[k]) match = false;
    }
    if (match) out.insert(f.args);
  }
  return {out.begin(), out.end()};
}

template <typename T>
struct SourceHarness;

template <>
struct SourceHarness<eval::FactIndex> {
  explicit SourceHarness(const std::vector<Fact>& facts) {
    auto built = eval::FactIndex::Create(facts);
    ARBITER_REQUIRE_OK(built);
    source_ = *std::move(built);
  }
  const eval::FactSource& source() const { return *source_; }
  std::shared_ptr<const eval::FactIndex> source_;
};

template <>
struct SourceHarness<SqliteFactSource> {
  explicit SourceHarness(const std::vector<Fact>& facts) {
    const std::string path = dir_.File("t.db");
    ARBITER_REQUIRE_OK(TenantDb::Create(path, {"t", "", 0}));
    {
      auto writer = TenantDb::Open(path, DbOptions{});
      ARBITER_REQUIRE_OK(writer);
      auto txn = Transaction::Begin((*writer)->db(), Transaction::Mode::kImmediate);
      ARBITER_REQUIRE_OK(txn);
      for (const Fact& f : facts) ARBITER_REQUIRE_OK((*writer)->InsertFact(1, f));
      ARBITER_REQUIRE_OK(txn->Commit());
    }
    DbOptions ro;
    ro.read_only = true;
    auto reader = TenantDb::Open(path, ro);
    ARBITER_REQUIRE_OK(reader);
    db_ = *std::move(reader);
    auto txn = Transaction::Begin(db_->db(), Transaction::Mode::kRead);
    ARBITER_REQUIRE_OK(txn);
    txn_.emplace(*std::move(txn));
    source_ = std::make_unique<SqliteFactSource>(db_->db());
  }
  const eval::FactSource& source() const { return *source_; }

  TempDir dir_;
  std::unique_ptr<TenantDb> db_;
  std::optional<Transaction> txn_;
  std::unique_ptr<SqliteFactSource> source_;
};

std::vector<std::vector<Value>> Collect(const eval::FactSource& source,
                                        const std::string& predicate,
                                        const PatternVec& pattern) {
  std::vector<std::vector<Value>> out;
  absl::Status s = source.Scan(predicate, pattern, [&](std::span<const Value> args) {
    out.emplace_back(args.begin(), args.end());
    return true;
  });
  ARBITER_REQUIRE_OK(s);
  return out;
}

TEMPLATE_TEST_CASE("fact source conformance: every pattern returns the "
                   "matching facts, ascending, with early stop",
                   "[unit][storage][facts]", eval::FactIndex,
                   SqliteFactSource) {
  const std::vector<Fact> facts = ConformanceFacts();
  SourceHarness<TestType> harness(facts);
  const eval::FactSource& source = harness.source();

  // Every (predicate, arity), every mask, bound to the values of every
  // stored fact of that shape, plus one value stored nowhere.
  std::set<std::pair<std::string, size_t>> shapes;
  for (const Fact& f : facts) shapes.insert({f.predicate, f.args.size()});
  int scans = 0, nonempty = 0;
  for (const auto& [predicate, arity] : shapes) {
    for (uint32_t mask = 0; mask < (1u << arity); ++mask) {
      std::set<PatternVec> patterns;
      for (const Fact& f : facts) {
        if (f.predicate != predicate || f.args.size() != arity) continue;
        PatternVec p(arity);
        for (size_t k = 0; k < arity; ++k) {
          if (mask & (1u << k)) p[k] = f.args[k];
        }
        patterns.insert(p);
        if (mask != 0) {
          PatternVec absent = p;
          for (size_t k = 0; k < arity; ++k) {
            if (mask & (1u << k)) {
              absent[k] = V("Nobody", "x");
              break;
            }
          }
          patterns.insert(absent);
        }
      }
      for (const PatternVec& p : patterns) {
        const auto expected = Expected(facts, predicate, p);
        INFO("scan " << predicate << "/" << arity << " mask " << mask);
        REQUIRE(Collect(source, predicate, p) == expected);
        ++scans;
        if (!expected.empty()) ++nonempty;

        // Early stop: returning false ends the scan after that fact.
        int calls = 0;
        std::vector<Value> first;
        ARBITER_REQUIRE_OK(source.Scan(predicate, p, [&](std::span<const Value> args) {
          ++calls;
          first.assign(args.begin(), args.end());
          return false;
        }));
        REQUIRE(calls == (expected.empty() ? 0 : 1));
        if (!expected.empty()) REQUIRE(first == expected.front());
      }
    }
  }
  CHECK(scans > 800);
  CHECK(nonempty > 400);

  // Unknown predicate, wrong arity, empty pattern: nothing, no error.
  CHECK(Collect(source, "nope", PatternVec(1)).empty());
  CHECK(Collect(source, "is_public", PatternVec(2)).empty());
  CHECK(Collect(source, "is_public", PatternVec{}).empty());
  // A stored value under another type is another value.
  CHECK(Collect(source, "is_public", PatternVec{V("Bob", "User")}).empty());
}

TEMPLATE_TEST_CASE("fact source conformance: a callback may scan again",
                   "[unit][storage][facts]", eval::FactIndex,
                   SqliteFactSource) {
  // parent(child, parent): a recursive walk scans inside a scan callback,
  // the same shape the evaluator issues for folder hierarchies.
  std::vector<Fact> facts;
  for (int i = 1; i < 20; ++i) {
    facts.push_back({"parent", {V("Folder", absl::StrCat("f", i)),
                                V("Folder", absl::StrCat("f", (i - 1) / 2))}});
  }
  SourceHarness<TestType> harness(facts);
  const eval::FactSource& source = harness.source();
  std::vector<std::string> ancestors;
  std::function<void(const Value&)> walk = [&](const Value& v) {
    PatternVec p = {v, std::nullopt};
    ARBITER_REQUIRE_OK(source.Scan("parent", p, [&](std::span<const Value> args) {
      ancestors.push_back(args[1].id);
      walk(args[1]);
      return true;
    }));
  };
  walk(V("Folder", "f19"));
  CHECK(ancestors == std::vector<std::string>{"f9", "f4", "f1", "f0"});
}

TEST_CASE("sqlite fact source: one read transaction sees one offset",
          "[unit][storage]") {
  TempDir dir;
  const std::string path = dir.File("t.db");
  ARBITER_REQUIRE_OK(TenantDb::Create(path, {"t", "", 0}));
  auto writer = TenantDb::Open(path, DbOptions{});
  ARBITER_REQUIRE_OK(writer);
  DbOptions ro;
  ro.read_only = true;
  auto reader = TenantDb::Open(path, ro);
  ARBITER_REQUIRE_OK(reader);
  SqliteFactSource source((*reader)->db());

  auto apply = [&](int64_t offset, const std::string& id) {
    auto txn = Transaction::Begin((*writer)->db(), Transaction::Mode::kImmediate);
    ARBITER_REQUIRE_OK(txn);
    ARBITER_REQUIRE_OK((*writer)->InsertFact(offset, {"is_public", {V("Repo", id)}}));
    ARBITER_REQUIRE_OK((*writer)->SetAppliedOffset(offset));
    ARBITER_REQUIRE_OK(txn->Commit());
  };
  apply(1, "a");
  auto rtxn = Transaction::Begin((*reader)->db(), Transaction::Mode::kRead);
  ARBITER_REQUIRE_OK(rtxn);
  CHECK(*(*reader)->AppliedOffset() == 1);
  apply(2, "b");
  CHECK(Collect(source, "is_public", PatternVec(1)).size() == 1);
  CHECK(*(*reader)->AppliedOffset() == 1);
  ARBITER_REQUIRE_OK(rtxn->Commit());
  CHECK(Collect(source, "is_public", PatternVec(1)).size() == 2);
}

}  // namespace
}  // namespace arbiter::storage
