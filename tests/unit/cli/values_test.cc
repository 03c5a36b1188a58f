#include "services/cli/values.h"

#include <catch2/catch.hpp>

namespace arbiter::cli {
namespace {

v1::Value V(const std::string& type, const std::string& id) {
  v1::Value v;
  v.set_type(type);
  v.set_id(id);
  return v;
}

bool Same(const v1::Value& a, const v1::Value& b) {
  return a.type() == b.type() && a.id() == b.id();
}

TEST_CASE("values are Type:id, bare words are Strings", "[unit][cli]") {
  CHECK(Same(*ParseValue("User:alice"), V("User", "alice")));
  CHECK(Same(*ParseValue("read"), V("String", "read")));
  CHECK(Same(*ParseValue("Integer:-12"), V("Integer", "-12")));
  CHECK(Same(*ParseValue("Boolean:true"), V("Boolean", "true")));
  CHECK(Same(*ParseValue("String:a:b"), V("String", "a:b")));
  // Split at the first ':' only: the id keeps the rest.
  CHECK(Same(*ParseValue("Url:http://x/y"), V("Url", "http://x/y")));
  // A prefix that is not a type name leaves the word a String.
  CHECK(Same(*ParseValue("two words:x"), V("String", "two words:x")));
  CHECK(Same(*ParseValue("9lives:x"), V("String", "9lives:x")));
}

TEST_CASE("bad values fail before any RPC, naming the argument", "[unit][cli]") {
  auto empty = ParseValue("", "actor");
  REQUIRE(empty.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(empty.status().message()).find("actor") == 0);
  CHECK(ParseValue("User:").status().code() == absl::StatusCode::kInvalidArgument);
  auto integer = ParseValue("Integer:x", "argument 2");
  REQUIRE(!integer.ok());
  CHECK(std::string(integer.status().message()).find("argument 2.id") == 0);
  CHECK(!ParseValue("Integer:03").ok());
  CHECK(!ParseValue("Boolean:yes").ok());
  CHECK(!ParseValue("_").ok());
  CHECK(!ParseValue("User:_").ok());
  CHECK(!ParseValue("?x").ok());
}

TEST_CASE("pattern arguments take _ and Type:_", "[unit][cli]") {
  CHECK(Same(*ParsePatternArg("_"), V("", "")));
  CHECK(Same(*ParsePatternArg("Repository:_"), V("Repository", "")));
  CHECK(Same(*ParsePatternArg("User:bob"), V("User", "bob")));
  CHECK(!ParsePatternArg("9x:_").ok());

  auto p = ParsePattern("has_role", {"User:bob", "_", "Repository:_"});
  REQUIRE(p.ok());
  CHECK(FormatPattern(*p) == "has_role(User:bob, _, Repository:_)");
}

TEST_CASE("facts need an identifier predicate and 1..5 values", "[unit][cli]") {
  auto f = ParseFact("has_role", {"User:alice", "maintainer", "Repository:anvils"});
  REQUIRE(f.ok());
  CHECK(FormatFact(*f) == "has_role(User:alice, String:maintainer, Repository:anvils)");
  CHECK(!ParseFact("has-role", {"User:a"}).ok());
  CHECK(!ParseFact("p", {}).ok());
  CHECK(!ParseFact("p", {"a", "b", "c", "d", "e", "f"}).ok());
  CHECK(!ParseFact("p", {"_"}).ok());

  auto words = ParseFactWords("  is_public   Repository:docs ");
  REQUIRE(words.ok());
  CHECK(FormatFact(*words) == "is_public(Repository:docs)");
  auto bad = ParseFactWords("is_public Integer:x");
  REQUIRE(!bad.ok());
  CHECK(std::string(bad.status().message()).find("fact \"is_public Integer:x\"") == 0);
}

TEST_CASE("queries: wildcards become fresh variables, ?x named ones", "[unit][cli]") {
  auto q = ParseQuery("has_role", {"?u", "_", "Repository:_"});
  REQUIRE(q.ok());
  REQUIRE(q->request.args_size() == 3);
  CHECK(q->request.args(0).variable() == "u");
  CHECK(q->request.args(1).variable() == "_2");
  CHECK(q->request.args(2).variable() == "_3");
  CHECK(q->type_filter == std::vector<std::string>{"", "", "Repository"});

  v1::Fact repo, org;
  repo.set_predicate("has_role");
  *repo.add_args() = V("User", "a");
  *repo.add_args() = V("String", "reader");
  *repo.add_args() = V("Repository", "x");
  org = repo;
  *org.mutable_args(2) = V("Organization", "acme");
  CHECK(PassesTypeFilter(*q, repo));
  CHECK(!PassesTypeFilter(*q, org));

  auto bound = ParseQuery("has_role", {"User:alice", "admin", "Organization:acme"});
  REQUIRE(bound.ok());
  CHECK(bound->request.args(1).value().type() == "String");
  CHECK(!ParseQuery("has_role", {"?_x"}).ok());
  CHECK(!ParseQuery("has_role", {"?9"}).ok());
}

TEST_CASE("batch lines: insert and delete in protobuf JSON", "[unit][cli]") {
  auto insert = ParseBatchLine(
      R"({"insert": {"predicate": "is_public", "args": [{"type": "Repository", "id": "docs"}]}})");
  REQUIRE(insert.ok());
  REQUIRE(insert->has_insert());
  CHECK(FormatFact(insert->insert()) == "is_public(Repository:docs)");

  for (const char* key : {"delete", "deletePattern", "delete_pattern"}) {
    auto del = ParseBatchLine(std::string("{\"") + key +
                              R"(": {"predicate": "has_role", "args": [{"type": "User", "id": "bob"}, {}, {"type": "Repository"}]}})");
    INFO(key << ": " << del.status());
    REQUIRE(del.ok());
    CHECK(FormatPattern(del->delete_pattern()) == "has_role(User:bob, _, Repository:_)");
  }

  CHECK(!ParseBatchLine("not json").ok());
  CHECK(!ParseBatchLine(R"({"upsert": {}})").ok());
  CHECK(!ParseBatchLine(R"({"insert": {"predicate": "p", "args": []}, "delete": {}})").ok());
  // Unknown fields and invalid values are refused, with the field named.
  CHECK(!ParseBatchLine(R"({"insert": {"predicate": "p", "argz": []}})").ok());
  auto bad = ParseBatchLine(R"({"insert": {"predicate": "p", "args": [{"type": "User"}]}})");
  REQUIRE(!bad.ok());
  CHECK(std::string(bad.status().message()).find("insert.args[0].id") == 0);
  // An insert may not hold wildcards.
  CHECK(!ParseBatchLine(R"({"insert": {"predicate": "p", "args": [{}]}})").ok());
}

TEST_CASE("batch files skip blanks and comments, errors name file and line", "[unit][cli]") {
  std::string text =
      "# demo\n"
      "\n"
      R"({"insert": {"predicate": "is_public", "args": [{"type": "Repository", "id": "a"}]}})"
      "\n"
      R"({"delete": {"predicate": "is_public", "args": [{}]}})"
      "\n";
  auto ops = ParseBatch(text, "f.jsonl");
  REQUIRE(ops.ok());
  CHECK(ops->size() == 2);

  auto bad = ParseBatch(text + "{\"insert\": 3}\n", "f.jsonl");
  REQUIRE(!bad.ok());
  CHECK(std::string(bad.status().message()).find("f.jsonl:5: ") == 0);
  CHECK(!ParseBatch("# nothing\n", "f.jsonl").ok());
}

}  // namespace
}  // namespace arbiter::cli
