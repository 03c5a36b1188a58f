#ifndef ARBITER_COMMON_POLAR_AST_H_
#define ARBITER_COMMON_POLAR_AST_H_

// The parse tree of a policy, before desugaring: what the user wrote, with
// source locations. Produced by parser.h, consumed by compiler.h. Plain data.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/value.h"
#include "common/polar/program.h"

namespace arbiter::polar {

// A term: a variable (`_` is a fresh variable every time it appears), a
// constant (strings, integers, booleans, typed and entity literals), the
// evaluation time, or a list literal (only after `in`).
struct AstTerm {
  enum class Kind { kVariable, kConstant, kCurrentUnixTime, kList };
  Kind kind = Kind::kConstant;
  std::string name;              // kVariable
  Value value;                   // kConstant
  std::vector<AstTerm> items;    // kList
  std::optional<std::string> type_annotation;  // `u: User` in a test query
  Location location;
};

// A boolean expression: a rule body, a shorthand body or a test query.
struct AstExpr {
  enum class Kind {
    kAnd,      // children (2 or more)
    kOr,       // children (2 or more)
    kNot,      // children[0]
    kCall,     // name(args...)
    kCompare,  // left <op> right; `=` is kUnify
    kUnify,    // left = right
    kMatches,  // left matches type_name
    kIn,       // left in right (right must be a list literal)
    // Shorthand leaves (only inside actor/resource/global blocks):
    //   "name"                 name_term is a string constant
    //   role                   name_term is a variable (the head's variable)
    //   "name" on "relation"   relation set
    //   global "name"          global set
    kShorthandName,
  };
  Kind kind = Kind::kCall;
  std::vector<AstExpr> children;
  std::string name;  // kCall: predicate; kMatches: type name
  std::vector<AstTerm> args;  // kCall
  AstTerm left, right;        // kCompare, kUnify, kMatches (left), kIn
  CompareOp op = CompareOp::kEq;
  // kShorthandName
  AstTerm name_term;
  std::optional<std::string> relation;
  Location relation_location;
  bool global = false;
  Location location;
  size_t begin = 0, end = 0;  // byte range in the source (for helper sources)
};

struct AstParam {
  AstTerm term;
  std::optional<std::string> type;  // `name: Type`
  Location type_location;
};

// name(params...) [if body];
struct AstRule {
  std::string name;
  std::vector<AstParam> params;
  std::optional<AstExpr> body;
  Location location;
  std::string source;  // the rule's text, whitespace and comments collapsed
};

// "head" if body;   inside a block. `head` is a string or a variable.
struct AstShorthand {
  AstTerm head;
  AstExpr body;
  Location location;
  std::string source;
};

struct AstName {
  std::string name;
  Location location;
};

struct AstRelation {
  std::string name;
  std::string type;
  Location location;       // of the name
  Location type_location;  // of the type
};

struct AstBlock {
  ResourceBlock::Kind kind = ResourceBlock::Kind::kResource;
  std::string type;  // empty for global
  Location location;
  Location type_location;
  std::vector<AstName> roles;
  std::vector<AstName> permissions;
  std::vector<AstRelation> relations;
  // Locations of `roles =`, `permissions =`, `relations =` (for duplicates).
  std::vector<Location> roles_decls, permissions_decls, relations_decls;
  std::vector<AstShorthand> shorthands;
};

// declare name(Type, ...);
struct AstDeclare {
  std::string name;
  std::vector<AstName> types;
  Location location;
};

// A ground fact in `setup` or a fixture.
struct AstFact {
  std::string name;
  std::vector<AstTerm> args;
  Location location;
};

struct AstAssertion {
  TestAssertion::Kind kind = TestAssertion::Kind::kAssert;
  AstExpr query;
  // kIff: `iff <variable> in [<constants>]`
  AstTerm iff_variable;
  AstTerm iff_list;
  Location location;
  std::string source;
};

struct AstSetupItem {
  std::optional<AstFact> fact;
  std::optional<AstName> fixture;  // `fixture name;`
};

struct AstTest {
  std::string name;
  std::vector<AstSetupItem> setup;
  std::vector<AstAssertion> assertions;
  Location location;
};

struct AstFixture {
  std::string name;
  std::vector<AstFact> facts;
  Location location;
};

struct AstPolicy {
  std::vector<AstBlock> blocks;
  std::vector<AstRule> rules;
  std::vector<AstDeclare> declares;
  std::vector<AstTest> tests;
  std::vector<AstFixture> fixtures;
};

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_AST_H_
