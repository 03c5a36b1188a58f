#include "common/eval/fact_index.h"
#include "common/eval/overlay_fact_source.h"

#include <optional>
#include <vector>

#include <catch2/catch.hpp>

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
