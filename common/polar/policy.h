#ifndef ARBITER_COMMON_POLAR_POLICY_H_
#define ARBITER_COMMON_POLAR_POLICY_H_

// The policy pipeline's public API (DESIGN.md §3): source text in, the
// engine's Program out (program.h), plus the write-time fact check. The
// engine, the log and the CLI call only these two functions; lexer.h,
// parser.h, compiler.h and checker.h are the layers behind them.
//
// Thread-safe: both functions are pure.

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/value.h"
#include "common/polar/program.h"

namespace arbiter::polar {

// Parses, compiles (desugars) and checks a policy. On failure returns
// INVALID_ARGUMENT whose message is one line per problem,
// "<filename>:<line>:<col>: <message>", sorted by location, at most 20
// lines. A syntax error stops at the first one (one line); compile and check
// problems are all reported. Messages start lowercase, have no trailing
// period, and say what was expected / what is wrong, e.g.
//   policy.polar:12:3: "writer" is not a permission or role declared in resource Repository (...)
//   policy.polar:4:15: not supported by Arbiter: field access ("user.roles"); store the data as facts
// On success every test setup fact fits the program (CheckFact).
absl::StatusOr<Program> CompilePolicy(std::string_view source,
                                      std::string_view filename = "policy.polar");

// OK if `fact` fits at least one of program.signatures; otherwise
// INVALID_ARGUMENT naming the fact and the expected signature(s), e.g.
//   fact has_role(User:bob, String:owner, Repository:x) does not fit: role "owner" is not
//     declared in resource Repository (declared: "maintainer", "reader")
//   fact is_public(User:a) does not fit is_public(Repository)
// Also structural: the predicate is an identifier, 1..kMaxArity arguments,
// non-empty types and ids, Integer ids are canonical int64, Boolean ids are
// true/false. See fact_checker.h for the order of the checks.
absl::Status CheckFact(const Program& program, const Fact& fact);

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_POLICY_H_
