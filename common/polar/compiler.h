#ifndef ARBITER_COMMON_POLAR_COMPILER_H_
#define ARBITER_COMMON_POLAR_COMPILER_H_

// Desugars a parsed policy (ast.h) into the engine's IR (program.h):
//  * actor/resource/global blocks -> Program::blocks, actor_types,
//    resource_types; their shorthand rules -> plain rules (DESIGN.md §3):
//      in resource R:  "p" if "r";  ->
//        has_permission(actor: <actor types>, "p", resource: R) if has_role(actor, "r", resource);
//      a head name that R declares as a permission gives has_permission, a
//      role gives has_role; a body name resolves in the block it applies to
//      (R, or the target of `on "rel"`) to has_role / has_permission, or, for
//      a relation to an actor type, to has_relation(<entity>, "rel", actor);
//      "x" if "y" on "rel";  -> ... if has_relation(resource, "rel", _rel) and <"y" on _rel>
//      "x" if global "g";    -> ... if has_role(actor, "g")   (2-argument global role)
//      in the global block heads and names have two arguments: has_role(actor, "g").
//      role if role on "rel";      (head variable `role`) -> has_role(actor, role, resource)
//        if role in [<R's roles>] and has_relation(resource, "rel", _rel) and has_role(actor, role, _rel)
//      permission if "admin" on "rel";  -> has_permission(actor, permission, resource)
//        if permission in [<R's permissions>] and ...
//      "x" if role on "rel";  (a variable role or permission under a quoted head, or a
//        body variable that is not the head's) -> any role (permission) of the target:
//        ... if has_relation(resource, "rel", _rel) and _role in [<target's roles>]
//        and has_role(actor, _role, _rel)
//  * `or` -> one rule per disjunct (DNF); `not <call>` -> kNotCall, unless an
//    argument is `_`; any other `not (e)` -> kNotCall `_not_<n>(<shared vars>)`
//    plus the rules of `_not_<n>` (see program.h);
//  * the implied `allow(actor, action, resource) if has_permission(actor, action, resource);`
//    when no rule defines `allow`;
//  * `Actor` as a type means every declared actor type, `Resource` every declared
//    resource and actor type (actors are resources too);
//  * tests: fixtures inlined into setup (facts not yet checked: checker.h).
// Problems (undeclared names, duplicates, reserved names, ...) are added to
// `diagnostics`; the returned Program is then incomplete and must not be used.

#include <string_view>

#include "common/polar/ast.h"
#include "common/polar/diagnostics.h"
#include "common/polar/program.h"

namespace arbiter::polar {

// REQUIRES: `source` is the text `ast` was parsed from (for rule sources).
Program Compile(const AstPolicy& ast, std::string_view source, Diagnostics* diagnostics);

}  // namespace arbiter::polar

#endif  // ARBITER_COMMON_POLAR_COMPILER_H_
