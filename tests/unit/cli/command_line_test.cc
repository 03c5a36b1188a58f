#include "services/cli/command_line.h"

#include <catch2/catch.hpp>

namespace arbiter::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {.name = "tenant", .value_name = "NAME", .help = "the tenant"},
    {.name = "json", .takes_value = false, .help = "json"},
    {.name = "context", .repeated = true, .help = "a fact"},
};

absl::StatusOr<ParsedArgs> Parse(std::vector<std::string> args) {
  return ParseArgs(args, kSpecs);
}

TEST_CASE("flags anywhere, in both spellings", "[unit][cli]") {
  auto a = Parse({"User:alice", "--tenant=acme", "read", "--json", "Repository:x"});
  REQUIRE(a.ok());
  CHECK(a->positional() == std::vector<std::string>{"User:alice", "read", "Repository:x"});
  CHECK(a->Get("tenant") == "acme");
  CHECK(a->GetBool("json"));

  auto b = Parse({"--tenant", "acme", "x"});
  REQUIRE(b.ok());
  CHECK(b->Get("tenant") == "acme");
  CHECK(b->positional() == std::vector<std::string>{"x"});
  CHECK(!b->GetBool("json"));
  CHECK(b->Get("missing", "fallback") == "fallback");
}

TEST_CASE("booleans, repeats, -- and help", "[unit][cli]") {
  auto a = Parse({"--json=false", "--context=a b", "--context", "c d", "--", "--json", "-x"});
  REQUIRE(a.ok());
  CHECK(!a->GetBool("json"));
  CHECK(a->GetAll("context") == std::vector<std::string>{"a b", "c d"});
  CHECK(a->positional() == std::vector<std::string>{"--json", "-x"});
  CHECK(Parse({"-h"})->GetBool("help"));
  CHECK(Parse({"--help"})->GetBool("help"));
  // A lone "-" is a word (stdin for batch).
  CHECK(Parse({"-"})->positional() == std::vector<std::string>{"-"});
}

TEST_CASE("bad flags are named", "[unit][cli]") {
  auto unknown = Parse({"--tenat=x"});
  REQUIRE(!unknown.ok());
  CHECK(std::string(unknown.status().message()) == "unknown flag --tenat");
  CHECK(!Parse({"-t"}).ok());
  auto missing = Parse({"x", "--tenant"});
  REQUIRE(!missing.ok());
  CHECK(std::string(missing.status().message()).find("--tenant needs a value") != std::string::npos);
  CHECK(!Parse({"--json=yes"}).ok());
  CHECK(!Parse({"--tenant=a", "--tenant=b"}).ok());
}

TEST_CASE("flag help is aligned", "[unit][cli]") {
  std::string help = FormatFlagHelp(kSpecs);
  // Aligned on the longest, "--context=VALUE".
  CHECK(help.find("  --tenant=NAME    the tenant\n") != std::string::npos);
  CHECK(help.find("  --json           json\n") != std::string::npos);
  CHECK(help.find("  --context=VALUE  a fact\n") != std::string::npos);
}

}  // namespace
}  // namespace arbiter::cli
