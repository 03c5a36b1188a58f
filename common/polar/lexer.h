#ifndef ARBITER_COMMON_POLAR_LEXER_H_
#define ARBITER_COMMON_POLAR_LEXER_H_

// Splits Polar source text into tokens. Keywords (if, and, resource, ...) are
// plain kIdentifier tokens: Polar keywords are contextual (`actor` and
// `resource` are also the usual variable names), so the parser decides.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/polar/program.h"

namespace arbiter::polar {

enum class TokenKind {
  kIdentifier,  // [A-Za-z_][A-Za-z0-9_]*
  kString,      // "..." (text holds the unescaped value)
  kInteger,     // decimal digits, unsigned (text holds the digits; the parser
                // applies a leading '-' and checks the int64 range)
  kFloat,       // 1.5 (lexed only so the parser can refuse it precisely)
  kAt,          // @ident, e.g. @current_unix_time (text holds "current_unix_time")
  kLParen, kRParen, kLBrace, kRBrace, kLBracket, kRBracket,
  kComma, kSemicolon, kColon, kDot,
  kAssign,   // =
  kEq,       // ==
  kNe,       // !=
  kLt, kLe, kGt, kGe,
  kPlus, kMinus, kStar, kSlash,  // arithmetic: lexed only to be refused
  kQuery,    // ?=  (inline query, refused)
  kPipe,     // |
  kEnd,      // end of input
};

// Renders a kind for messages, e.g. "';'", "identifier", "end of input".
std::string TokenKindName(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // see TokenKind; for punctuation the punctuation itself
  Location location;
  size_t begin = 0;  // byte offsets of the raw token in the source
  size_t end = 0;
};

// Renders a token for "found ..." in messages: identifiers and punctuation
// quoted as written, strings with their quotes, "end of input".
std::string DescribeToken(const Token& token);

// Tokenizes `source`. Skips whitespace and `#` comments. The result always
// ends with one kEnd token. Lines and columns are 1-based; a tab counts as one
// column. On the first lexical error (unterminated string, invalid escape,
// unexpected character) returns INVALID_ARGUMENT
// "<filename>:<line>:<col>: <message>".
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source,
                                            std::string_view filename);

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_LEXER_H_
