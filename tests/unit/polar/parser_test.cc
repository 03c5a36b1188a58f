#include "common/polar/parser.h"

#include <catch2/catch.hpp>

namespace arbiter::polar {
namespace {

TEST_CASE("parser builds blocks, rules, declarations and tests", "[unit][polar]") {
  auto ast = ParseSource(R"(
actor User {}
resource Repo {
  roles = ["reader", "maintainer",];
  permissions = ["read"];
  relations = { parent: Org, };
  "read" if "reader" or is_public(resource);
  role if role on "parent";
}
declare is_public(Repo);
has_role(u: User, "reader", r) if u = r and not (a(u) or b(r));
test fixture f { has_role(User{"a"}, "reader", Repo{"x"}); }
test "t" {
  setup { fixture f; is_public(Repo{"y"}); }
  assert allow(User{"a"}, "read", r: Repo) iff r in [Repo{"x"}, Repo{"y"}];
  assert_not allow(User{"b"}, "read", Repo{"x"});
}
)", "p.polar");
  REQUIRE(ast.ok());
  REQUIRE(ast->blocks.size() == 2);
  const AstBlock& repo = ast->blocks[1];
  CHECK(repo.type == "Repo");
  CHECK(repo.roles.size() == 2);
  CHECK(repo.relations.size() == 1);
  REQUIRE(repo.shorthands.size() == 2);
  CHECK(repo.shorthands[0].body.kind == AstExpr::Kind::kOr);
  CHECK(repo.shorthands[1].head.kind == AstTerm::Kind::kVariable);
  CHECK(repo.shorthands[1].body.kind == AstExpr::Kind::kShorthandName);
  CHECK(repo.shorthands[1].body.relation == "parent");
  REQUIRE(ast->rules.size() == 1);
  CHECK(ast->rules[0].params[0].type == "User");
  CHECK(ast->rules[0].body->kind == AstExpr::Kind::kAnd);
  CHECK(ast->rules[0].source ==
        "has_role(u: User, \"reader\", r) if u = r and not (a(u) or b(r));");
  CHECK(ast->declares.size() == 1);
  CHECK(ast->fixtures.size() == 1);
  REQUIRE(ast->tests.size() == 1);
  CHECK(ast->tests[0].setup.size() == 2);
  CHECK(ast->tests[0].assertions[0].kind == TestAssertion::Kind::kIff);
  CHECK(ast->tests[0].assertions[1].kind == TestAssertion::Kind::kAssertNot);
}

TEST_CASE("parser reports the first syntax error with its location", "[unit][polar]") {
  auto ast = ParseSource("a(x) if b(x)\nc(y);", "p.polar");
  REQUIRE_FALSE(ast.ok());
  CHECK(ast.status().message() == "p.polar:2:1: expected ';' after rule, found \"c\"");
  ast = ParseSource("a(x) if x.y = 1;", "p.polar");
  REQUIRE_FALSE(ast.ok());
  CHECK(ast.status().message() ==
        "p.polar:1:10: not supported by Arbiter: field access (\"x.y\"); store the data as facts");
}

TEST_CASE("parser handles negative and boundary integers", "[unit][polar]") {
  auto ast = ParseSource("a(-9223372036854775808, 9223372036854775807, Integer{-3});", "p");
  REQUIRE(ast.ok());
  CHECK(ast->rules[0].params[0].term.value.id == "-9223372036854775808");
  CHECK(ast->rules[0].params[2].term.value == Value{"Integer", "-3"});
  CHECK_FALSE(ParseSource("a(-9223372036854775809);", "p").ok());
}

}  // namespace
}  // namespace arbiter::polar
