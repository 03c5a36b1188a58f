#ifndef ARBITER_COMMON_POLAR_FACT_CHECKER_H_
#define ARBITER_COMMON_POLAR_FACT_CHECKER_H_

// Decides whether a fact may be stored under a compiled program: the
// implementation behind polar::CheckFact (policy.h), also used by the checker
// for test setup facts.

#include "absl/status/status.h"
#include "common/base/value.h"
#include "common/polar/program.h"

namespace arbiter::polar {

// OK if `fact` is well formed and fits at least one of program.signatures.
// Otherwise INVALID_ARGUMENT whose message starts with "fact <ToString(fact)>"
// and says what is wrong, in this order:
//  1. structure: predicate an identifier, 1..kMaxArity arguments, each with
//     an identifier type and a non-empty id; Integer ids are canonical int64
//     decimals, Boolean ids are true/false;
//  2. blocks: has_role(_, role, R) / has_relation(R, rel, T) where R has a
//     block must name a role / relation R declares (and T must be the
//     relation's declared type); the 2-argument has_role must name a global role;
//  3. signatures: "fact f(...) does not fit f(Sig1) or f(Sig2)".
absl::Status CheckFactAgainst(const Program& program, const Fact& fact);

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_FACT_CHECKER_H_
