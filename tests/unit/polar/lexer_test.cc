#include "common/polar/lexer.h"

#include <catch2/catch.hpp>

namespace arbiter::polar {
namespace {

TEST_CASE("lexer splits tokens with locations", "[unit][polar]") {
  auto tokens = Tokenize("allow(x) if x >= 3; # c\n  \"a\\\"b\" @current_unix_time", "f.polar");
  REQUIRE(tokens.ok());
  const auto& t = *tokens;
  REQUIRE(t.size() == 12);
  CHECK(t[0].kind == TokenKind::kIdentifier);
  CHECK(t[0].text == "allow");
  CHECK(t[5].kind == TokenKind::kIdentifier);
  CHECK(t[6].kind == TokenKind::kGe);
  CHECK(t[7].kind == TokenKind::kInteger);
  CHECK(t[7].text == "3");
  CHECK(t[9].kind == TokenKind::kString);
  CHECK(t[9].text == "a\"b");
  CHECK(t[9].location == Location{2, 3});
  CHECK(t[10].kind == TokenKind::kAt);
  CHECK(t[10].text == "current_unix_time");
  CHECK(t[11].kind == TokenKind::kEnd);
}

TEST_CASE("lexer reports errors with line and column", "[unit][polar]") {
  auto s = Tokenize("x\n  \"abc", "f.polar");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "f.polar:2:3: unterminated string");
  s = Tokenize("\"a\\qb\"", "f.polar");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().substr(0, 30) == "f.polar:1:3: invalid escape \"\\");
  s = Tokenize("a $ b", "f.polar");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "f.polar:1:3: unexpected character '$'");
}

TEST_CASE("lexer distinguishes operators", "[unit][polar]") {
  auto tokens = Tokenize("= == != < <= > >= ?= | - 1.5", "f");
  REQUIRE(tokens.ok());
  std::vector<TokenKind> kinds;
  for (const Token& t : *tokens) kinds.push_back(t.kind);
  CHECK(kinds == std::vector<TokenKind>{TokenKind::kAssign, TokenKind::kEq, TokenKind::kNe,
                                        TokenKind::kLt, TokenKind::kLe, TokenKind::kGt,
                                        TokenKind::kGe, TokenKind::kQuery, TokenKind::kPipe,
                                        TokenKind::kMinus, TokenKind::kFloat, TokenKind::kEnd});
}

}  // namespace
}  // namespace arbiter::polar
