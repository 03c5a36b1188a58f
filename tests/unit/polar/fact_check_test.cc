#include <catch2/catch.hpp>

#include "common/polar/policy.h"

namespace arbiter::polar {
namespace {

Program Compiled() {
  auto p = CompilePolicy(R"(
actor User {}
global { roles = ["admin"]; }
resource Organization { roles = ["member"]; }
resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read"];
  relations = { parent: Organization };
  "read" if "reader" or is_public(resource);
}
declare score(User, Integer);
declare flag(String, Boolean);
)");
  REQUIRE(p.ok());
  return *p;
}

std::string Check(const Program& p, Fact f) {
  absl::Status s = CheckFact(p, f);
  return s.ok() ? "OK" : std::string(s.message());
}

TEST_CASE("facts that fit signatures are accepted", "[unit][polar]") {
  Program p = Compiled();
  CHECK(Check(p, {"has_role", {{"User", "bob"}, {"String", "reader"}, {"Repository", "x"}}}) == "OK");
  CHECK(Check(p, {"has_role", {{"User", "bob"}, {"String", "admin"}}}) == "OK");
  CHECK(Check(p, {"has_relation", {{"Repository", "x"}, {"String", "parent"}, {"Organization", "o"}}}) == "OK");
  CHECK(Check(p, {"is_public", {{"Repository", "x"}}}) == "OK");
  CHECK(Check(p, {"score", {{"User", "a"}, {"Integer", "-42"}}}) == "OK");
  CHECK(Check(p, {"flag", {{"String", "beta"}, {"Boolean", "true"}}}) == "OK");
}

TEST_CASE("facts that fit no signature are rejected with the reason", "[unit][polar]") {
  Program p = Compiled();
  CHECK(Check(p, {"has_role", {{"User", "bob"}, {"String", "owner"}, {"Repository", "x"}}}) ==
        "fact has_role(User:bob, String:owner, Repository:x) does not fit: role \"owner\" is not "
        "declared in resource Repository (declared: \"maintainer\", \"reader\")");
  CHECK(Check(p, {"is_public", {{"User", "a"}}}) ==
        "fact is_public(User:a) does not fit is_public(Repository)");
  CHECK(Check(p, {"has_role", {{"User", "bob"}, {"String", "root"}}}) ==
        "fact has_role(User:bob, String:root) does not fit: role \"root\" is not declared in the "
        "global block (declared: \"admin\")");
  CHECK(Check(p, {"has_relation", {{"Repository", "x"}, {"String", "owner"}, {"User", "u"}}}) ==
        "fact has_relation(Repository:x, String:owner, User:u) does not fit: relation \"owner\" is "
        "not declared in resource Repository (declared: \"parent\")");
  CHECK(Check(p, {"has_relation", {{"Repository", "x"}, {"String", "parent"}, {"User", "u"}}}) ==
        "fact has_relation(Repository:x, String:parent, User:u) does not fit: relation \"parent\" "
        "of resource Repository holds Organization, not User");
  CHECK(Check(p, {"unknown", {{"User", "a"}}}) ==
        "fact unknown(User:a) does not fit: no rule, declaration or block mentions unknown (add "
        "\"declare unknown(...);\")");
  CHECK(Check(p, {"score", {{"User", "a"}}}) ==
        "fact score(User:a) does not fit score(User, Integer)");
  CHECK(Check(p, {"has_role", {{"Group", "g"}, {"String", "reader"}, {"Repository", "x"}}}) ==
        "fact has_role(Group:g, String:reader, Repository:x) does not fit "
        "has_role(User, \"reader\"|\"maintainer\", Repository)");
}

TEST_CASE("malformed facts are rejected", "[unit][polar]") {
  Program p = Compiled();
  CHECK(Check(p, {"bad name", {{"User", "a"}}}).find("predicate \"bad name\" is not an identifier") != std::string::npos);
  CHECK(Check(p, {"is_public", {}}).find("it has 0 arguments (expected 1 to 5)") != std::string::npos);
  CHECK(Check(p, {"is_public", {{"A", "1"}, {"A", "2"}, {"A", "3"}, {"A", "4"}, {"A", "5"}, {"A", "6"}}})
            .find("it has 6 arguments") != std::string::npos);
  CHECK(Check(p, {"is_public", {{"", "x"}}}).find("argument 1 has type \"\"") != std::string::npos);
  CHECK(Check(p, {"is_public", {{"Repository", ""}}}).find("argument 1 has an empty id") != std::string::npos);
  CHECK(Check(p, {"score", {{"User", "a"}, {"Integer", "12x"}}}).find("is not a 64-bit integer") != std::string::npos);
  CHECK(Check(p, {"score", {{"User", "a"}, {"Integer", "99999999999999999999"}}}).find("is not a 64-bit integer") != std::string::npos);
  CHECK(Check(p, {"flag", {{"String", "a"}, {"Boolean", "yes"}}}).find("Boolean id must be true or false") != std::string::npos);
}

}  // namespace
}  // namespace arbiter::polar
