// Malformed-policy generator: truncations at token boundaries and random
// token deletions, insertions and swaps (fixed seeds) over the valid
// policies. The pipeline must never crash, and every error line must carry a
// "<file>:<line>:<col>: " location.

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_split.h"
#include "common/polar/lexer.h"
#include "common/polar/policy.h"

namespace arbiter::polar {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kPool[] = {"(", ")", "{", "}", "[", "]", ",", ";", ":", ".", "=", "==", "!=",
                       "<", ">=", "if", "and", "or", "not", "on", "global", "matches", "in",
                       "\"x\"", "42", "-7", "_", "actor", "resource", "test", "setup", "assert",
                       "iff", "fixture", "declare", "roles", "relations", "User{\"a\"}",
                       "@current_unix_time", "forall", "x.y", "1.5", "#c\n", "\"\\q\"", "?=",
                       "type", "has_role", "Integer{", "}"};

void ExpectLocatedErrorsOrOk(const std::string& source, int* failures) {
  auto program = CompilePolicy(source, "m.polar");
  if (program.ok()) return;
  static const std::regex kLine(R"(^m\.polar:([1-9][0-9]*):([1-9][0-9]*): [a-z"(@'_\\].*)");
  int lines = 0;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(program.status().message(), '\n'))) {
    ++lines;
    if (!std::regex_match(line, kLine)) {
      ++*failures;
      UNSCOPED_INFO("bad error line: " << line << "\nfor source:\n" << source);
    }
  }
  if (program.status().code() != absl::StatusCode::kInvalidArgument || lines > 20) ++*failures;
}

TEST_CASE("malformed policies never crash and always report a location", "[unit][polar]") {
  fs::path data = fs::path(ARBITER_SOURCE_DIR) / "tests" / "data";
  std::vector<fs::path> files = {data / "polar" / "valid" / "design_example.polar",
                                 data / "polar" / "valid" / "shorthand_forms.polar",
                                 data / "polar" / "valid" / "plain_rules.polar",
                                 data / "polar" / "valid" / "tests_blocks.polar",
                                 data / "policies" / "folders.polar"};
  std::mt19937 rng(20240601);
  int cases = 0, failures = 0;
  for (const fs::path& f : files) {
    std::string src = ReadFile(f);
    auto tokens = Tokenize(src, "m.polar");
    REQUIRE(tokens.ok());
    const std::vector<Token>& t = *tokens;
    // Truncations at token boundaries (every third one keeps the run short).
    for (size_t i = 0; i < t.size(); i += 3) {
      ExpectLocatedErrorsOrOk(src.substr(0, t[i].begin), &failures);
      ++cases;
    }
    // Random single-token edits.
    std::uniform_int_distribution<size_t> pick(0, t.size() - 2);
    std::uniform_int_distribution<size_t> pool(0, std::size(kPool) - 1);
    for (int n = 0; n < 40; ++n) {
      size_t i = pick(rng);
      std::string mutated;
      switch (n % 3) {
        case 0:  // delete token i
          mutated = src.substr(0, t[i].begin) + src.substr(t[i].end);
          break;
        case 1:  // insert a token before token i
          mutated = src.substr(0, t[i].begin) + kPool[pool(rng)] + " " + src.substr(t[i].begin);
          break;
        default: {  // swap tokens i and i+1
          const Token& a = t[i];
          const Token& b = t[i + 1];
          mutated = src.substr(0, a.begin) + src.substr(b.begin, b.end - b.begin) +
                    src.substr(a.end, b.begin - a.end) + src.substr(a.begin, a.end - a.begin) +
                    src.substr(b.end);
        }
      }
      ExpectLocatedErrorsOrOk(mutated, &failures);
      ++cases;
    }
  }
  // Random garbage made of pool tokens.
  for (int n = 0; n < 60; ++n) {
    std::string garbage;
    std::uniform_int_distribution<size_t> pool(0, std::size(kPool) - 1);
    for (int k = 0; k < 1 + n % 25; ++k) garbage += std::string(kPool[pool(rng)]) + " ";
    ExpectLocatedErrorsOrOk(garbage, &failures);
    ++cases;
  }
  CHECK(cases >= 500);
  CHECK(failures == 0);
}

TEST_CASE("deeply nested input is refused, not a stack overflow", "[unit][polar]") {
  std::string src = "a(x) if " + std::string(10000, '(') + "b(x)" + std::string(10000, ')') + ";";
  auto p = CompilePolicy(src, "m.polar");
  REQUIRE_FALSE(p.ok());
  CHECK(std::string(p.status().message()).find("nested too deeply") != std::string::npos);
  src = "a(x) if ";
  for (int i = 0; i < 5000; ++i) src += "not ";
  src += "b(x);";
  CHECK_FALSE(CompilePolicy(src, "m.polar").ok());
}

}  // namespace
}  // namespace arbiter::polar
