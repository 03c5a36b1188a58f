#ifndef ARBITER_COMMON_POLAR_PARSER_H_
#define ARBITER_COMMON_POLAR_PARSER_H_

// Recursive-descent parser for the Polar subset of DESIGN.md §3: tokens from
// lexer.h in, an AstPolicy (ast.h) out. Purely syntactic: names, types and
// arities are resolved by the compiler and the checker.
//
// Grammar (informal; keywords are contextual identifiers):
//   policy     := item*
//   item       := ("actor" | "resource") Type block | "global" block
//               | "declare" name "(" Type ("," Type)* ")" ";"
//               | "test" string "{" test_item* "}" | "test" "fixture" name "{" (fact ";")* "}"
//               | name "(" [param ("," param)* [","]] ")" ["if" expr] ";"
//   block      := "{" (("roles" | "permissions") "=" "[" strings "]" ";"
//                     | "relations" "=" "{" (name ":" Type ",")* "}" ";"
//                     | (string | variable) "if" expr ";")* "}"
//   expr       := and ("or" and)*;  and := unary ("and" unary)*
//   unary      := "not" unary | "(" expr ")" | call | term op term
//               | term "matches" Type | term "in" list | shorthand_leaf
//   shorthand_leaf (blocks only) := string ["on" string] | "global" string
//               | variable "on" string | <the head variable>
//   term       := variable | "_" | string | ["-"] integer | true | false
//               | Type "{" (string | integer | boolean) "}" | "@current_unix_time"
//               | "[" terms "]"
//   test_item  := "setup" "{" ((fact | "fixture" name) ";")* "}"
//               | ("assert" | "assert_not") expr ["iff" variable "in" list] ";"
// Constructs of Oso's open-source Polar that Arbiter does not implement
// (field access, method calls, forall, cut, print, dictionaries, patterns,
// new, isa, rule types, inline queries, floats, arithmetic) are refused with
// "not supported by Arbiter: ...".

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/polar/ast.h"
#include "common/polar/lexer.h"

namespace arbiter::polar {

// Parses `tokens` (from Tokenize over `source`, ending with kEnd). On the
// first syntax error returns INVALID_ARGUMENT with exactly one line
// "<filename>:<line>:<col>: <message>", e.g.
//   policy.polar:3:17: expected ';' after rule, found "has_role"
absl::StatusOr<AstPolicy> Parse(const std::vector<Token>& tokens, std::string_view source,
                                std::string_view filename);

// Tokenize + Parse.
absl::StatusOr<AstPolicy> ParseSource(std::string_view source, std::string_view filename);

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_PARSER_H_
