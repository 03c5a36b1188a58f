// The layered index under random writes (label `property`): seeded runs of
// writes on the GitHub-like model are applied incrementally, with the layers
// rebuilt the way the writer and the reader rebuild them —
//   * the writer: a base (first from the facts, later merged from base +
//     changes by BuildBaseFromStack at random moments) and a delta of every
//     change since the base (ChangeSet::BuildLayer), rebuilt now and then;
//   * the reader: base + delta + an in-memory top layer of the changes after
//     the delta, rebuilt at every offset —
// and at every offset the engine must answer over that stack exactly as over
// a full rebuild (FactIndex::Create of the live facts): Authorize for a
// sample of (actor, action, resource), List, Actions and Query.

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/eval/segment.h"
#include "common/replica/change_set.h"
#include "common/storage/tenant_db.h"
#include "tests/unit/eval/property_checks.h"

namespace arbiter::replica {
namespace {

using eval::testing::Ent;
using eval::testing::Str;
using PatternVec = std::vector<std::optional<Value>>;

// The tenant database's semantics without SQLite: the live facts and the
// change rows TenantDb would record (an insert only when absent; one delete
// per fact a pattern matches, ascending).
class Model {
 public:
  void NextOffset() {
    ++offset_;
    seq_ = 0;
  }
  void Insert(const Fact& f) {
    if (live_.insert(f).second) log_.push_back({offset_, ++seq_, storage::ChangeOp::kInsert, f});
  }
  // nullopt: any value; Value{type, ""}: any value of that type.
  void Delete(const std::string& predicate, const PatternVec& pattern) {
    for (auto it = live_.begin(); it != live_.end();) {
      bool match = it->predicate == predicate && it->args.size() == pattern.size();
      for (size_t k = 0; k < pattern.size() && match; ++k) {
        const auto& v = pattern[k];
        if (!v.has_value()) continue;
        match = v->type == it->args[k].type && (v->id.empty() || v->id == it->args[k].id);
      }
      if (match) {
        log_.push_back({offset_, ++seq_, storage::ChangeOp::kDelete, *it});
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // The change rows with offset in (after, upto].
  void ForEachChange(int64_t after, int64_t upto, ChangeSet* into) const {
    for (const storage::Change& c : log_) {
      if (c.offset > after && c.offset <= upto) into->Apply(c);
    }
    into->set_offset(upto);
  }
  const std::set<Fact>& live() const { return live_; }
  int64_t offset() const { return offset_; }

 private:
  std::set<Fact> live_;
  std::vector<storage::Change> log_;
  int64_t offset_ = 0;
  int64_t seq_ = 0;
};

struct World {
  std::vector<Value> users, groups, repos, orgs;
};

World MakeWorld(std::mt19937& rng) {
  World w;
  const int users = 4 + static_cast<int>(rng() % 4);
  const int repos = 5 + static_cast<int>(rng() % 6);
  const int orgs = 2 + static_cast<int>(rng() % 2);
  for (int i = 0; i < users; ++i) w.users.push_back(Ent("User", "user" + std::to_string(i)));
  for (int i = 0; i < 2; ++i) w.groups.push_back(Ent("Group", "group" + std::to_string(i)));
  for (int i = 0; i < repos; ++i) w.repos.push_back(Ent("Repository", "repo" + std::to_string(i)));
  for (int i = 0; i < orgs; ++i) w.orgs.push_back(Ent("Organization", "org" + std::to_string(i)));
  return w;
}

Fact RandomFact(std::mt19937& rng, const World& w) {
  auto pick = [&](const std::vector<Value>& v) { return v[rng() % v.size()]; };
  switch (rng() % 10) {
    case 0:
    case 1:
      return {"has_relation", {pick(w.repos), Str("parent"), pick(w.orgs)}};
    case 2:
      return {"is_public", {pick(w.repos)}};
    case 3:
      return {"has_group", {pick(w.users), pick(w.groups)}};
    case 4:
      return {"has_role", {pick(w.groups), Str(rng() % 2 ? "reader" : "maintainer"), pick(w.repos)}};
    case 5:
      if (rng() % 4 == 0) return {"has_role", {pick(w.users), Str("superadmin")}};
      [[fallthrough]];
    case 6:
      return {"has_role", {pick(w.users), Str(rng() % 3 ? "member" : "admin"), pick(w.orgs)}};
    default:
      return {"has_role", {pick(w.users), Str(rng() % 3 ? "reader" : "maintainer"), pick(w.repos)}};
  }
}

// One write: mostly inserts, some exact deletes, some pattern deletes.
void RandomWrite(std::mt19937& rng, const World& w, Model& m) {
  const uint32_t op = rng() % 10;
  if (op < 6 || m.live().empty()) {
    m.Insert(RandomFact(rng, w));
    return;
  }
  auto it = m.live().begin();
  std::advance(it, rng() % m.live().size());
  const Fact f = *it;
  PatternVec p(f.args.begin(), f.args.end());
  if (op >= 8) {
    // Widen one or two positions: a wildcard or a typed wildcard.
    for (int n = 0; n < 1 + static_cast<int>(rng() % 2); ++n) {
      auto& v = p[rng() % p.size()];
      if (rng() % 2 == 0) {
        v = std::nullopt;
      } else if (v.has_value()) {
        v = Value{v->type, ""};
      }
    }
  }
  m.Delete(f.predicate, p);
}

std::shared_ptr<const eval::Segment> BaseOf(const std::set<Fact>& facts, int64_t offset) {
  eval::SegmentBuilder b;
  b.set_offset(offset);
  for (const Fact& f : facts) REQUIRE(b.Put(f).ok());
  auto bytes = b.Finish();
  REQUIRE(bytes.ok());
  auto seg = eval::Segment::FromBytes(*std::move(bytes), eval::Segment::Check::kBuilt, "base");
  REQUIRE(seg.ok());
  return *seg;
}

std::shared_ptr<const eval::FactIndex> StackOf(
    std::vector<std::shared_ptr<const eval::Segment>> layers) {
  auto s = eval::FactIndex::Stack(std::move(layers));
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return *s;
}

// What the writer's maintainer holds for the tenant.
struct WriterLayers {
  std::shared_ptr<const eval::Segment> base, delta;
  ChangeSet since_base;

  void NewBase(std::shared_ptr<const eval::Segment> b) {
    base = std::move(b);
    delta = nullptr;
    since_base.Clear();
    since_base.set_offset(base->offset());
  }
  std::shared_ptr<const eval::FactIndex> Shared() const {
    std::vector<std::shared_ptr<const eval::Segment>> layers = {base};
    if (delta != nullptr) layers.push_back(delta);
    return StackOf(std::move(layers));
  }
};

// Compares every query over `view` and `full`; returns decisions compared.
int CompareAnswers(std::mt19937& rng, const World& w, const eval::FactIndex& view,
                   const eval::FactIndex& full, uint32_t seed) {
  const auto engine = eval::testing::GithubEngine();
  const std::vector<std::string> actions = {"read", "push", "add_member"};
  auto pick = [&](const std::vector<Value>& v) { return v[rng() % v.size()]; };
  INFO("seed " << seed << " offset " << view.offset());
  int compared = 0;
  for (int a = 0; a < 3; ++a) {
    const Value actor = pick(w.users);
    for (int r = 0; r < 4; ++r) {
      const Value resource = r == 3 ? pick(w.orgs) : pick(w.repos);
      for (const std::string& x : actions) {
        auto got = engine->Authorize(view, actor, Str(x), resource);
        auto want = engine->Authorize(full, actor, Str(x), resource);
        INFO("authorize " << ToString(actor) << " " << x << " " << ToString(resource));
        REQUIRE(got.ok());
        REQUIRE(want.ok());
        REQUIRE(*got == *want);
        ++compared;
      }
      auto got = engine->Actions(view, actor, resource);
      auto want = engine->Actions(full, actor, resource);
      INFO("actions " << ToString(actor) << " " << ToString(resource));
      REQUIRE(got.ok());
      REQUIRE(want.ok());
      REQUIRE(got->actions == want->actions);
      REQUIRE(got->any_action == want->any_action);
    }
    for (const std::string& x : actions) {
      for (const char* type : {"Repository", "Organization"}) {
        auto got = engine->List(view, actor, Str(x), type, "", 0);
        auto want = engine->List(full, actor, Str(x), type, "", 0);
        INFO("list " << ToString(actor) << " " << x << " " << type);
        REQUIRE(got.ok());
        REQUIRE(want.ok());
        REQUIRE(got->ids == want->ids);
        ++compared;
      }
    }
  }
  // Query: every role of one actor, and every (actor, resource) with a role.
  const Value actor = pick(w.users);
  const std::vector<eval::QueryArg> roles = {eval::QueryArg::Bound(actor),
                                             eval::QueryArg::Var("role"),
                                             eval::QueryArg::Var("resource")};
  const std::vector<eval::QueryArg> all = {eval::QueryArg::Var("who"),
                                           eval::QueryArg::Bound(Str("reader")),
                                           eval::QueryArg::Var("repo")};
  for (const auto* args : {&roles, &all}) {
    auto got = engine->Query(view, "has_role", *args);
    auto want = engine->Query(full, "has_role", *args);
    REQUIRE(got.ok());
    REQUIRE(want.ok());
    REQUIRE(got->variables == want->variables);
    REQUIRE(got->rows == want->rows);
    ++compared;
  }
  // Once per offset the Scan path over the layers agrees too.
  eval::testing::ScanOnlySource scan(&view);
  eval::QueryOptions slow;
  slow.use_fast_path = false;
  const Value resource = pick(w.repos);
  auto got = engine->Authorize(scan, actor, Str("read"), resource, slow);
  auto want = engine->Authorize(full, actor, Str("read"), resource);
  REQUIRE(got.ok());
  REQUIRE(want.ok());
  REQUIRE(*got == *want);
  return compared + 1;
}

// Runs one seed: `ops` writes, 1 to 3 per offset. Returns decisions compared.
int RunSeed(uint32_t seed, int ops) {
  std::mt19937 rng(seed);
  const World w = MakeWorld(rng);
  Model m;
  WriterLayers writer;
  int compared = 0, merges = 0, deltas = 0, offsets = 0, three_layers = 0;
  for (int done = 0; done < ops;) {
    m.NextOffset();
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) RandomWrite(rng, w, m);
    done += n;

    // The writer: first base from the facts, then now and then a delta or a
    // merge.
    const uint32_t roll = rng() % 12;
    if (writer.base == nullptr || roll == 0) {
      writer.NewBase(BaseOf(m.live(), m.offset()));
    } else if (roll <= 3) {
      m.ForEachChange(writer.since_base.offset(), m.offset(), &writer.since_base);
      auto d = writer.since_base.BuildLayer(StackOf({writer.base}).get());
      REQUIRE(d.ok());
      writer.delta = *d;
      ++deltas;
    } else if (roll == 4) {
      m.ForEachChange(writer.since_base.offset(), m.offset(), &writer.since_base);
      // The maintainer merges only a non-empty change set (its bound is
      // >= 1); an empty one would be tagged the stack's offset.
      if (!writer.since_base.empty()) {
        auto merged = BuildBaseFromStack(*StackOf({writer.base}), writer.since_base);
        REQUIRE(merged.ok());
        REQUIRE((*merged)->offset() == m.offset());
        writer.NewBase(*merged);
        ++merges;
      }
    }

    // The reader: the shared stack plus its top layer.
    auto shared = writer.Shared();
    ChangeSet top;
    top.set_offset(shared->offset());
    m.ForEachChange(shared->offset(), m.offset(), &top);
    std::shared_ptr<const eval::FactIndex> view = shared;
    if (!top.empty()) {
      auto layer = top.BuildLayer(shared.get());
      REQUIRE(layer.ok());
      std::vector<std::shared_ptr<const eval::Segment>> layers = shared->layers();
      layers.push_back(*layer);
      view = StackOf(std::move(layers));
    }
    REQUIRE(view->size() == m.live().size());
    ++offsets;
    if (view->layers().size() == 3) ++three_layers;
    auto full = eval::FactIndex::Create({m.live().begin(), m.live().end()}, m.offset());
    REQUIRE(full.ok());
    compared += CompareAnswers(rng, w, *view, **full, seed);
  }
  INFO("seed " << seed);
  CHECK(offsets > 100);
  CHECK(deltas > 5);
  CHECK(merges > 0);
  CHECK(three_layers > 10);
  return compared;
}

TEST_CASE("many properties: a layered index answers as a full rebuild at every offset",
          "[property][replica]") {
  int compared = 0;
  for (uint32_t seed = 1; seed <= 50; ++seed) compared += RunSeed(seed, 300);
  CHECK(compared > 50 * 100 * 50);
}

}  // namespace
}  // namespace arbiter::replica
