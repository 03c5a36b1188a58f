// The writer's index maintainer against real tenant databases in a temporary
// generation directory, written the way the applier writes them (facts and
// the applied offset in one transaction).

#include "services/writer/index_maintainer.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eval/fact_index.h"
#include "common/eval/segment.h"
#include "common/storage/control_db.h"
#include "common/storage/sqlite.h"
#include "common/storage/tenant_db.h"
#include "tests/testing/process.h"

namespace arbiter::writer {
namespace {

namespace fs = std::filesystem;
using Ready = std::vector<std::pair<std::string, storage::TenantIndex>>;

#define REQUIRE_OK(expr)      \
  do {                        \
    absl::Status _s = (expr); \
    INFO(_s.ToString());      \
    REQUIRE(_s.ok());         \
  } while (0)

Fact Role(const std::string& user, const std::string& role, const std::string& doc) {
  return Fact{"has_role", {{"User", user}, {kStringType, role}, {"Doc", doc}}};
}

// Polls `done` until it holds or `timeout` passes.
template <typename F>
bool Eventually(F&& done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// A generation directory with tenant databases, written as the applier
// writes them.
class Generation {
 public:
  Generation() : dir_(tmp_.File("gen-1")) { fs::create_directories(dir_ + "/tenants"); }

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& relative) const { return dir_ + "/" + relative; }
  bool Exists(const std::string& relative) const { return fs::exists(Path(relative)); }

  void AddTenant(const std::string& name, int64_t offset) {
    const std::string path = Path("tenants/" + name + ".db");
    REQUIRE_OK(storage::TenantDb::Create(path, {name, "cluster-1", offset}));
    auto db = storage::TenantDb::Open(path, {});
    REQUIRE_OK(db.status());
    tenants_[name] = std::move(*db);
    offsets_[name] = offset;
  }

  // One applied entry of `name` at `offset`.
  void Apply(const std::string& name, int64_t offset, const std::vector<Fact>& inserts,
             const std::vector<Fact>& deletes = {}) {
    storage::TenantDb& db = *tenants_.at(name);
    auto txn = storage::Transaction::Begin(db.db(), storage::Transaction::Mode::kImmediate);
    REQUIRE_OK(txn.status());
    for (const Fact& f : inserts) REQUIRE_OK(db.InsertFact(offset, f).status());
    for (const Fact& f : deletes) {
      std::vector<std::optional<Value>> p(f.args.begin(), f.args.end());
      REQUIRE_OK(db.DeletePattern(offset, f.predicate, p).status());
    }
    REQUIRE_OK(db.SetAppliedOffset(offset));
    REQUIRE_OK(txn->Commit());
    offsets_[name] = offset;
  }

  int64_t offset(const std::string& name) const { return offsets_.at(name); }

  // control.db as the apply loop would pass it to Reset.
  storage::ControlState State(const std::map<std::string, storage::TenantIndex>& named = {}) const {
    storage::ControlState s;
    s.current_generation = 1;
    for (const auto& [name, offset] : offsets_) {
      storage::TenantEntry e{name, "tenants/" + name + ".db", offset};
      if (auto it = named.find(name); it != named.end()) e.index = it->second;
      s.tenants.push_back(e);
    }
    return s;
  }

  std::set<Fact> DbFacts(const std::string& name) const {
    std::set<Fact> out;
    REQUIRE_OK(tenants_.at(name)->ForEachFact([&](const Fact& f) {
      out.insert(f);
      return true;
    }));
    return out;
  }

  // The facts of the files an index names, mapped as a reader maps them.
  std::set<Fact> IndexFacts(const storage::TenantIndex& index) const {
    std::vector<std::shared_ptr<const eval::Segment>> layers;
    auto base = eval::Segment::Open(Path(index.base));
    REQUIRE_OK(base.status());
    CHECK((*base)->offset() == index.base_offset);
    CHECK((*base)->kind() == eval::Segment::Kind::kBase);
    layers.push_back(*base);
    if (!index.delta.empty()) {
      auto delta = eval::Segment::Open(Path(index.delta));
      REQUIRE_OK(delta.status());
      CHECK((*delta)->offset() == index.delta_offset);
      CHECK((*delta)->kind() == eval::Segment::Kind::kUpper);
      layers.push_back(*delta);
    }
    if (!index.recent.empty()) {
      auto recent = eval::Segment::Open(Path(index.recent));
      REQUIRE_OK(recent.status());
      CHECK((*recent)->offset() == index.recent_offset);
      CHECK((*recent)->kind() == eval::Segment::Kind::kUpper);
      layers.push_back(*recent);
    }
    auto stack = eval::FactIndex::Stack(std::move(layers));
    REQUIRE_OK(stack.status());
    std::set<Fact> out;
    (*stack)->ForEachRelation([&](std::string_view name, const eval::IndexedRelation& rel) {
      rel.ForEach(0, nullptr, [&](const eval::SymbolId* ids) {
        Fact f{std::string(name), {}};
        for (int i = 0; i < rel.arity(); ++i) f.args.push_back((*stack)->value(ids[i]).ToValue());
        out.insert(std::move(f));
        return true;
      });
    });
    CHECK(out.size() == (*stack)->size());
    return out;
  }

  // The files under index/<tenant>/, relative to the generation directory.
  std::set<std::string> Files(const std::string& tenant) const {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(Path("index/" + tenant), ec)) {
      out.insert("index/" + tenant + "/" + f.path().filename().string());
    }
    return out;
  }

 private:
  arbiter::testing::TempDir tmp_;
  std::string dir_;
  std::map<std::string, std::unique_ptr<storage::TenantDb>> tenants_;
  std::map<std::string, int64_t> offsets_;
};

IndexOptions SmallOptions() {
  IndexOptions o;
  o.delta_every_changes = 4;
  o.merge_min_changes = 1000;
  o.merge_max_changes = 1000;
  o.grace = absl::Milliseconds(20);
  return o;
}

// A started maintainer, counting its wake-ups.
struct Maintainer {
  explicit Maintainer(IndexOptions o) : m(o, [this] { ++wakes; }) { m.Start(); }
  std::atomic<int> wakes{0};
  IndexMaintainer m;
};

// Waits until the maintainer offers index files, and takes them.
Ready AwaitReady(IndexMaintainer& m) {
  Ready got;
  REQUIRE(Eventually([&] {
    got = m.TakeReady();
    return !got.empty();
  }));
  return got;
}

bool Matches(const std::string& name, const std::string& pattern) {
  return std::regex_match(name, std::regex(pattern));
}

// Wakes the maintainer's loop (so it deletes what is due) until `gone` is
// gone.
bool AwaitDeleted(Maintainer& mt, const Generation& g, const std::string& tenant,
                  const std::string& gone) {
  return Eventually([&] {
    mt.m.Notify({{tenant, g.offset(tenant)}});
    return !g.Exists(gone);
  });
}

TEST_CASE("index maintainer: Reset and Notify build a base, then a delta every "
          "delta_every_changes changes",
          "[unit][writer]") {
  Generation g;
  g.AddTenant("acme", 1);
  g.Apply("acme", 2, {Role("alice", "viewer", "d1"), Role("bob", "editor", "d1"),
                      Role("carol", "viewer", "d2")});
  Maintainer mt(SmallOptions());
  mt.m.Reset(g.dir(), g.State());
  mt.m.Notify({{"acme", 2}});
  Ready ready = AwaitReady(mt.m);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].first == "acme");
  const storage::TenantIndex base = ready[0].second;
  INFO(base.base);
  CHECK(Matches(base.base, R"(index/acme/base-0*2-\d+-\d+\.seg)"));
  CHECK(base.base_offset == 2);
  CHECK(base.delta.empty());
  CHECK(g.Exists(base.base));
  CHECK(g.IndexFacts(base) == g.DbFacts("acme"));
  CHECK(mt.wakes > 0);
  CHECK(mt.m.stats().bases_from_db == 1);
  CHECK(!mt.m.LongRead("acme"));
  mt.m.Named(ready);

  // Two change rows: fewer than 4, no delta yet; two more (a delete among
  // them): a delta at offset 4 over the same base.
  g.Apply("acme", 3, {Role("dave", "viewer", "d3"), Role("erin", "viewer", "d3")});
  mt.m.Notify({{"acme", 3}});
  g.Apply("acme", 4, {Role("frank", "editor", "d1")}, {Role("alice", "viewer", "d1")});
  mt.m.Notify({{"acme", 4}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 1; }));
  ready = AwaitReady(mt.m);
  REQUIRE(ready.size() == 1);
  const storage::TenantIndex with_delta = ready[0].second;
  CHECK(with_delta.base == base.base);
  CHECK(Matches(with_delta.delta, R"(index/acme/delta-0*4-\d+-\d+\.seg)"));
  CHECK(with_delta.delta_offset == 4);
  CHECK(g.IndexFacts(with_delta) == g.DbFacts("acme"));
  mt.m.Named(ready);
  CHECK(g.Files("acme") == std::set<std::string>{base.base, with_delta.delta});

  // Four more: a new delta, again of every change since the base; the old
  // delta is retired and goes after the grace period; the base stays.
  g.Apply("acme", 5, {Role("gina", "viewer", "d4"), Role("hal", "viewer", "d4")},
          {Role("dave", "viewer", "d3")});
  g.Apply("acme", 6, {Role("ivy", "viewer", "d4")});
  mt.m.Notify({{"acme", 6}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 2; }));
  ready = AwaitReady(mt.m);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].second.base == base.base);
  CHECK(ready[0].second.delta_offset == 6);
  CHECK(g.IndexFacts(ready[0].second) == g.DbFacts("acme"));
  CHECK(g.Exists(with_delta.delta));  // named until the next list is
  mt.m.Named(ready);
  CHECK(AwaitDeleted(mt, g, "acme", with_delta.delta));
  CHECK(g.Files("acme") == std::set<std::string>{base.base, ready[0].second.delta});
  CHECK(mt.m.stats().bases_from_db == 1);
  CHECK(mt.m.stats().bases_merged == 0);
  CHECK(mt.m.stats().errors == 0);
}

TEST_CASE("index maintainer: recent layers every recent_every_changes, folded into a delta",
          "[unit][writer]") {
  Generation g;
  g.AddTenant("acme", 1);
  IndexOptions o = SmallOptions();
  o.recent_every_changes = 2;
  o.delta_every_changes = 5;
  Maintainer mt(o);
  mt.m.Reset(g.dir(), g.State());
  Ready first = AwaitReady(mt.m);
  REQUIRE(first.size() == 1);
  mt.m.Named(first);
  const storage::TenantIndex b0 = first[0].second;

  // Two changes: a recent layer straight over the base.
  g.Apply("acme", 2, {Role("a", "viewer", "d1"), Role("b", "viewer", "d1")});
  mt.m.Notify({{"acme", 2}});
  REQUIRE(Eventually([&] { return mt.m.stats().recents == 1; }));
  Ready r1 = AwaitReady(mt.m);
  REQUIRE(r1.size() == 1);
  CHECK(r1[0].second.base == b0.base);
  CHECK(r1[0].second.delta.empty());
  CHECK(Matches(r1[0].second.recent, R"(index/acme/recent-0*2-\d+-\d+\.seg)"));
  CHECK(g.IndexFacts(r1[0].second) == g.DbFacts("acme"));
  mt.m.Named(r1);

  // Two more: a new recent layer holding all four.
  g.Apply("acme", 3, {Role("c", "viewer", "d1")}, {Role("a", "viewer", "d1")});
  mt.m.Notify({{"acme", 3}});
  REQUIRE(Eventually([&] { return mt.m.stats().recents == 2; }));
  Ready r2 = AwaitReady(mt.m);
  REQUIRE(r2.size() == 1);
  CHECK(r2[0].second.recent_offset == 3);
  CHECK(g.IndexFacts(r2[0].second) == g.DbFacts("acme"));
  mt.m.Named(r2);
  CHECK(AwaitDeleted(mt, g, "acme", r1[0].second.recent));

  // Past five since the base: a delta, and no recent layer.
  g.Apply("acme", 4, {Role("d", "viewer", "d2"), Role("e", "viewer", "d2")});
  mt.m.Notify({{"acme", 4}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 1; }));
  Ready d = AwaitReady(mt.m);
  REQUIRE(d.size() == 1);
  CHECK(d[0].second.recent.empty());
  CHECK(d[0].second.delta_offset == 4);
  CHECK(g.IndexFacts(d[0].second) == g.DbFacts("acme"));
  mt.m.Named(d);

  // And recent layers over the delta after that.
  g.Apply("acme", 5, {Role("f", "viewer", "d3"), Role("g", "viewer", "d3")});
  mt.m.Notify({{"acme", 5}});
  REQUIRE(Eventually([&] { return mt.m.stats().recents == 3; }));
  Ready r3 = AwaitReady(mt.m);
  REQUIRE(r3.size() == 1);
  CHECK(r3[0].second.delta == d[0].second.delta);
  CHECK(r3[0].second.recent_offset == 5);
  CHECK(g.IndexFacts(r3[0].second) == g.DbFacts("acme"));
  CHECK(mt.m.stats().errors == 0);
}

TEST_CASE("index maintainer: past the merge bound base and delta merge into a new base",
          "[unit][writer]") {
  Generation g;
  g.AddTenant("acme", 1);
  g.Apply("acme", 2, {Role("alice", "viewer", "d1"), Role("bob", "viewer", "d1")});
  IndexOptions o = SmallOptions();
  o.delta_every_changes = 3;
  o.merge_min_changes = 6;
  o.merge_max_changes = 6;
  Maintainer mt(o);
  mt.m.Reset(g.dir(), g.State());
  Ready first = AwaitReady(mt.m);
  REQUIRE(first.size() == 1);
  const storage::TenantIndex b0 = first[0].second;
  mt.m.Named(first);

  // 3 changed facts: a delta.
  g.Apply("acme", 3, {Role("c1", "viewer", "d2"), Role("c2", "viewer", "d2")},
          {Role("alice", "viewer", "d1")});
  mt.m.Notify({{"acme", 3}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 1; }));
  Ready second = AwaitReady(mt.m);
  REQUIRE(second.size() == 1);
  const storage::TenantIndex d1 = second[0].second;
  CHECK(d1.base == b0.base);
  CHECK(!d1.delta.empty());
  mt.m.Named(second);

  // 6 changed facts since the base: merged, from memory, into a new base at
  // the newest offset, with no delta.
  g.Apply("acme", 4, {Role("c3", "viewer", "d2"), Role("c4", "viewer", "d2"),
                      Role("c5", "viewer", "d3")});
  mt.m.Notify({{"acme", 4}});
  REQUIRE(Eventually([&] { return mt.m.stats().bases_merged == 1; }));
  Ready third = AwaitReady(mt.m);
  REQUIRE(third.size() == 1);
  const storage::TenantIndex b1 = third[0].second;
  CHECK(Matches(b1.base, R"(index/acme/base-0*4-\d+-\d+\.seg)"));
  CHECK(b1.base != b0.base);
  CHECK(b1.base_offset == 4);
  CHECK(b1.delta.empty());
  CHECK(g.IndexFacts(b1) == g.DbFacts("acme"));
  CHECK(mt.m.stats().bases_from_db == 1);  // only the first base read the db

  // Naming it retires the old base and delta: gone after the grace period.
  CHECK(g.Exists(b0.base));
  CHECK(g.Exists(d1.delta));
  mt.m.Named(third);
  CHECK(AwaitDeleted(mt, g, "acme", b0.base));
  CHECK(AwaitDeleted(mt, g, "acme", d1.delta));
  CHECK(g.Files("acme") == std::set<std::string>{b1.base});

  // The next changes make a delta over the merged base.
  g.Apply("acme", 5, {Role("c6", "viewer", "d5")}, {Role("c1", "viewer", "d2"),
                                                    Role("bob", "viewer", "d1")});
  mt.m.Notify({{"acme", 5}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 2; }));
  Ready fourth = AwaitReady(mt.m);
  REQUIRE(fourth.size() == 1);
  CHECK(fourth[0].second.base == b1.base);
  CHECK(fourth[0].second.delta_offset == 5);
  CHECK(g.IndexFacts(fourth[0].second) == g.DbFacts("acme"));
}

TEST_CASE("index maintainer: a list replaced before it was taken never retires "
          "files control.db still names",
          "[unit][writer]") {
  Generation g;
  g.AddTenant("acme", 1);
  g.Apply("acme", 2, {Role("alice", "viewer", "d1")});
  IndexOptions o = SmallOptions();
  o.delta_every_changes = 2;
  o.merge_min_changes = 5;
  o.merge_max_changes = 5;
  Maintainer mt(o);
  mt.m.Reset(g.dir(), g.State());
  Ready first = AwaitReady(mt.m);
  const storage::TenantIndex b0 = first[0].second;
  mt.m.Named(first);  // control.db names b0

  // A delta is offered but not taken (the apply loop is busy) ...
  g.Apply("acme", 3, {Role("b", "viewer", "d1"), Role("c", "viewer", "d1")});
  mt.m.Notify({{"acme", 3}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 1; }));
  // ... and is replaced by a merged base before it is.
  g.Apply("acme", 4, {Role("d", "viewer", "d1"), Role("e", "viewer", "d1"),
                      Role("f", "viewer", "d1")});
  mt.m.Notify({{"acme", 4}});
  REQUIRE(Eventually([&] { return mt.m.stats().bases_merged == 1; }));

  // b0 is still what control.db names: it must outlive several grace
  // periods while the maintainer runs.
  const absl::Time until = absl::Now() + 10 * o.grace;
  while (absl::Now() < until) {
    mt.m.Notify({{"acme", 4}});
    REQUIRE(g.Exists(b0.base));
    absl::SleepFor(absl::Milliseconds(2));
  }
  Ready taken = mt.m.TakeReady();
  REQUIRE(taken.size() == 1);
  const storage::TenantIndex b1 = taken[0].second;
  CHECK(b1.base_offset == 4);
  CHECK(b1.delta.empty());
  CHECK(g.IndexFacts(b1) == g.DbFacts("acme"));
  // The delta was never named: nothing names it, it goes.
  mt.m.Named(taken);
  CHECK(AwaitDeleted(mt, g, "acme", b0.base));
  CHECK(Eventually([&] {
    mt.m.Notify({{"acme", 4}});
    return g.Files("acme") == std::set<std::string>{b1.base};
  }));
}

TEST_CASE("index maintainer: a base named while its replacement waits is not deleted",
          "[unit][writer]") {
  Generation g;
  g.AddTenant("acme", 1);
  g.Apply("acme", 2, {Role("alice", "viewer", "d1")});
  IndexOptions o = SmallOptions();
  o.delta_every_changes = 2;
  o.merge_min_changes = 4;
  o.merge_max_changes = 4;
  Maintainer mt(o);
  mt.m.Reset(g.dir(), g.State());
  Ready first = AwaitReady(mt.m);
  const storage::TenantIndex b0 = first[0].second;
  mt.m.Named(first);

  // A merged base b1 is taken: the apply loop's transaction naming it is in
  // flight ...
  g.Apply("acme", 3, {Role("b", "viewer", "d1"), Role("c", "viewer", "d1"),
                      Role("d", "viewer", "d1"), Role("e", "viewer", "d1")});
  mt.m.Notify({{"acme", 3}});
  REQUIRE(Eventually([&] { return mt.m.stats().bases_merged == 1; }));
  Ready in_flight = AwaitReady(mt.m);
  REQUIRE(in_flight.size() == 1);
  const storage::TenantIndex b1 = in_flight[0].second;
  CHECK(b1.base_offset == 3);
  // ... while a delta over b1 is offered, then replaced by a newer merge.
  g.Apply("acme", 4, {Role("f", "viewer", "d2"), Role("g", "viewer", "d2")});
  mt.m.Notify({{"acme", 4}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 1; }));
  g.Apply("acme", 5, {Role("h", "viewer", "d2"), Role("i", "viewer", "d2")});
  mt.m.Notify({{"acme", 5}});
  REQUIRE(Eventually([&] { return mt.m.stats().bases_merged == 2; }));
  // The transaction commits: control.db names b1 now.
  mt.m.Named(in_flight);
  CHECK(AwaitDeleted(mt, g, "acme", b0.base));
  const absl::Time until = absl::Now() + 10 * o.grace;
  while (absl::Now() < until) {
    mt.m.Notify({{"acme", 5}});
    REQUIRE(g.Exists(b1.base));
    absl::SleepFor(absl::Milliseconds(2));
  }
  Ready next = mt.m.TakeReady();
  REQUIRE(next.size() == 1);
  const storage::TenantIndex b2 = next[0].second;
  CHECK(b2.base_offset == 5);
  CHECK(g.IndexFacts(b2) == g.DbFacts("acme"));
  mt.m.Named(next);
  CHECK(AwaitDeleted(mt, g, "acme", b1.base));
  CHECK(Eventually([&] {
    mt.m.Notify({{"acme", 5}});
    return g.Files("acme") == std::set<std::string>{b2.base};
  }));
}

// Builds base + delta for "acme" with one maintainer and names them.
storage::TenantIndex BuildNamed(Generation& g, IndexOptions o) {
  g.AddTenant("acme", 1);
  g.Apply("acme", 2, {Role("alice", "viewer", "d1"), Role("bob", "viewer", "d2")});
  Maintainer mt(o);
  mt.m.Reset(g.dir(), g.State());
  Ready first = AwaitReady(mt.m);
  mt.m.Named(first);
  g.Apply("acme", 3, {Role("carol", "viewer", "d1"), Role("dan", "viewer", "d1"),
                      Role("eve", "viewer", "d1")},
          {Role("alice", "viewer", "d1")});
  mt.m.Notify({{"acme", 3}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 1; }));
  Ready second = AwaitReady(mt.m);
  REQUIRE(second.size() == 1);
  REQUIRE(!second[0].second.delta.empty());
  mt.m.Named(second);
  return second[0].second;
}

TEST_CASE("index maintainer: Reset adopts valid named files and builds on them",
          "[unit][writer]") {
  Generation g;
  const storage::TenantIndex named = BuildNamed(g, SmallOptions());
  // A restarted writer: a new maintainer, control.db naming base + delta.
  Maintainer mt(SmallOptions());
  mt.m.Reset(g.dir(), g.State({{"acme", named}}));
  CHECK(g.Files("acme") == std::set<std::string>{named.base, named.delta});
  // Four more changes: a delta holding the old delta's changes and the new.
  g.Apply("acme", 4, {Role("fay", "viewer", "d3"), Role("gus", "viewer", "d3")},
          {Role("carol", "viewer", "d1"), Role("bob", "viewer", "d2")});
  mt.m.Notify({{"acme", 4}});
  REQUIRE(Eventually([&] { return mt.m.stats().deltas == 1; }));
  Ready ready = AwaitReady(mt.m);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].second.base == named.base);
  CHECK(ready[0].second.delta != named.delta);
  CHECK(ready[0].second.delta_offset == 4);
  CHECK(g.IndexFacts(ready[0].second) == g.DbFacts("acme"));
  CHECK(mt.m.stats().bases_from_db == 0);
  mt.m.Named(ready);
  CHECK(AwaitDeleted(mt, g, "acme", named.delta));
  CHECK(g.Exists(named.base));
}

TEST_CASE("index maintainer: Reset rebuilds a tenant whose named file is damaged "
          "or missing",
          "[unit][writer]") {
  for (const char* damage : {"flip delta", "truncate base", "remove delta"}) {
    INFO(damage);
    Generation g;
    const storage::TenantIndex named = BuildNamed(g, SmallOptions());
    const std::string damage_s = damage;
    if (damage_s == "flip delta") {
      std::fstream f(g.Path(named.delta), std::ios::in | std::ios::out | std::ios::binary);
      REQUIRE(f);
      f.seekp(static_cast<std::streamoff>(fs::file_size(g.Path(named.delta)) / 2));
      f.put('\x5a');
    } else if (damage_s == "truncate base") {
      fs::resize_file(g.Path(named.base), fs::file_size(g.Path(named.base)) / 2);
    } else {
      fs::remove(g.Path(named.delta));
    }
    Maintainer mt(SmallOptions());
    mt.m.Reset(g.dir(), g.State({{"acme", named}}));
    // The named files are not used; a base is read from the database again.
    Ready ready = AwaitReady(mt.m);
    REQUIRE(ready.size() == 1);
    const storage::TenantIndex rebuilt = ready[0].second;
    CHECK(rebuilt.base != named.base);
    CHECK(rebuilt.base_offset == 3);
    CHECK(rebuilt.delta.empty());
    CHECK(g.IndexFacts(rebuilt) == g.DbFacts("acme"));
    CHECK(mt.m.stats().bases_from_db == 1);
    // Files Reset did not adopt are deleted with the leftovers.
    CHECK(!g.Exists(named.delta));
    CHECK(g.Files("acme") == std::set<std::string>{rebuilt.base});
    mt.m.Named(ready);
  }
}

TEST_CASE("index maintainer: Reset deletes files no registry row names",
          "[unit][writer]") {
  Generation g;
  const storage::TenantIndex named = BuildNamed(g, SmallOptions());
  // Leftovers of an earlier process: an older base, a temporary file, a
  // tenant's directory that is not registered.
  fs::copy_file(g.Path(named.base), g.Path("index/acme/base-00000000000000000001-1-1.seg"));
  std::ofstream(g.Path("index/acme/delta-00000000000000000003-1-9.seg.tmp")) << "partial";
  fs::create_directories(g.Path("index/ghost"));
  std::ofstream(g.Path("index/ghost/base-00000000000000000001-1-1.seg")) << "x";
  Maintainer mt(SmallOptions());
  mt.m.Reset(g.dir(), g.State({{"acme", named}}));
  CHECK(g.Files("acme") == std::set<std::string>{named.base, named.delta});
  CHECK(g.Files("ghost").empty());
  CHECK(mt.m.stats().bases_from_db == 0);
  CHECK(mt.m.TakeReady().empty());  // the named files were adopted as they are
}

TEST_CASE("index maintainer: options are validated naming the flag", "[unit][writer]") {
  CHECK(IndexOptions{}.Validate().ok());
  auto bad = [](auto edit, const char* flag) {
    IndexOptions o;
    edit(o);
    absl::Status s = o.Validate();
    INFO(s.ToString());
    CHECK(absl::IsInvalidArgument(s));
    CHECK(s.message().find(flag) != std::string_view::npos);
  };
  bad([](IndexOptions& o) { o.delta_every_changes = 0; }, "--index_delta_every_changes");
  bad([](IndexOptions& o) { o.merge_min_changes = 0; }, "--index_merge_min_changes");
  bad([](IndexOptions& o) { o.merge_max_changes = o.merge_min_changes - 1; },
      "--index_merge_max_changes");
  bad([](IndexOptions& o) { o.merge_ratio = 0; }, "--index_merge_ratio");
  bad([](IndexOptions& o) { o.merge_ratio = 1.5; }, "--index_merge_ratio");
  bad([](IndexOptions& o) { o.grace = -absl::Seconds(1); }, "--index_grace");
  bad([](IndexOptions& o) { o.max_open_tenants = 0; }, "--index_max_open_tenants");
}

}  // namespace
}  // namespace arbiter::writer
