#ifndef ARBITER_COMMON_POLAR_CHECKER_H_
#define ARBITER_COMMON_POLAR_CHECKER_H_

// Whole-program checks over a compiled policy, and derivation of the fact
// signatures (Program::signatures). Runs after compiler.h.
//
// Errors:
//  * arity: rule heads, calls and declarations take 1..kMaxArity arguments
//    (rules and calls may take 0; helpers for `not` at most kMaxArity);
//  * a call (in a rule or a test) whose predicate is defined (by rules,
//    declarations or blocks) only with other arities;
//  * a variable under `not` that neither the rule head nor a positive
//    condition of the same rule mentions (write `_` for "any value");
//  * test setup facts that do not fit the signatures (fact_checker.h).
// Not errors: calls to predicates with no rule (they read stored facts),
// singleton variables.
//
// Signatures, in this order, duplicates removed:
//  1. each role of a resource/actor block R: has_role(<actor types>, "r1"|..., R);
//  2. each relation: has_relation(R, "rel", Target);
//  3. global roles: has_role(<actor types>, "g1"|...);
//  4. `declare p(T1, T2)`: p(T1, T2) (Actor / Resource expanded);
//  5. every call in a rule body (positive or under not), except to allow,
//     has_permission (derived from roles, never stored: declare it to store
//     it) and generated `_` helpers, with argument types inferred from typed
//     rule parameters, `x matches T`, `x = <constant>` and constants (a String
//     constant also fixes the value); untyped means any type. The role of
//     has_role(_, role, R) and the relation of has_relation(R, rel, _) are
//     limited to what R's block declares when R is known. A call signature
//     with an untyped argument is skipped when 1-4 already give the
//     predicate that arity (declarations and blocks are authoritative).
// "<actor types>" is empty (any type) when the policy declares no actor block.

#include "common/polar/ast.h"
#include "common/polar/diagnostics.h"
#include "common/polar/program.h"

namespace arbiter::polar {

// Fills program->signatures and adds problems to `diagnostics`.
// REQUIRES: `program` was compiled from `ast` without errors.
void Check(const AstPolicy& ast, Program* program, Diagnostics* diagnostics);

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_CHECKER_H_
