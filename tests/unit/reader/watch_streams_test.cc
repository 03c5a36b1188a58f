// Watch's reading of a tenant's `changes` (ReadChanges) against a real
// tenant database: paging inside an entry, resuming from any token without
// a lost or repeated change, filters, the bound, pruned history
// (OUT_OF_RANGE with the oldest position), and request validation.

#include "services/reader/watch_streams.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/api/api.h"
#include "common/storage/sqlite.h"
#include "common/storage/tenant_db.h"
#include "tests/testing/process.h"

namespace arbiter::reader {
namespace {

#define REQUIRE_OK(expr)      \
  do {                        \
    absl::Status _s = (expr); \
    INFO(_s.ToString());      \
    REQUIRE(_s.ok());         \
  } while (0)

Fact Role(const std::string& user, const std::string& doc) {
  return Fact{"has_role", {{"User", user}, {kStringType, "viewer"}, {"Doc", doc}}};
}
Fact Parent(const std::string& doc) {
  return Fact{"has_relation", {{"Doc", doc}, {kStringType, "parent"}, {"Folder", "f"}}};
}

// A tenant database with changes at offsets 2 (5), 3 (1 + 1), 5 (a delete
// pattern removing 3), 6 (250) and 8 (1).
struct Fixture {
  Fixture() {
    path = dir.File("acme.db");
    REQUIRE_OK(storage::TenantDb::Create(path, {"acme", "c", 1}));
    auto opened = storage::TenantDb::Open(path, {});
    REQUIRE_OK(opened.status());
    db = std::move(*opened);
    Apply(2, [&] {
      for (int i = 0; i < 5; ++i) Insert(2, Role("u" + std::to_string(i), "d"));
    });
    Apply(3, [&] {
      Insert(3, Role("v", "d"));
      Insert(3, Parent("d"));
    });
    Apply(5, [&] {
      std::vector<std::optional<Value>> p = {Value{"User", ""}, std::nullopt, Value{"Doc", "d"}};
      auto n = db->DeletePattern(5, "has_role", p);
      REQUIRE_OK(n.status());
      REQUIRE(*n == 6);
    });
    Apply(6, [&] {
      for (int i = 0; i < 250; ++i) Insert(6, Role("w" + std::to_string(i), "e"));
    });
    Apply(8, [&] { Insert(8, Parent("e")); });
  }
  template <typename F>
  void Apply(int64_t offset, F f) {
    auto txn = storage::Transaction::Begin(db->db(), storage::Transaction::Mode::kImmediate);
    REQUIRE_OK(txn.status());
    f();
    REQUIRE_OK(db->SetAppliedOffset(offset));
    REQUIRE_OK(txn->Commit());
  }
  void Insert(int64_t offset, const Fact& f) {
    auto r = db->InsertFact(offset, f);
    REQUIRE_OK(r.status());
  }
  std::vector<storage::Change> All() {
    auto rows = db->ChangesSince(0, 100000);
    REQUIRE_OK(rows.status());
    return *rows;
  }
  // Reads from `cursor` to `upto` in messages of `step`; every message's
  // cursor is appended to `positions`.
  std::vector<storage::Change> ReadAll(ChangeCursor cursor, int64_t upto, int step,
                                       std::vector<ChangeCursor>* positions = nullptr,
                                       const std::vector<v1::FactPattern>& filters = {}) {
    std::vector<storage::Change> out;
    for (int round = 0; round < 10000; ++round) {
      int64_t oldest = -1;
      auto batch = ReadChanges(*db, upto, filters, step, 100000, &cursor, &oldest);
      REQUIRE_OK(batch.status());
      out.insert(out.end(), batch->changes.begin(), batch->changes.end());
      if (positions != nullptr) positions->push_back(cursor);
      if (batch->caught_up) {
        CHECK(cursor.skip == 0);
        CHECK(cursor.offset == upto);
        return out;
      }
      REQUIRE(batch->more);
    }
    FAIL("never caught up");
    return out;
  }
  testing::TempDir dir;
  std::string path;
  std::unique_ptr<storage::TenantDb> db;
};

TEST_CASE("watch: messages cut inside entries resume from any token without loss or repeat",
          "[unit][reader][watch]") {
  Fixture fx;
  const std::vector<storage::Change> all = fx.All();
  REQUIRE(all.size() == 5 + 2 + 6 + 250 + 1);
  for (int step : {1, 7, 1000}) {
    INFO("step " << step);
    std::vector<ChangeCursor> positions;
    CHECK(fx.ReadAll(ChangeCursor{}, 8, step, &positions) == all);
    // Each position, as a token carries it (no storage sequence number),
    // resumes with exactly the changes after it.
    size_t delivered = 0;
    for (size_t i = 0; i < positions.size(); ++i) {
      delivered = std::min(all.size(), delivered + static_cast<size_t>(step));
      if (i % 5 != 0 && i + 1 != positions.size()) continue;
      const ChangeCursor& at = positions[i];
      INFO("position " << i << ": offset " << at.offset << " skip " << at.skip);
      ChangeCursor token{.offset = at.offset, .skip = at.skip};
      std::vector<storage::Change> rest = fx.ReadAll(token, 8, 13);
      std::vector<storage::Change> expected(all.begin() + static_cast<ptrdiff_t>(delivered),
                                            all.end());
      CHECK(rest == expected);
    }
  }
}

TEST_CASE("watch: a position inside an entry says so, and a whole one does not",
          "[unit][reader][watch]") {
  Fixture fx;
  ChangeCursor c;
  int64_t oldest = 0;
  // 5 changes of entry 2, then 2 of entry 3: ends inside entry 3.
  auto b = ReadChanges(*fx.db, 8, {}, 6, 100000, &c, &oldest);
  REQUIRE_OK(b.status());
  CHECK(b->changes.size() == 6);
  CHECK(c.offset == 2);
  CHECK(c.skip == 1);
  // The next message ends with entry 3 complete (the following change is
  // entry 5's).
  b = ReadChanges(*fx.db, 8, {}, 1, 100000, &c, &oldest);
  REQUIRE_OK(b.status());
  CHECK(b->changes.size() == 1);
  CHECK(c.offset == 3);
  CHECK(c.skip == 0);
  // The token of a position round-trips through the API encoding.
  auto t = api::DecodeConsistencyToken(api::EncodeConsistencyToken("c", 2, 1));
  REQUIRE_OK(t.status());
  CHECK(t->offset() == 2);
  CHECK(t->watch_skip() == 1);
}

TEST_CASE("watch: filters, the bound, a token ahead of the host, and scanning limits",
          "[unit][reader][watch]") {
  Fixture fx;
  v1::FactPattern parents;
  parents.set_predicate("has_relation");
  for (int i = 0; i < 3; ++i) parents.add_args();
  std::vector<storage::Change> got = fx.ReadAll(ChangeCursor{}, 8, 1000, nullptr, {parents});
  REQUIRE(got.size() == 2);
  CHECK(got[0].offset == 3);
  CHECK(got[1].offset == 8);

  // Up to offset 3 only: what entry 5 and later did is not read.
  got = fx.ReadAll(ChangeCursor{}, 3, 1000);
  CHECK(got.size() == 7);

  // A cursor ahead of the bound (a token from a host further on): nothing,
  // and it does not move back.
  ChangeCursor ahead{.offset = 20};
  int64_t oldest = 0;
  auto b = ReadChanges(*fx.db, 8, {}, 1000, 100000, &ahead, &oldest);
  REQUIRE_OK(b.status());
  CHECK(b->changes.empty());
  CHECK(ahead.offset == 20);
  // Inside an entry this host has not applied: it waits, unchanged.
  ChangeCursor inside{.offset = 5, .skip = 3};
  b = ReadChanges(*fx.db, 5, {}, 1000, 100000, &inside, &oldest);
  REQUIRE_OK(b.status());
  CHECK(b->changes.empty());
  CHECK_FALSE(b->more);
  CHECK(inside.offset == 5);
  CHECK(inside.skip == 3);

  // A filter that rejects everything still moves on, max_scanned at a time.
  v1::FactPattern none;
  none.set_predicate("nothing");
  none.add_args();
  ChangeCursor c;
  b = ReadChanges(*fx.db, 8, {none}, 1000, 100, &c, &oldest);
  REQUIRE_OK(b.status());
  CHECK(b->changes.empty());
  CHECK(b->more);
  CHECK(c.offset + c.skip > 0);
}

TEST_CASE("watch: pruned history is OUT_OF_RANGE with the oldest position",
          "[unit][reader][watch]") {
  Fixture fx;
  fx.Apply(9, [&] {
    auto pruned = fx.db->PruneChanges(5);
    REQUIRE_OK(pruned.status());
  });
  ChangeCursor c{.offset = 2};
  int64_t oldest = 0;
  auto b = ReadChanges(*fx.db, 9, {}, 1000, 100000, &c, &oldest);
  CHECK(b.status().code() == absl::StatusCode::kOutOfRange);
  CHECK(oldest == 4);
  ChangeCursor from_oldest{.offset = oldest};
  std::vector<storage::Change> rest = fx.ReadAll(from_oldest, 9, 1000);
  CHECK(rest.size() == 6 + 250 + 1);
}

TEST_CASE("watch: request validation names the field", "[unit][reader][watch]") {
  v1::WatchRequest r;
  r.set_tenant("acme");
  REQUIRE_OK(ValidateWatch(r).status());
  CHECK(ValidateWatch(r)->heartbeat == kDefaultWatchHeartbeat);

  v1::WatchRequest bad = r;
  bad.set_tenant("");
  CHECK_THAT(std::string(ValidateWatch(bad).status().message()), Catch::StartsWith("tenant:"));
  bad = r;
  bad.set_after_token("not a token");
  CHECK(ValidateWatch(bad).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(ValidateWatch(bad).status().message()),
             Catch::StartsWith("after_token:"));
  bad = r;
  bad.set_heartbeat_interval_ms(50);
  CHECK_THAT(std::string(ValidateWatch(bad).status().message()),
             Catch::StartsWith("heartbeat_interval_ms:"));
  bad = r;
  bad.add_filters()->set_predicate("has_role");  // no arguments
  CHECK_THAT(std::string(ValidateWatch(bad).status().message()),
             Catch::StartsWith("filters[0]"));
  bad = r;
  for (int i = 0; i <= kMaxWatchFilters; ++i) {
    v1::FactPattern* p = bad.add_filters();
    p->set_predicate("p");
    p->add_args();
  }
  CHECK(ValidateWatch(bad).status().code() == absl::StatusCode::kResourceExhausted);

  v1::WatchRequest ok = r;
  ok.set_after_token(api::EncodeConsistencyToken("c", 17, 3));
  ok.set_heartbeat_interval_ms(250);
  auto plan = ValidateWatch(ok);
  REQUIRE_OK(plan.status());
  CHECK(plan->after->offset() == 17);
  CHECK(plan->after->watch_skip() == 3);
  CHECK(plan->heartbeat == absl::Milliseconds(250));
}

}  // namespace
}  // namespace arbiter::reader
