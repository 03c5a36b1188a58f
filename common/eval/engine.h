#ifndef ARBITER_COMMON_EVAL_ENGINE_H_
#define ARBITER_COMMON_EVAL_ENGINE_H_

// The decision engine: answers the queries of DESIGN.md §3 from one compiled
// policy (polar::Program) over any FactSource.
//
// Evaluation is top-down resolution. A call resolves against the rules of its
// predicate AND the stored facts of that name and arity. Predicates that take
// part in recursion (a cycle in the call graph) are tabled: each call variant
// gets a table of answers, and the tables of a strongly connected set of
// calls are re-evaluated until none grows (a fixpoint), so recursion over
// cyclic data (a folder that is its own ancestor) terminates with every
// answer. Every evaluation has a deterministic step budget (rules tried, fact
// rows and table answers visited); running out is RESOURCE_EXHAUSTED, never
// an allow.
//
// Fast path: when the FactSource is a FactIndex (or an OverlayFactSource over
// one), the engine reads its interned indexes directly
// instead of calling Scan. The answers are identical (tested); pass
// QueryOptions::use_fast_path = false to force the Scan path.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/value.h"
#include "common/eval/fact_source.h"
#include "common/polar/program.h"

namespace arbiter::eval {

struct EngineOptions {
  // Default step budget of one evaluation (see QueryOptions::step_budget).
  // A step is one unit of work: a rule tried, a body literal solved, a
  // candidate of `in` or an element compared, a fact row or table answer
  // visited. Running out is RESOURCE_EXHAUSTED.
  int64_t step_budget = 1'000'000;
  // Maximum nesting of rule applications (a folder chain deeper than this is
  // RESOURCE_EXHAUSTED).
  int max_depth = 1000;
  // Most bytes of the thread's stack one evaluation may use; never more than
  // the thread has below the caller, less 256 KiB. Body literals and rules
  // nest on the stack, so this bounds how deeply a policy's conditions may
  // chain whatever its shape: past it, RESOURCE_EXHAUSTED naming the limit.
  size_t max_stack_bytes = size_t{4} << 20;
  // Most nodes of a deny's explanation (Explain): past it the goals not yet
  // explained are kCut and Explanation::truncated is set. An allow's proof
  // is always complete.
  int64_t max_explain_nodes = 500;
};

// Per-query inputs besides the question itself.
struct QueryOptions {
  // Facts visible to this one evaluation only, as if stored.
  std::span<const Fact> context;
  // The value of @current_unix_time (seconds); unset: the wall clock.
  std::optional<int64_t> now_unix_seconds;
  // Overrides EngineOptions::step_budget when set (> 0).
  std::optional<int64_t> step_budget;
  // The evaluation stops with DEADLINE_EXCEEDED once this passes, and with
  // CANCELLED once `cancelled` returns true (the RPC's deadline and
  // cancellation); both are polled every 4,096 steps.
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;
  // false: read facts only through FactSource::Scan, even from a
  // FactIndex (the reference path; tests compare both).
  bool use_fast_path = true;
};

// One argument of Query(): a bound value or a named variable. Repeating a
// variable name makes the positions equal; "_" is a fresh variable each time.
struct QueryArg {
  std::optional<Value> value;  // set: bound
  std::string variable;        // used when value is unset

  static QueryArg Bound(Value v) { return {std::move(v), {}}; }
  static QueryArg Var(std::string name) { return {std::nullopt, std::move(name)}; }
};

struct QueryResult {
  // Distinct variable names, in order of first appearance ("_" excluded).
  std::vector<std::string> variables;
  // One row per distinct binding (sorted), values in `variables` order.
  // std::nullopt: a rule holds for any value there (e.g. a global role grants
  // a role on every Organization); no stored fact narrows it. Ask a ground
  // Query to check a particular value.
  std::vector<std::vector<std::optional<Value>>> rows;
};

struct ListResult {
  std::vector<std::string> ids;  // ascending, all > the cursor
  // The permission holds for every resource of the type, also those no fact
  // mentions (a rule that does not depend on the resource, e.g. a global
  // role): `ids` lists only the ones the facts mention.
  bool all_of_type = false;
  // Set when `limit` cut the page short: pass it as the next cursor (the last
  // id returned). Empty when the listing is complete.
  std::string next_cursor;
};

struct ActionsResult {
  std::vector<std::string> actions;  // ascending
  // Every action is allowed, also strings the policy never mentions (a rule
  // that does not depend on the action): `actions` lists the known ones.
  bool any_action = false;
};

// A proof (for an allow) or a refutation (for a deny), as a tree.
struct ProofNode {
  enum class Kind {
    kRule,      // goal holds by `rule_source`; children prove its body
    kFact,      // goal is a stored (or context) fact
    kBuiltin,   // a comparison, `matches`, `in` or `=` literal, as evaluated
    kNegation,  // `not goal`: holds because goal has no proof
    kGoal,      // deny: goal does not hold; children: the lookups and rules tried
    kNoFact,    // deny: no stored fact equals goal
    kRuleFailed,  // deny: `rule_source` was tried; children show why it failed
    kCut,       // deny: not explained further: explained above (repeated) or, with
                // Explanation::truncated, the node budget was spent
  };
  Kind kind = Kind::kRule;
  bool holds = false;
  std::string goal;         // e.g. has_role(User:alice, "admin", Organization:acme)
  std::string rule_source;  // kRule, kRuleFailed
  polar::Location location; // the rule's (or failing literal's) location
  std::string detail;       // kRuleFailed: which literal failed, and with what
  std::vector<ProofNode> children;
};

struct Explanation {
  bool allowed = false;
  ProofNode proof;   // root: the allow(...) goal
  std::string text;  // a readable, indented rendering of `proof`
  // A deny's explanation reached EngineOptions::max_explain_nodes: goals
  // past it are kCut nodes (the text says so on its last line).
  bool truncated = false;
};

struct AssertionFailure {
  polar::Location location;
  std::string source;   // the assertion's text
  std::string message;  // what was expected and what happened
};
struct TestResult {
  std::string name;
  polar::Location location;
  bool passed = false;
  int assertions = 0;
  std::vector<AssertionFailure> failures;
};

namespace internal {
struct CompiledProgram;
}  // namespace internal

// Thread-safe: immutable once created. Build one per policy version and share
// it as std::shared_ptr<const Engine>; every query may run on any thread at
// once. Queries keep per-thread scratch memory between calls (no allocation in
// the steady state of Authorize).
//
// Every query returns RESOURCE_EXHAUSTED when it runs out of steps, depth or
// stack, DEADLINE_EXCEEDED / CANCELLED when QueryOptions say so,
// INVALID_ARGUMENT when the policy cannot be evaluated as written (e.g. a
// `not` over a variable that is never bound, or negation through recursion),
// and passes through FactSource errors. The FactSource and the context facts
// must outlive the call; nothing is retained afterwards.
class Engine {
 public:
  // INVALID_ARGUMENT when a rule cannot be compiled (arity above kMaxArity,
  // more than 64 body literals or 1024 variables, a variable index out of
  // range). When the
  // program has no `allow/3` rule, `allow(actor, action, resource) if
  // has_permission(actor, action, resource);` is added (DESIGN.md §3).
  static absl::StatusOr<std::shared_ptr<const Engine>> Create(
      polar::Program program, EngineOptions options = {});
  ~Engine();

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const polar::Program& program() const;
  const EngineOptions& options() const { return options_; }

  // allow(actor, action, resource); `action` is normally a String value.
  absl::StatusOr<bool> Authorize(const FactSource& facts, const Value& actor,
                                 const Value& action, const Value& resource,
                                 const QueryOptions& q = {}) const;

  // Authorize for each resource, in one evaluation (shared tables); the step
  // budget applies to each resource separately. result[i] answers
  // resources[i].
  absl::StatusOr<std::vector<bool>> AuthorizeResources(
      const FactSource& facts, const Value& actor, const Value& action,
      std::span<const Value> resources, const QueryOptions& q = {}) const;

  // The ids of every resource of `resource_type` that `actor` may `action`,
  // ascending, those > `cursor` only, at most `limit` (0 = no limit).
  // Complete: r is listed iff Authorize(actor, action, r) for every id that
  // appears in some fact (an allow that holds for *any* id, e.g. through a
  // global role, is checked against every id of that type found in the facts).
  absl::StatusOr<ListResult> List(const FactSource& facts, const Value& actor,
                                  const Value& action,
                                  std::string_view resource_type,
                                  std::string_view cursor, int limit,
                                  const QueryOptions& q = {}) const;

  // Every action x (a String) with allow(actor, x, resource), ascending. An
  // allow that holds for any action is resolved against the permissions and
  // roles the policy declares and the strings it mentions, and sets
  // ActionsResult::any_action.
  absl::StatusOr<ActionsResult> Actions(
      const FactSource& facts, const Value& actor, const Value& resource,
      const QueryOptions& q = {}) const;

  // All bindings of predicate(args...), resolving against rules and facts.
  // INVALID_ARGUMENT when args is empty or longer than kMaxArity.
  absl::StatusOr<QueryResult> Query(const FactSource& facts,
                                    std::string_view predicate,
                                    std::span<const QueryArg> args,
                                    const QueryOptions& q = {}) const;

  // Why allow(actor, action, resource) holds (one proof) or not (the rules
  // tried and the facts that were missing, a few levels deep).
  absl::StatusOr<Explanation> Explain(const FactSource& facts,
                                      const Value& actor, const Value& action,
                                      const Value& resource,
                                      const QueryOptions& q = {}) const;

  // Runs every `test` block of the program: the setup facts form a
  // FactIndex of their own; each assertion is evaluated over it.
  // Errors of one assertion (e.g. RESOURCE_EXHAUSTED) count as failures with
  // the error as message; the call itself fails only on bad setup facts.
  absl::StatusOr<std::vector<TestResult>> RunTests(
      const QueryOptions& q = {}) const;

 private:
  friend class Evaluation;
  Engine(EngineOptions options);

  EngineOptions options_;
  uint64_t uid_;
  std::unique_ptr<internal::CompiledProgram> compiled_;
};

// Builds an Engine for `program` and runs its tests (the CLI's
// `arbiter policy test`).
absl::StatusOr<std::vector<TestResult>> RunTests(const polar::Program& program,
                                                 const QueryOptions& q = {});

// Renders a test report: one line per test, one per failing assertion
// ("file-relative line:col: source: message").
std::string FormatTestResults(std::span<const TestResult> results);

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_ENGINE_H_
