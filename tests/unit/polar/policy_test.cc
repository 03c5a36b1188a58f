#include "common/polar/policy.h"

#include <algorithm>
#include <string>

#include <catch2/catch.hpp>

#include "common/polar/program_text.h"

namespace arbiter::polar {
namespace {

std::vector<std::string> RuleStrings(const Program& p, const std::string& predicate) {
  std::vector<std::string> out;
  for (const Rule& r : p.rules) {
    if (r.predicate == predicate) out.push_back(RuleToString(r));
  }
  return out;
}

TEST_CASE("shorthand rules desugar as DESIGN.md says", "[unit][polar]") {
  auto p = CompilePolicy(R"(
actor User {}
global { roles = ["super"]; }
resource Org { roles = ["member"]; }
resource Repo {
  roles = ["reader"];
  permissions = ["read"];
  relations = { parent: Org };
  "read" if "reader";
  "reader" if "member" on "parent";
  "reader" if global "super";
}
)");
  REQUIRE(p.ok());
  CHECK(RuleStrings(*p, "has_permission") ==
        std::vector<std::string>{"has_permission(actor: User, \"read\", resource: Repo) if "
                                 "has_role(actor, \"reader\", resource);"});
  CHECK(RuleStrings(*p, "has_role") ==
        std::vector<std::string>{
            "has_role(actor: User, \"reader\", resource: Repo) if has_relation(resource, "
            "\"parent\", _parent) and has_role(actor, \"member\", _parent);",
            "has_role(actor: User, \"reader\", resource: Repo) if has_role(actor, \"super\");"});
  // The implied allow.
  REQUIRE(RuleStrings(*p, "allow").size() == 1);
  CHECK(p->actor_types == std::set<std::string>{"User"});
  CHECK(p->resource_types == std::set<std::string>{"Org", "Repo"});
  for (const Rule& r : p->rules) CHECK_FALSE(r.source.empty());
}

TEST_CASE("or expands to several rules and not over expressions to helpers", "[unit][polar]") {
  auto p = CompilePolicy("ok(u) if (a(u) or b(u)) and not (c(u) and d(u, _));");
  REQUIRE(p.ok());
  CHECK(RuleStrings(*p, "ok") ==
        std::vector<std::string>{"ok(u) if a(u) and not _not_1(u);",
                                 "ok(u) if b(u) and not _not_1(u);"});
  CHECK(RuleStrings(*p, "_not_1") ==
        std::vector<std::string>{"_not_1(u) if c(u) and d(u, _1);"});
}

TEST_CASE("an explicit allow rule replaces the implied one", "[unit][polar]") {
  auto p = CompilePolicy("allow(a, \"read\", r) if owner(a, r);");
  REQUIRE(p.ok());
  CHECK(RuleStrings(*p, "allow") ==
        std::vector<std::string>{"allow(a, \"read\", r) if owner(a, r);"});
}

TEST_CASE("errors are sorted, located and capped at 20 lines", "[unit][polar]") {
  std::string src = "actor User {}\nresource R {\n  roles = [\"r\"];\n";
  for (int i = 0; i < 30; ++i) src += "  \"p" + std::to_string(i) + "\" if \"r\";\n";
  src += "}\n";
  auto p = CompilePolicy(src, "many.polar");
  REQUIRE_FALSE(p.ok());
  std::string msg(p.status().message());
  CHECK(std::count(msg.begin(), msg.end(), '\n') == 19);
  CHECK(msg.rfind("many.polar:4:3: \"p0\" is not a permission or role", 0) == 0);
}

TEST_CASE("reference-style policies accept their own test setups", "[unit][polar]") {
  auto p = CompilePolicy(R"(
actor User {}
resource Repo { roles = ["reader"]; permissions = ["read"]; "read" if "reader"; }
test "t" {
  setup { has_role(User{"a"}, "reader", Repo{"x"}); }
  assert allow(User{"a"}, "read", Repo{"x"});
}
)");
  REQUIRE(p.ok());
  REQUIRE(p->tests.size() == 1);
  CHECK(p->tests[0].setup.size() == 1);
  CHECK(p->tests[0].setup_locations[0] == Location{5, 11});
}

}  // namespace
}  // namespace arbiter::polar
