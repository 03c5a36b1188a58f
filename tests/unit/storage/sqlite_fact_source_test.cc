#include "common/storage/sqlite_fact_source.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/eval/fact_index.h"
#include "common/replica/change_set.h"
#include "common/storage/internal/fact_table.h"
#include "common/storage/tenant_db.h"
#include "tests/unit/eval/index_checks.h"
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


// ------------------------------------------- layered index conformance
//
// The SQLite path is the reference for the layered index: a tenant database
// takes a seeded random run of writes, and after every offset the index is
// built the way the writer and the reader build it — a base read from the
// database at some earlier offset, a delta of the changes since that base,
// a top layer of the changes since the delta, and now and then a base merged
// from the stack (BuildBaseFromStack) — and every binding pattern of every
// relation must find exactly what SqliteFactSource finds.

// Drives one tenant database and mirrors the layers built over it.
class LayeredHarness {
 public:
  explicit LayeredHarness(uint32_t seed) : rng_(seed) {
    path_ = dir_.File("t.db");
    ARBITER_REQUIRE_OK(TenantDb::Create(path_, {"t", "", 0}));
    auto w = TenantDb::Open(path_, DbOptions{});
    ARBITER_REQUIRE_OK(w);
    writer_ = *std::move(w);
    // Durability is not under test here, and an fsync per entry would
    // dominate the run time.
    ARBITER_REQUIRE_OK(writer_->db()->Exec("PRAGMA synchronous=OFF"));
    DbOptions ro;
    ro.read_only = true;
    auto r = TenantDb::Open(path_, ro);
    ARBITER_REQUIRE_OK(r);
    reader_ = *std::move(r);
    sqlite_ = std::make_unique<SqliteFactSource>(reader_->db());
    for (int i = 0; i < 5; ++i) users_.push_back(V("User", absl::StrCat("u", i)));
    users_.push_back(V("User", "U0"));  // sorts before u0
    users_.push_back(V("Group", "eng"));
    for (int i = 0; i < 4; ++i) repos_.push_back(V("Repo", absl::StrCat("r", i)));
    repos_.push_back(V("Org", "acme"));
    repos_.push_back(V("Org", "ä"));
    roles_ = {V(kStringType, "admin"), V(kStringType, "reader"), V(kStringType, "parent")};
  }

  // One log entry: a few random writes in one transaction, at the next
  // offset.
  void Write() {
    ++offset_;
    auto txn = Transaction::Begin(writer_->db(), Transaction::Mode::kImmediate);
    ARBITER_REQUIRE_OK(txn);
    const int ops = 1 + static_cast<int>(rng_() % 6);
    for (int i = 0; i < ops; ++i) {
      const uint32_t op = rng_() % 10;
      if (op < 4) {
        Insert(RandomFact());
      } else if (op < 5 && !deleted_.empty()) {
        Insert(*Pick(deleted_));  // a re-insert
      } else if (op < 7 && !live_.empty()) {
        const Fact f = *Pick(live_);  // an exact delete
        Delete(f.predicate, PatternVec(f.args.begin(), f.args.end()));
      } else if (op < 9 && !live_.empty()) {
        // A wildcard or typed wildcard delete around a live fact.
        const Fact f = *Pick(live_);
        PatternVec p(f.args.begin(), f.args.end());
        bool any_free = false;
        for (auto& v : p) {
          const uint32_t how = rng_() % 3;
          if (how == 0) {
            v = std::nullopt;
            any_free = true;
          } else if (how == 1) {
            v = V(v->type, "");  // any value of this type
            any_free = true;
          }
        }
        if (!any_free) p[0] = Value{"", ""};  // the other spelling of a wildcard
        Delete(f.predicate, p);
      } else {
        Insert(RandomFact());
      }
    }
    ARBITER_REQUIRE_OK(writer_->SetAppliedOffset(offset_));
    ARBITER_REQUIRE_OK(txn->Commit());
  }

  // The layers, as the writer's maintainer keeps them.
  void NewBaseFromDb() {
    auto base = replica::BuildBaseFromDb(*reader_);
    ARBITER_REQUIRE_OK(base);
    REQUIRE((*base)->offset() == offset_);
    base_ = *base;
    delta_ = nullptr;
    since_base_.Clear();
    since_base_.set_offset(base_->offset());
  }
  void ReadChanges(replica::ChangeSet* into, int64_t upto) {
    auto txn = Transaction::Begin(reader_->db(), Transaction::Mode::kRead);
    ARBITER_REQUIRE_OK(txn);
    ARBITER_REQUIRE_OK(replica::ForEachChange(
        *reader_, into->offset(), upto, [&](Change c) { into->Apply(std::move(c)); },
        /*page=*/3));  // small pages: the paging is exercised too
    ARBITER_REQUIRE_OK(txn->Commit());
    into->set_offset(upto);
  }
  std::shared_ptr<const eval::FactIndex> BaseOnly() const {
    auto s = eval::FactIndex::Stack({base_});
    ARBITER_REQUIRE_OK(s);
    return *s;
  }
  void NewDelta() {
    ReadChanges(&since_base_, offset_);
    auto d = since_base_.BuildLayer(BaseOnly().get());
    ARBITER_REQUIRE_OK(d);
    delta_ = *d;
  }
  void MergeBase() {
    ReadChanges(&since_base_, offset_);
    auto merged = replica::BuildBaseFromStack(*BaseOnly(), since_base_);
    ARBITER_REQUIRE_OK(merged);
    REQUIRE((*merged)->offset() == offset_);
    REQUIRE((*merged)->kind() == eval::Segment::Kind::kBase);
    base_ = *merged;
    delta_ = nullptr;
    since_base_.Clear();
    since_base_.set_offset(base_->offset());
  }
  // base (+ delta), as named in control.db.
  std::shared_ptr<const eval::FactIndex> Shared() const {
    std::vector<std::shared_ptr<const eval::Segment>> layers = {base_};
    if (delta_ != nullptr) layers.push_back(delta_);
    auto s = eval::FactIndex::Stack(std::move(layers));
    ARBITER_REQUIRE_OK(s);
    return *s;
  }
  // The reader's view: the shared stack plus its in-memory top layer.
  std::shared_ptr<const eval::FactIndex> ReaderView(replica::ChangeSet* top) {
    auto shared = Shared();
    top->Clear();
    top->set_offset(shared->offset());
    ReadChanges(top, offset_);
    if (top->empty()) return shared;
    auto layer = top->BuildLayer(shared.get());
    ARBITER_REQUIRE_OK(layer);
    std::vector<std::shared_ptr<const eval::Segment>> layers = shared->layers();
    layers.push_back(*layer);
    auto s = eval::FactIndex::Stack(std::move(layers));
    ARBITER_REQUIRE_OK(s);
    return *s;
  }

  // Every pattern of `index` against SQLite; returns the patterns compared.
  int Check(const eval::FactIndex& index) {
    INFO("offset " << offset_ << ", index layers " << index.layers().size());
    auto count = reader_->CountFacts();
    ARBITER_REQUIRE_OK(count);
    REQUIRE(static_cast<int64_t>(index.size()) == *count);
    REQUIRE(static_cast<int64_t>(live_.size()) == *count);
    std::vector<Fact> probe(ever_.begin(), ever_.end());
    for (const Fact& f : probe) {
      INFO(ToString(f));
      REQUIRE(index.Contains(f) == live_.contains(f));
    }
    return eval::testing::CheckIndexAnswers(
        index, probe, [&](const std::string& p, const PatternVec& pat) {
          return Collect(*sqlite_, p, pat);
        });
  }

  std::mt19937& rng() { return rng_; }
  int64_t offset() const { return offset_; }
  const std::shared_ptr<const eval::Segment>& base() const { return base_; }
  const std::shared_ptr<const eval::Segment>& delta() const { return delta_; }
  const replica::ChangeSet& since_base() const { return since_base_; }
  int wildcard_deletes() const { return wildcard_deletes_; }

 private:
  template <typename C>
  typename C::const_iterator Pick(const C& c) {
    auto it = c.begin();
    std::advance(it, rng_() % c.size());
    return it;
  }
  Fact RandomFact() {
    auto pick = [&](const std::vector<Value>& v) { return v[rng_() % v.size()]; };
    switch (rng_() % 5) {
      case 0:
        return {"is_public", {pick(repos_)}};
      case 1:
        return {"has_role", {pick(users_), pick(roles_)}};  // arity 2
      case 2:
        return {"has_relation", {pick(repos_), V(kStringType, "parent"), pick(repos_)}};
      default:
        return {"has_role", {pick(users_), pick(roles_), pick(repos_)}};
    }
  }
  void Insert(Fact f) {  // a copy: f may be an element of deleted_
    auto stored = writer_->InsertFact(offset_, f);
    ARBITER_REQUIRE_OK(stored);
    REQUIRE(*stored == !live_.contains(f));
    live_.insert(f);
    deleted_.erase(f);
    ever_.insert(f);
  }
  void Delete(const std::string& predicate, const PatternVec& pattern) {
    auto n = writer_->DeletePattern(offset_, predicate, pattern);
    ARBITER_REQUIRE_OK(n);
    int64_t expected = 0;
    for (auto it = live_.begin(); it != live_.end();) {
      bool match = it->predicate == predicate && it->args.size() == pattern.size();
      for (size_t k = 0; k < pattern.size() && match; ++k) {
        const auto& v = pattern[k];
        if (!v.has_value() || (v->type.empty() && v->id.empty())) continue;
        match = v->type == it->args[k].type && (v->id.empty() || v->id == it->args[k].id);
      }
      if (match) {
        ++expected;
        deleted_.insert(*it);
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
    REQUIRE(*n == expected);
    bool wildcard = false;
    for (const auto& v : pattern) wildcard |= !v.has_value() || v->id.empty();
    if (wildcard && expected > 0) ++wildcard_deletes_;
  }

  std::mt19937 rng_;
  TempDir dir_;
  std::string path_;
  std::unique_ptr<TenantDb> writer_, reader_;
  std::unique_ptr<SqliteFactSource> sqlite_;
  std::vector<Value> users_, repos_, roles_;
  int64_t offset_ = 0;
  std::set<Fact> live_, deleted_, ever_;
  std::shared_ptr<const eval::Segment> base_, delta_;
  replica::ChangeSet since_base_;
  int wildcard_deletes_ = 0;  // pattern deletes that removed something
};

TEST_CASE("layered index conformance: base + delta + top over random writes answer "
          "as SQLite does at every offset",
          "[unit][storage][facts]") {
  int compared = 0, deltas = 0, merges = 0, wildcard_deletes = 0, three_layers = 0;
  for (uint32_t seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    LayeredHarness h(seed);
    replica::ChangeSet top;
    for (int step = 0; step < 40; ++step) {
      h.Write();
      const uint32_t roll = h.rng()() % 10;
      if (h.base() == nullptr || roll == 0) {
        h.NewBaseFromDb();
      } else if (roll < 4) {
        h.NewDelta();
        ++deltas;
      } else if (roll == 4) {
        h.MergeBase();
        ++merges;
      }
      auto view = h.ReaderView(&top);
      if (view->layers().size() == 3) ++three_layers;
      compared += h.Check(*view);
      // The shared layers alone are the state at their own offset; a base
      // merged from the whole view is the state now.
      if (step % 3 == 2) {
        auto merged = replica::BuildBaseFromStack(*h.Shared(), top);
        ARBITER_REQUIRE_OK(merged);
        CHECK((*merged)->offset() == h.offset());
        auto alone = eval::FactIndex::Stack({*merged});
        ARBITER_REQUIRE_OK(alone);
        compared += h.Check(**alone);
      }
    }
    wildcard_deletes += h.wildcard_deletes();
  }
  CHECK(compared > 5000);
  CHECK(deltas > 10);
  CHECK(merges > 3);
  CHECK(wildcard_deletes > 10);
  CHECK(three_layers > 10);
}

TEST_CASE("layered index conformance: a base rebuilt by BuildBaseFromStack answers "
          "as one read from the database",
          "[unit][storage][facts]") {
  LayeredHarness h(11);
  for (int i = 0; i < 8; ++i) h.Write();
  h.NewBaseFromDb();
  for (int i = 0; i < 8; ++i) h.Write();
  h.NewDelta();
  for (int i = 0; i < 8; ++i) h.Write();
  // The reader's three layers, then every live fact merged into one base.
  replica::ChangeSet top;
  auto view = h.ReaderView(&top);
  REQUIRE(view->layers().size() == 3);
  h.Check(*view);
  auto merged = replica::BuildBaseFromStack(*h.Shared(), top);
  ARBITER_REQUIRE_OK(merged);
  auto from_stack = eval::FactIndex::Stack({*merged});
  ARBITER_REQUIRE_OK(from_stack);
  h.Check(**from_stack);
  // The writer's merge (base + its changes since) lands on the same facts.
  h.MergeBase();
  auto writer_merge = eval::FactIndex::Stack({h.base()});
  ARBITER_REQUIRE_OK(writer_merge);
  h.Check(**writer_merge);
  CHECK((*writer_merge)->size() == (*from_stack)->size());
  // With no changes the merge is a copy at the stack's offset.
  replica::ChangeSet none;
  none.set_offset(h.offset());
  auto copy = replica::BuildBaseFromStack(**writer_merge, none);
  ARBITER_REQUIRE_OK(copy);
  CHECK((*copy)->offset() == h.base()->offset());
  auto copy_stack = eval::FactIndex::Stack({*copy});
  ARBITER_REQUIRE_OK(copy_stack);
  h.Check(**copy_stack);
  // The merged base reads the same as a fresh one from the database.
  h.NewBaseFromDb();
  auto from_db = eval::FactIndex::Stack({h.base()});
  ARBITER_REQUIRE_OK(from_db);
  CHECK((*from_db)->size() == (*copy_stack)->size());
  // The builder's output depends only on the facts and the offset: the same
  // bytes, however the facts were gathered.
  CHECK(h.base()->bytes() == (*copy)->bytes());
  // And further writes stack on the merged base as on the one from the db.
  for (int i = 0; i < 5; ++i) h.Write();
  auto after = h.ReaderView(&top);
  h.Check(*after);
}

}  // namespace
}  // namespace arbiter::storage
