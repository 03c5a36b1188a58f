#ifndef ARBITER_COMMON_POLAR_PROGRAM_TEXT_H_
#define ARBITER_COMMON_POLAR_PROGRAM_TEXT_H_

// Deterministic Polar-like renderings of the compiled IR, for error
// messages, Explain output, `arbiter policy` tooling and golden tests.

#include <string>
#include <vector>

#include "common/polar/program.h"

namespace arbiter::polar {

// A value as Polar source: "text" (escaped), 42, true, User{"alice"}.
std::string ValueToPolar(const Value& value);

// A term; variables are named from `variable_names`.
std::string TermToString(const Term& term, const std::vector<std::string>& variable_names);

// One literal, e.g. `has_role(actor, "admin", resource)`, `not _not_1(x)`,
// `x matches User`, `level <= 3`, `r in [Repo{"a"}, Repo{"b"}]`.
std::string LiteralToString(const Literal& literal,
                            const std::vector<std::string>& variable_names);

// `head(p: Type, "x") if l1 and l2;` (typed parameters as `p: A|B`).
std::string RuleToString(const Rule& rule);

// `has_role(User|Group, "admin"|"member", Organization)`; `_` = any type.
std::string SignatureToString(const FactSignature& signature);

// The whole program: blocks, rules (each followed by its source and
// location), signatures and tests. Used by the golden tests.
std::string ProgramToString(const Program& program);

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_PROGRAM_TEXT_H_
