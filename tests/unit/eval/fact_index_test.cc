#include "common/eval/fact_index.h"

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/eval/overlay_fact_source.h"
#include "common/eval/segment.h"
#include "tests/unit/eval/index_checks.h"

namespace arbiter::eval {
namespace {

Value V(std::string type, std::string id) { return {std::move(type), std::move(id)}; }
Value S(std::string id) { return {kStringType, std::move(id)}; }

std::vector<std::vector<Value>> ScanAll(const FactSource& src,
                                        std::string_view pred,
                                        std::vector<std::optional<Value>> pat) {
  std::vector<std::vector<Value>> out;
  absl::Status s = src.Scan(pred, pat, [&](std::span<const Value> args) {
    out.emplace_back(args.begin(), args.end());
    return true;
  });
  REQUIRE(s.ok());
  return out;
}

std::shared_ptr<const FactIndex> Sample() {
  auto src = FactIndex::Create({
      {"has_role", {V("User", "bob"), S("reader"), V("Repo", "b")}},
      {"has_role", {V("User", "alice"), S("admin"), V("Org", "acme")}},
      {"has_role", {V("User", "alice"), S("reader"), V("Repo", "a")}},
      {"has_role", {V("User", "alice"), S("reader"), V("Repo", "a")}},  // dup
      {"has_role", {V("User", "alice"), S("superadmin")}},
      {"is_public", {V("Repo", "b")}},
  });
  REQUIRE(src.ok());
  return *src;
}

TEST_CASE("fact index drops duplicates and scans ascending",
          "[unit][eval]") {
  auto src = Sample();
  CHECK(src->size() == 5);
  auto all = ScanAll(*src, "has_role", {std::nullopt, std::nullopt, std::nullopt});
  REQUIRE(all.size() == 3);
  CHECK(all[0] == std::vector<Value>{V("User", "alice"), S("admin"), V("Org", "acme")});
  CHECK(all[1] == std::vector<Value>{V("User", "alice"), S("reader"), V("Repo", "a")});
  CHECK(all[2] == std::vector<Value>{V("User", "bob"), S("reader"), V("Repo", "b")});
}

TEST_CASE("fact index seeks on every bound pattern", "[unit][eval]") {
  auto src = Sample();
  CHECK(ScanAll(*src, "has_role", {V("User", "alice"), std::nullopt, std::nullopt}).size() == 2);
  CHECK(ScanAll(*src, "has_role", {std::nullopt, S("reader"), std::nullopt}).size() == 2);
  CHECK(ScanAll(*src, "has_role", {std::nullopt, S("reader"), V("Repo", "b")}).size() == 1);
  CHECK(ScanAll(*src, "has_role", {V("User", "bob"), S("admin"), std::nullopt}).empty());
  CHECK(ScanAll(*src, "has_role", {V("User", "nobody"), std::nullopt, std::nullopt}).empty());
  CHECK(ScanAll(*src, "has_role", {V("User", "alice"), std::nullopt}).size() == 1);
  CHECK(ScanAll(*src, "nothing", {std::nullopt}).empty());
  CHECK(ScanAll(*src, "is_public", {V("Repo", "b")}).size() == 1);
}

TEST_CASE("fact index scan stops early", "[unit][eval]") {
  auto src = Sample();
  int n = 0;
  REQUIRE(src->Scan("has_role",
                    std::vector<std::optional<Value>>(3, std::nullopt),
                    [&](std::span<const Value>) { return ++n < 2; })
              .ok());
  CHECK(n == 2);
}

TEST_CASE("fact index rejects bad arity", "[unit][eval]") {
  CHECK(!FactIndex::Create({{"p", {}}}).ok());
  CHECK(!FactIndex::Create({{"p", std::vector<Value>(6, S("x"))}}).ok());
  CHECK(!FactIndex::Create({{"", {S("x")}}}).ok());
}

TEST_CASE("overlay merges extra facts in order without duplicates",
          "[unit][eval]") {
  auto src = Sample();
  std::vector<Fact> extra = {
      {"has_role", {V("User", "carol"), S("reader"), V("Repo", "a")}},
      {"has_role", {V("User", "alice"), S("reader"), V("Repo", "a")}},  // dup of base
      {"has_role", {V("User", "aaron"), S("reader"), V("Repo", "a")}},
      {"is_public", {V("Repo", "a")}},
  };
  OverlayFactSource overlay(src.get(), extra);
  auto rows = ScanAll(overlay, "has_role", {std::nullopt, S("reader"), V("Repo", "a")});
  REQUIRE(rows.size() == 3);
  CHECK(rows[0][0] == V("User", "aaron"));
  CHECK(rows[1][0] == V("User", "alice"));
  CHECK(rows[2][0] == V("User", "carol"));
  CHECK(ScanAll(overlay, "is_public", {std::nullopt}).size() == 2);
  CHECK(ScanAll(*src, "is_public", {std::nullopt}).size() == 1);
}

}  // namespace
}  // namespace arbiter::eval

namespace arbiter::eval {
namespace {

TEST_CASE("fact index carries its offset and interned form", "[unit][eval]") {
  auto src = FactIndex::Create({{"is_public", {Value{"Repo", "a"}}}}, 42);
  REQUIRE(src.ok());
  CHECK((*src)->offset() == 42);
  const IndexedRelation* rel = (*src)->FindRelation("is_public", 1);
  REQUIRE(rel != nullptr);
  SymbolId a = (*src)->Find(Value{"Repo", "a"});
  REQUIRE(a != kNoSymbol);
  int n = 0;
  rel->ForEach(1, &a, [&](const SymbolId*) { return ++n > 0; });
  CHECK(n == 1);
  CHECK(rel->Contains(&a));
  CHECK((*src)->FindType("Repo") == (*src)->type_id(a));
  CHECK((*src)->value(a) == ValueRef{"Repo", "a"});
  CHECK((*src)->FindRelation("is_public", 2) == nullptr);
}

}  // namespace
}  // namespace arbiter::eval

// ---------------------------------------------------------------- stacks


namespace arbiter::eval {
namespace {

using testing::CheckIndexHolds;

Value U(std::string id) { return {"User", std::move(id)}; }
Fact Role(std::string user, std::string role, std::string repo) {
  return {"has_role", {U(std::move(user)), S(std::move(role)), V("Repo", std::move(repo))}};
}
Fact Public(std::string repo) { return {"is_public", {V("Repo", std::move(repo))}}; }

std::shared_ptr<const Segment> BaseSegment(const std::vector<Fact>& facts,
                                           int64_t offset = 1) {
  SegmentBuilder b;
  b.set_offset(offset);
  for (const Fact& f : facts) REQUIRE(b.Put(f).ok());
  auto bytes = b.Finish();
  REQUIRE(bytes.ok());
  auto seg = Segment::FromBytes(*std::move(bytes), Segment::Check::kBuilt, "test base");
  REQUIRE(seg.ok());
  return *seg;
}

// An upper layer over `parent`: each (fact, present) in order, the last
// call for a fact winning.
std::shared_ptr<const Segment> UpperSegment(
    const FactIndex& parent, const std::vector<std::pair<Fact, bool>>& changes,
    int64_t offset) {
  SegmentBuilder b(&parent);
  b.set_offset(offset);
  for (const auto& [f, present] : changes) REQUIRE((present ? b.Put(f) : b.Erase(f)).ok());
  auto bytes = b.Finish();
  REQUIRE(bytes.ok());
  auto seg = Segment::FromBytes(*std::move(bytes), Segment::Check::kBuilt, "test upper");
  REQUIRE(seg.ok());
  return *seg;
}

std::shared_ptr<const FactIndex> StackOf(std::vector<std::shared_ptr<const Segment>> layers) {
  auto st = FactIndex::Stack(std::move(layers));
  INFO(st.status().ToString());
  REQUIRE(st.ok());
  return *st;
}

// base + one upper layer per batch of changes, each over the stack below.
std::shared_ptr<const FactIndex> BuildStack(
    const std::vector<Fact>& base,
    const std::vector<std::vector<std::pair<Fact, bool>>>& uppers) {
  std::vector<std::shared_ptr<const Segment>> layers = {BaseSegment(base)};
  std::shared_ptr<const FactIndex> stack = StackOf(layers);
  int64_t offset = 1;
  for (const auto& changes : uppers) {
    layers.push_back(UpperSegment(*stack, changes, ++offset));
    stack = StackOf(layers);
  }
  return stack;
}

TEST_CASE("index stack: an upper layer inserts facts and tombstones base facts",
          "[unit][eval]") {
  const std::vector<Fact> base = {Role("alice", "reader", "a"), Role("bob", "reader", "a"),
                                  Role("carol", "admin", "b"), Public("a")};
  auto stack = BuildStack(base, {{{Role("dave", "reader", "a"), true},
                                  {Role("bob", "reader", "a"), false},
                                  {Public("a"), false},
                                  {Public("b"), true}}});
  REQUIRE(stack->layers().size() == 2);
  CHECK(stack->offset() == 2);
  const auto& top = *stack->layers()[1];
  CHECK(top.kind() == Segment::Kind::kUpper);
  CHECK(top.parent_id() == stack->layers()[0]->id());
  CHECK(top.fact_delta() == 0);  // two rows, two tombstones
  const std::vector<Fact> live = {Role("alice", "reader", "a"), Role("carol", "admin", "b"),
                                  Role("dave", "reader", "a"), Public("b")};
  CheckIndexHolds(*stack, live, {Role("bob", "reader", "a"), Public("a")});
  CHECK(!stack->Contains(Role("bob", "reader", "a")));
  // A deleted fact's values stay known (its symbols live in the base).
  CHECK(stack->Find(U("bob")) != kNoSymbol);
}

TEST_CASE("index stack: delete then re-insert across layers", "[unit][eval]") {
  const Fact f = Role("alice", "reader", "a");
  const Fact g = Role("bob", "reader", "a");
  // base has f; middle deletes it; top inserts it again.
  auto stack = BuildStack({f, g}, {{{f, false}}, {{f, true}}});
  REQUIRE(stack->layers().size() == 3);
  CHECK(stack->layers()[1]->fact_delta() == -1);
  CHECK(stack->layers()[2]->fact_delta() == 1);
  CheckIndexHolds(*stack, {f, g}, {f, g});
  // ... and a fourth layer deletes it once more: both rows of f are covered.
  std::vector<std::shared_ptr<const Segment>> layers = stack->layers();
  layers.push_back(UpperSegment(*stack, {{f, false}}, 9));
  auto four = StackOf(layers);
  CheckIndexHolds(*four, {g}, {f, g});
  // Within one layer the last call wins: erase then put is a no-op on a
  // live fact, put then erase deletes it.
  auto same = BuildStack({f, g}, {{{f, false}, {f, true}, {g, true}, {g, false}}});
  CHECK(same->layers()[1]->fact_delta() == -1);
  CheckIndexHolds(*same, {f}, {f, g});
}

TEST_CASE("index stack: the top layer deletes a fact the middle layer introduced",
          "[unit][eval]") {
  const Fact base_fact = Role("alice", "reader", "a");
  const Fact mid = Role("zed", "maintainer", "new");  // three new values
  const Fact mid_public = Public("new");
  auto stack = BuildStack({base_fact}, {{{mid, true}, {mid_public, true}}, {{mid, false}}});
  CHECK(stack->layers()[2]->fact_delta() == -1);
  CheckIndexHolds(*stack, {base_fact, mid_public}, {mid, mid_public, base_fact});
  // The middle layer's values are still interned (Repo:new is live, User:zed
  // only in a deleted row).
  CHECK(stack->Find(V("Repo", "new")) != kNoSymbol);
  CHECK(stack->Find(U("zed")) != kNoSymbol);
  // Erasing something no layer holds, or a fact over unknown values, leaves
  // no tombstone and no symbol.
  auto noop = BuildStack({base_fact}, {{{Role("ghost", "reader", "a"), false},
                                        {Public("nowhere"), false}}});
  CHECK(noop->layers()[1]->fact_delta() == 0);
  CHECK(noop->layers()[1]->symbol_end() == noop->layers()[0]->symbol_end());
  CHECK(noop->Find(U("ghost")) == kNoSymbol);
  CheckIndexHolds(*noop, {base_fact}, {Public("nowhere")});
}

TEST_CASE("index stack: upper layers introduce values and types, their ids continuing",
          "[unit][eval]") {
  auto stack = BuildStack(
      {Role("alice", "reader", "a")},
      {{{{"member_of", {U("alice"), V("Team", "core")}}, true}},
       {{{"member_of", {U("bob"), V("Team", "core")}}, true},
        {{"tagged", {V("Repo", "a"), V("Label", "bug"), V("Integer", "7")}}, true}}});
  const auto& l = stack->layers();
  REQUIRE(l.size() == 3);
  // Symbols and types continue across layers.
  CHECK(l[0]->symbol_base() == 0);
  CHECK(l[1]->symbol_base() == l[0]->symbol_end());
  CHECK(l[2]->symbol_base() == l[1]->symbol_end());
  CHECK(l[1]->type_base() == l[0]->type_end());
  CHECK(l[2]->type_base() == l[1]->type_end());
  CHECK(l[1]->symbol_end() == l[1]->symbol_base() + 1);  // Team:core
  CHECK(l[1]->type_end() == l[1]->type_base() + 1);      // Team
  CHECK(l[2]->symbol_end() == l[2]->symbol_base() + 3);  // bob, bug, 7 (Repo:a known)
  CHECK(l[2]->type_end() == l[2]->type_base() + 2);      // Integer, Label
  CHECK(stack->num_symbols() == l[2]->symbol_end());

  const std::vector<Value> values = {U("alice"), U("bob"), S("reader"), V("Repo", "a"),
                                     V("Team", "core"), V("Label", "bug"),
                                     V("Integer", "7")};
  std::set<SymbolId> ids;
  for (const Value& v : values) {
    INFO(ToString(v));
    const SymbolId s = stack->Find(v);
    REQUIRE(s != kNoSymbol);
    REQUIRE(s < stack->num_symbols());
    ids.insert(s);
    CHECK(stack->value(s) == ValueRef{v.type, v.id});
    CHECK(stack->type_id(s) == stack->FindType(v.type));
  }
  CHECK(ids.size() == values.size());
  CHECK(stack->Find(V("Team", "core")) == l[1]->symbol_base());
  CHECK(stack->FindType("Team") == l[1]->type_base());
  CHECK(stack->FindType("Integer") >= l[2]->type_base());
  CHECK(stack->FindType("Nope") == kNoSymbol);
  CHECK(stack->Find(V("Team", "other")) == kNoSymbol);
  CHECK(stack->Find(V("User", "core")) == kNoSymbol);  // the id under another type
  // A new value of a type the base already has.
  CHECK(stack->type_id(stack->Find(U("bob"))) == stack->type_id(stack->Find(U("alice"))));
  CheckIndexHolds(*stack,
                  {Role("alice", "reader", "a"), {"member_of", {U("alice"), V("Team", "core")}},
                   {"member_of", {U("bob"), V("Team", "core")}},
                   {"tagged", {V("Repo", "a"), V("Label", "bug"), V("Integer", "7")}}},
                  {});
  std::vector<std::string> relations;
  stack->ForEachRelation([&](std::string_view name, const IndexedRelation& rel) {
    relations.push_back(absl::StrCat(std::string(name), "/", rel.arity()));
  });
  CHECK(relations == std::vector<std::string>{"has_role/3", "member_of/2", "tagged/3"});
}

// Random layered stacks over values whose Value order differs from their
// insertion and id order: Scan merges layers into std::sort order, ForEach
// visits each live fact once, size() counts live facts.
TEST_CASE("index stack: random layers scan in sorted order and agree with a model",
          "[unit][eval]") {
  const std::vector<Value> values = {
      U("alice"), U("Bob"), U("bob"), V("user", "alice"), V("Group", "eng"),
      V("Integer", "10"), V("Integer", "9"), S("member"), S("ä"), V("Org", "acme"),
      V("Org", "acme-2"), V("Zeta", "z"), V("Alpha", "0")};
  int compared = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    auto value = [&](int layer) {
      // Upper layers may use values (and types) the layers below lack.
      if (layer > 0 && rng() % 4 == 0) {
        const uint32_t type = rng() % 3;
        const uint32_t id = rng() % 4;
        return Value{absl::StrCat("T", type), absl::StrCat("new", layer, "-", id)};
      }
      return values[rng() % values.size()];
    };
    auto fact = [&](int layer) {
      switch (rng() % 3) {
        case 0:
          return Fact{"one", {value(layer)}};
        case 1:
          return Fact{"two", {value(layer), value(layer)}};
        default:
          return Fact{"three", {value(layer), value(layer), value(layer)}};
      }
    };
    std::set<Fact> live, ever;
    std::vector<Fact> base;
    for (int i = 0; i < 40; ++i) base.push_back(fact(0));
    live.insert(base.begin(), base.end());
    ever = live;
    std::vector<std::shared_ptr<const Segment>> layers = {BaseSegment(base)};
    auto stack = StackOf(layers);
    const int num_layers = 2 + static_cast<int>(seed % 3);  // 2..4
    for (int l = 1; l < num_layers; ++l) {
      std::vector<std::pair<Fact, bool>> changes;
      for (int i = 0; i < 25; ++i) {
        const uint32_t what = rng() % 3;
        Fact f;
        if (what == 0 || ever.empty()) {
          f = fact(l);
        } else {
          // An existing or deleted fact.
          auto it = ever.begin();
          std::advance(it, rng() % ever.size());
          f = *it;
        }
        const bool present = what != 2 && rng() % 3 != 0;
        changes.push_back({f, present});
      }
      for (const auto& [f, present] : changes) {
        ever.insert(f);
        if (present) {
          live.insert(f);
        } else {
          live.erase(f);
        }
      }
      layers.push_back(UpperSegment(*stack, changes, l + 1));
      stack = StackOf(layers);
      INFO("seed " << seed << " layers " << layers.size());
      compared += CheckIndexHolds(*stack, {live.begin(), live.end()}, {ever.begin(), ever.end()});
    }
  }
  CHECK(compared > 1000);
}

TEST_CASE("index stack: Stack refuses layers not built on the one below",
          "[unit][eval]") {
  auto base = BaseSegment({Role("alice", "reader", "a")});
  auto other_base = BaseSegment({Role("bob", "reader", "b")});
  auto stack = StackOf({base});
  auto mid = UpperSegment(*stack, {{Role("carol", "reader", "a"), true}}, 2);
  auto stack2 = StackOf({base, mid});
  auto top = UpperSegment(*stack2, {{Role("dave", "reader", "a"), true}}, 3);
  CHECK(StackOf({base, mid, top})->size() == 3);

  auto refused = [](std::vector<std::shared_ptr<const Segment>> layers) {
    auto s = FactIndex::Stack(std::move(layers));
    INFO(s.status().ToString());
    CHECK(absl::IsFailedPrecondition(s.status()));
  };
  refused({});                       // no layers
  refused({mid});                    // an upper layer at the bottom
  refused({base, base});             // a base above a base
  refused({other_base, mid});        // wrong parent
  refused({base, top});              // skips the layer it was built on
  refused({base, top, mid});         // wrong order
  refused({base, mid, mid});         // a layer twice
  // More than kMaxLayers.
  std::vector<std::shared_ptr<const Segment>> layers = {base};
  auto s = StackOf(layers);
  for (int i = 1; i < kMaxLayers; ++i) {
    layers.push_back(UpperSegment(*s, {{Role(absl::StrCat("u", i), "reader", "a"), true}}, i + 1));
    s = StackOf(layers);
  }
  CHECK(s->layers().size() == static_cast<size_t>(kMaxLayers));
  CHECK(s->size() == static_cast<size_t>(kMaxLayers));
  layers.push_back(UpperSegment(*s, {{Role("one-too-many", "reader", "a"), true}}, 99));
  refused(layers);
}

TEST_CASE("index stack: size() counts live facts after tombstones", "[unit][eval]") {
  std::vector<Fact> base;
  for (int i = 0; i < 10; ++i) base.push_back(Public(absl::StrCat("r", i)));
  std::vector<std::pair<Fact, bool>> del, readd;
  for (int i = 0; i < 6; ++i) del.push_back({Public(absl::StrCat("r", i)), false});
  for (int i = 0; i < 3; ++i) readd.push_back({Public(absl::StrCat("r", i)), true});
  readd.push_back({Public("r9"), false});
  readd.push_back({Public("r9"), false});  // twice: one tombstone
  readd.push_back({Public("r5"), false});  // already deleted below: nothing
  auto stack = BuildStack(base, {del, readd});
  CHECK(stack->layers()[0]->fact_delta() == 10);
  CHECK(stack->layers()[1]->fact_delta() == -6);
  CHECK(stack->layers()[2]->fact_delta() == 3 - 1);
  CHECK(stack->size() == 6);
  // Everything deleted: size 0, scans empty.
  std::vector<std::pair<Fact, bool>> all;
  for (int i = 0; i < 10; ++i) all.push_back({Public(absl::StrCat("r", i)), false});
  auto empty = BuildStack(base, {all});
  CHECK(empty->size() == 0);
  CheckIndexHolds(*empty, {}, base);
}

// ------------------------------------------------------- bytes and files

// A copy of a segment's bytes on the heap.
SegmentBytes CopyOf(absl::string_view bytes, size_t size) {
  SegmentBytes b = SegmentBytes::Allocate(size);
  std::memcpy(b.mutable_data(), bytes.data(), std::min(size, bytes.size()));
  return b;
}

std::shared_ptr<const FactIndex> SampleStack() {
  return BuildStack(
      {Role("alice", "reader", "a"), Role("bob", "admin", "b"), Public("a"),
       {"five", {U("a"), U("b"), S("c"), V("Integer", "4"), V("Repo", "a")}}},
      {{{Role("alice", "reader", "a"), false}, {Role("carol", "reader", "c"), true},
        {{"member_of", {U("bob"), V("Team", "core")}}, true}},
       {{Public("a"), false}, {Public("c"), true}, {Role("alice", "reader", "a"), true}}});
}

TEST_CASE("segment bytes: FromBytes with kChecksum rejects damaged bytes as DATA_LOSS",
          "[unit][eval]") {
  auto stack = SampleStack();
  for (const auto& seg : stack->layers()) {
    const absl::string_view good = seg->bytes();
    REQUIRE(Segment::FromBytes(CopyOf(good, good.size()), Segment::Check::kChecksum, "x.seg")
                .ok());
    // Truncated: every shorter length, including empty and a bare header.
    for (size_t len : {size_t{0}, size_t{7}, size_t{64}, good.size() / 2, good.size() - 8,
                       good.size() - 1}) {
      auto s = Segment::FromBytes(CopyOf(good, len), Segment::Check::kChecksum,
                                  "index/acme/base-1.seg");
      INFO("length " << len << ": " << s.status());
      CHECK(absl::IsDataLoss(s.status()));
      CHECK(absl::StrContains(s.status().message(), "index/acme/base-1.seg"));
    }
    // Extended with zeros: the size no longer matches the header.
    CHECK(absl::IsDataLoss(
        Segment::FromBytes(CopyOf(good, good.size() + 8), Segment::Check::kChecksum, "x")
            .status()));
    // One flipped bit anywhere: DATA_LOSS (the header's fields, or the CRC).
    for (size_t i = 0; i < good.size(); ++i) {
      SegmentBytes b = CopyOf(good, good.size());
      b.mutable_data()[i] ^= static_cast<char>(1u << (i % 8));
      auto s = Segment::FromBytes(std::move(b), Segment::Check::kChecksum, "damaged.seg");
      INFO("byte " << i << ": " << s.status());
      REQUIRE(absl::IsDataLoss(s.status()));
      REQUIRE(absl::StrContains(s.status().message(), "damaged.seg"));
    }
  }
}

// Exercises every lookup of a stack (answers may be wrong for damaged
// bytes; they must not crash or hang).
void Exercise(const FactIndex& index, const std::vector<Value>& probe_values) {
  for (SymbolId s = 0; s < index.num_symbols(); ++s) {
    ValueRef v = index.value(s);
    (void)index.FindType(v.type);
    (void)index.Find(v.type, v.id);
  }
  for (const Value& v : probe_values) (void)index.Find(v);
  index.ForEachRelation([&](std::string_view name, const IndexedRelation& rel) {
    const int arity = rel.arity();
    std::vector<SymbolId> ids(arity, 0);
    for (Mask mask = 0; mask < (1u << arity); ++mask) {
      for (SymbolId s = 0; s < std::min<size_t>(index.num_symbols(), 8); ++s) {
        std::fill(ids.begin(), ids.end(), s);
        int n = 0;
        rel.ForEach(mask, ids.data(), [&](const SymbolId*) { return ++n < 1000; });
        (void)rel.Contains(ids.data());
      }
      std::vector<std::optional<Value>> pattern(arity);
      for (int i = 0; i < arity; ++i) {
        if ((mask & (1u << i)) && !probe_values.empty()) pattern[i] = probe_values[i];
      }
      int n = 0;
      (void)index.Scan(std::string(name), pattern, [&](std::span<const Value>) {
        return ++n < 1000;
      });
    }
  });
}

TEST_CASE("segment bytes: kBounds never crashes on damaged or random bytes",
          "[unit][eval]") {
  auto stack = SampleStack();
  std::vector<Value> probe = {U("alice"), S("reader"), V("Repo", "a"), U("bob"),
                              V("Team", "core"), V("Nobody", "x")};
  int parsed = 0, rejected = 0;
  const auto& layers = stack->layers();
  for (size_t l = 0; l < layers.size(); ++l) {
    const absl::string_view good = layers[l]->bytes();
    // Every byte of the segment set to a few values.
    for (size_t i = 0; i < good.size(); ++i) {
      for (unsigned char to : {0x00, 0x01, 0x80, 0xff}) {
        if (static_cast<unsigned char>(good[i]) == to) continue;
        SegmentBytes b = CopyOf(good, good.size());
        b.mutable_data()[i] = static_cast<char>(to);
        auto seg = Segment::FromBytes(std::move(b), Segment::Check::kBounds, "fuzz");
        if (!seg.ok()) {
          INFO(seg.status());
          REQUIRE(absl::IsDataLoss(seg.status()));
          ++rejected;
          continue;
        }
        ++parsed;
        std::vector<std::shared_ptr<const Segment>> damaged(layers.begin(),
                                                            layers.begin() + l);
        damaged.push_back(*seg);
        auto st = FactIndex::Stack(damaged);
        if (!st.ok()) continue;
        INFO("layer " << l << " byte " << i << " = " << int{to});
        Exercise(**st, probe);
      }
    }
  }
  CHECK(parsed > 0);
  CHECK(rejected > 0);
  // Random garbage, with and without a valid header prefix.
  std::mt19937 rng(7);
  const absl::string_view good = layers[0]->bytes();
  for (int round = 0; round < 1000; ++round) {
    const size_t size = rng() % (good.size() + 64);
    SegmentBytes b = SegmentBytes::Allocate(size);
    for (size_t i = 0; i < size; ++i) b.mutable_data()[i] = static_cast<char>(rng());
    if (round % 2 == 1) {
      std::memcpy(b.mutable_data(), good.data(), std::min<size_t>(size, 16));
      if (size >= 24) {
        const uint64_t total = size;
        std::memcpy(b.mutable_data() + 16, &total, 8);  // total_bytes matches
      }
    }
    auto seg = Segment::FromBytes(std::move(b), Segment::Check::kBounds, "garbage");
    if (!seg.ok()) {
      REQUIRE(absl::IsDataLoss(seg.status()));
      continue;
    }
    auto st = FactIndex::Stack({*seg});
    if (st.ok()) Exercise(**st, probe);
  }
}

// Damage aimed at the probe tables, at the byte offsets of the format's
// header and relation entries (common/eval/segment.cc, namespace format): a
// table with no empty slot would make a probe for an absent key loop
// forever, and a symbol slot past the symbol array would read outside the
// block. kBounds must refuse both.
template <typename T>
T Field(const char* bytes, size_t at) {
  T v;
  std::memcpy(&v, bytes + at, sizeof(T));
  return v;
}
template <typename T>
void SetField(char* bytes, size_t at, T v) {
  std::memcpy(bytes + at, &v, sizeof(T));
}
constexpr size_t kNumSymbolsAt = 52;       // Header::num_symbols (u32)
constexpr size_t kSymbolSlotsOffAt = 88;   // Header::symbol_slots_off (u64)
constexpr size_t kSymbolSlotsAt = 96;      // Header::symbol_slots (u64)
constexpr size_t kRelationsOffAt = 112;    // Header::relations_off (u64)
constexpr size_t kRelNumRowsAt = 24;       // RelationEntry::num_rows (u64)
constexpr size_t kRelTombSlotsOffAt = 56;  // RelationEntry::tomb_slots_off (u64)
constexpr size_t kRelTombSlotsAt = 64;     // RelationEntry::tomb_slots (u64)
constexpr size_t kRelMask1SlotsOffAt = 80;  // RelationEntry::masks[0].slots_off
constexpr size_t kRelMask1NumSlotsAt = 88;  // RelationEntry::masks[0].num_slots
constexpr size_t kRelEntryBytes = 72 + 24 * (kMaxMasks - 1);  // sizeof(RelationEntry)

TEST_CASE("segment bytes: kBounds refuses probe tables that are full or point outside",
          "[unit][eval]") {
  auto stack = SampleStack();
  const Segment& base = *stack->layers()[0];
  const Segment& upper = *stack->layers()[1];  // deletes a has_role fact
  auto damaged = [](const Segment& seg, auto edit) {
    SegmentBytes b = CopyOf(seg.bytes(), seg.byte_size());
    edit(b.mutable_data());
    return Segment::FromBytes(std::move(b), Segment::Check::kBounds, "fuzzed.seg").status();
  };
  // The offsets above describe these bytes.
  const char* bytes = base.bytes().data();
  REQUIRE(Field<uint32_t>(bytes, kNumSymbolsAt) == base.symbol_end());
  const uint64_t slots = Field<uint64_t>(bytes, kSymbolSlotsAt);
  REQUIRE(slots >= 2);
  REQUIRE((slots & (slots - 1)) == 0);
  REQUIRE(Field<uint64_t>(bytes, Field<uint64_t>(bytes, kRelationsOffAt) + kRelNumRowsAt) == 1);

  // Every symbol slot occupied.
  auto s = damaged(base, [](char* b) {
    const uint64_t off = Field<uint64_t>(b, kSymbolSlotsOffAt);
    const uint64_t n = Field<uint64_t>(b, kSymbolSlotsAt);
    for (uint64_t i = 0; i < n; ++i) SetField<uint32_t>(b, off + 4 * i, 1);
  });
  INFO(s.ToString());
  CHECK(absl::IsDataLoss(s));
  // A table of one occupied slot.
  s = damaged(base, [](char* b) {
    SetField<uint64_t>(b, kSymbolSlotsAt, 1);
    SetField<uint32_t>(b, Field<uint64_t>(b, kSymbolSlotsOffAt), 1);
  });
  CHECK(absl::IsDataLoss(s));
  // A symbol slot naming a symbol past the array.
  s = damaged(base, [](char* b) {
    SetField<uint32_t>(b, Field<uint64_t>(b, kSymbolSlotsOffAt), 0x7ffffff0u);
  });
  CHECK(absl::IsDataLoss(s));
  // The first relation's mask-1 table: one slot, occupied.
  s = damaged(base, [](char* b) {
    const uint64_t rel = Field<uint64_t>(b, kRelationsOffAt);
    SetField<uint64_t>(b, rel + kRelMask1NumSlotsAt, 1);
    const uint64_t slots_off = Field<uint64_t>(b, rel + kRelMask1SlotsOffAt);
    SetField<uint32_t>(b, slots_off, 0);      // begin
    SetField<uint32_t>(b, slots_off + 4, 1);  // count
  });
  CHECK(absl::IsDataLoss(s));
  // A tombstone table with every slot occupied.
  s = damaged(upper, [&](char* b) {
    const uint64_t rels = Field<uint64_t>(b, kRelationsOffAt);
    const uint32_t num = static_cast<uint32_t>(upper.relations().size());
    bool found = false;
    for (uint32_t r = 0; r < num; ++r) {
      const uint64_t rel = rels + r * kRelEntryBytes;
      const uint64_t n = Field<uint64_t>(b, rel + kRelTombSlotsAt);
      if (n == 0) continue;
      const uint64_t off = Field<uint64_t>(b, rel + kRelTombSlotsOffAt);
      for (uint64_t i = 0; i < n; ++i) SetField<uint32_t>(b, off + 4 * i, 1);
      found = true;
    }
    REQUIRE(found);
  });
  CHECK(absl::IsDataLoss(s));
  // Undamaged, both parse.
  CHECK(damaged(base, [](char*) {}).ok());
  CHECK(damaged(upper, [](char*) {}).ok());
}

// A fresh directory, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/arbiter_eval_test.XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST_CASE("segment files: WriteSegmentFile and Open round trip", "[unit][eval]") {
  ScratchDir dir;
  auto stack = SampleStack();
  std::vector<std::shared_ptr<const Segment>> opened;
  for (size_t l = 0; l < stack->layers().size(); ++l) {
    const Segment& seg = *stack->layers()[l];
    const std::string path = dir.File(absl::StrCat("layer-", l, ".seg"));
    REQUIRE(WriteSegmentFile(path, seg).ok());
    CHECK(!std::filesystem::exists(path + ".tmp"));
    auto back = Segment::Open(path);
    INFO(back.status().ToString());
    REQUIRE(back.ok());
    CHECK((*back)->mapped());
    CHECK((*back)->bytes() == seg.bytes());
    CHECK((*back)->id() == seg.id());
    CHECK((*back)->parent_id() == seg.parent_id());
    CHECK((*back)->offset() == seg.offset());
    CHECK((*back)->kind() == seg.kind());
    opened.push_back(*back);
  }
  // The mapped stack answers as the heap one.
  auto mapped = StackOf(opened);
  std::vector<Fact> live;
  stack->ForEachRelation([&](std::string_view name, const IndexedRelation& rel) {
    rel.ForEach(0, nullptr, [&](const SymbolId* ids) {
      Fact f{std::string(name), {}};
      for (int i = 0; i < rel.arity(); ++i) f.args.push_back(stack->value(ids[i]).ToValue());
      live.push_back(std::move(f));
      return true;
    });
  });
  CHECK(live.size() == stack->size());
  CheckIndexHolds(*mapped, live, {Role("alice", "reader", "a"), Public("a")});

  // Rewriting a path replaces the file whole (a new inode; the old mapping
  // keeps its bytes).
  const std::string path = dir.File("layer-0.seg");
  auto other = BaseSegment({Public("zzz")});
  REQUIRE(WriteSegmentFile(path, *other).ok());
  CHECK(opened[0]->bytes() == stack->layers()[0]->bytes());
  auto reopened = Segment::Open(path);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->id() == other->id());

  // A damaged file: DATA_LOSS naming the path.
  {
    std::string bytes(stack->layers()[1]->bytes());
    bytes[bytes.size() / 2] ^= 0x10;
    const std::string bad = dir.File("bad.seg");
    FILE* f = fopen(bad.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
    fclose(f);
    auto s = Segment::Open(bad);
    CHECK(absl::IsDataLoss(s.status()));
    CHECK(absl::StrContains(s.status().message(), bad));
  }
  // An empty file.
  {
    const std::string empty = dir.File("empty.seg");
    FILE* f = fopen(empty.c_str(), "wb");
    REQUIRE(f != nullptr);
    fclose(f);
    CHECK(absl::IsDataLoss(Segment::Open(empty).status()));
  }
}

TEST_CASE("segment files: Open of a missing file is NOT_FOUND", "[unit][eval]") {
  ScratchDir dir;
  auto s = Segment::Open(dir.File("missing.seg"));
  CHECK(absl::IsNotFound(s.status()));
  CHECK(absl::StrContains(s.status().message(), "missing.seg"));
  // Writing into a missing directory fails and leaves nothing.
  auto seg = BaseSegment({Public("a")});
  CHECK(!WriteSegmentFile(dir.File("no/such/dir.seg"), *seg).ok());
}

}  // namespace
}  // namespace arbiter::eval
