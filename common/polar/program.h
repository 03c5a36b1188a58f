#ifndef ARBITER_COMMON_POLAR_PROGRAM_H_
#define ARBITER_COMMON_POLAR_PROGRAM_H_

// The compiled form of a policy: the contract between the policy pipeline
// (lexer -> parser -> compiler -> checker, all in common/polar) and the
// engine (common/eval). The compiler desugars resource/actor/global blocks
// into plain rules, expands `or` into several rules (disjunctive normal form),
// and turns `not (<expression>)` into `not` over a generated helper predicate,
// so the engine only ever sees conjunctions of the literals below.
//
// Plain data, no behaviour: cheap to copy, safe to share read-only between
// threads once built.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/base/value.h"

namespace arbiter::polar {

// 1-based line and column in the policy source. {0, 0} for generated code.
struct Location {
  int line = 0;
  int column = 0;
  friend bool operator==(const Location&, const Location&) = default;
};

// A term in a rule: a variable local to its rule, a constant value, or the
// time of evaluation (`@current_unix_time`, an Integer of seconds, fixed for
// one evaluation).
struct Term {
  enum class Kind { kVariable, kConstant, kCurrentUnixTime };
  Kind kind = Kind::kConstant;
  int variable = -1;  // kVariable: index into Rule::variable_names
  Value constant;     // kConstant

  static Term Var(int index) { return {Kind::kVariable, index, {}}; }
  static Term Const(Value v) { return {Kind::kConstant, -1, std::move(v)}; }
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

// One conjunct of a rule body.
struct Literal {
  enum class Kind {
    kCall,     // predicate(args...): resolves against rules AND stored facts
    kNotCall,  // not predicate(args...): every variable in args bound first
    kUnify,    // left = right
    kCompare,  // left <op> right (kEq/kNe compare type and id; the ordering
               // ops need two Integers or two Strings, else the literal fails)
    kMatches,  // subject matches <one of types>
    kIn,       // subject in [list...]
  };
  Kind kind = Kind::kCall;
  std::string predicate;     // kCall, kNotCall
  std::vector<Term> args;    // kCall, kNotCall; kIn: the list elements
  Term left, right;          // kUnify, kCompare (left is the subject of kIn)
  CompareOp op = CompareOp::kEq;   // kCompare
  std::vector<std::string> types;  // kMatches: the subject's type must be one
  Location location;
};

// A type constraint on a rule parameter: the argument's type must be one of
// `types` (empty = any type).
struct ParamType {
  std::vector<std::string> types;
};

// head(params...) if body[0] and body[1] and ...
struct Rule {
  std::string predicate;
  std::vector<Term> params;             // variables or constants
  std::vector<ParamType> param_types;   // same size as params
  std::vector<Literal> body;            // empty body = a fact-like rule
  std::vector<std::string> variable_names;  // "_" variables get unique names
  Location location;
  // Human-readable source of the rule this came from, for Explain, e.g.
  //   resource Repository: "push" if "maintainer";
  std::string source;
};

// What a stored fact may look like, derived by the checker from the
// declarations and from every call in a rule body. An argument fits when its
// type is in `types` (empty = any type) and, if `values` is non-empty, its id
// (for a String) is one of `values` (e.g. the roles a resource declares).
struct ArgSpec {
  std::vector<std::string> types;
  std::vector<std::string> values;
};
struct FactSignature {
  std::string predicate;
  std::vector<ArgSpec> args;
  Location location;  // what introduced it (declaration or call)
};

struct ResourceBlock {
  enum class Kind { kActor, kResource, kGlobal };
  Kind kind = Kind::kResource;
  std::string type;  // empty for the global block
  std::vector<std::string> roles;
  std::vector<std::string> permissions;
  std::map<std::string, std::string> relations;  // name -> target type
  Location location;
};

// A `test` block, with fixtures already inlined into `setup`.
struct TestAssertion {
  enum class Kind { kAssert, kAssertNot, kIff };
  Kind kind = Kind::kAssert;
  // The query, as a one-literal-or-more conjunction over `variable_names`.
  std::vector<Literal> query;
  std::vector<std::string> variable_names;
  // kIff: the assertion holds when the set of bindings of `iff_variable`
  // that satisfy the query equals `iff_values`.
  int iff_variable = -1;
  std::vector<Value> iff_values;
  Location location;
  std::string source;  // the assertion's text, for reports
};
struct PolicyTest {
  std::string name;
  std::vector<Fact> setup;
  // Added by the policy pipeline (additive): setup_locations[i] is where
  // setup[i] is written (inside a fixture for inlined fixture facts).
  std::vector<Location> setup_locations;
  std::vector<TestAssertion> assertions;
  Location location;
};

// Naming conventions of generated code (see common/polar/compiler.h):
//  * `not (<expression>)` becomes kNotCall over a helper predicate named
//    `_not_<n>` (n = 1, 2, ... in source order). Its parameters are the
//    variables the expression shares with the rest of its rule; its rules are
//    the DNF of the expression. User predicates may not start with `_`.
//  * `_` and generated variables get names starting with `_` (`_1`,
//    `_parent`, ...), unique within their rule.
//  * Shorthand rules use the variables `actor` and `resource`.
struct Program {
  std::vector<Rule> rules;
  std::vector<ResourceBlock> blocks;
  std::set<std::string> actor_types;     // from `actor X {}` blocks
  std::set<std::string> resource_types;  // from `resource X {}` blocks
  std::vector<FactSignature> signatures;
  std::vector<PolicyTest> tests;
};

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_PROGRAM_H_
