#ifndef ARBITER_SERVICES_CLI_VALUES_H_
#define ARBITER_SERVICES_CLI_VALUES_H_

// The CLI's notation for values, facts, patterns and query arguments, and the
// batch file format. Pure functions, shared by every command and unit-tested
// on their own (tests/unit/cli/values_test.cc).
//
// Notation (one shell word per value):
//   User:alice        a value of type User, id "alice" (split at the first
//                     ':'; the id may contain more ':', e.g. Url:http://x)
//   read              a bare word (no ':' or a prefix that is not a type
//                     name) is a String: String:read
//   Integer:3         literals are written with their type: Integer:-12,
//   Boolean:true      Boolean:false; 'String:two words' (shell quotes)
//   _                 (patterns and queries only) anything
//   User:_            (patterns and queries only) any value of type User
//   ?x                (queries only) a named variable; the same name twice
//                     binds the same value
// Every value is checked with the API's own rules (common/api) so that a bad
// one fails before any RPC, with a message naming the argument.
//
// Thread-safe: pure functions.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "arbiter/v1/log.pb.h"
#include "arbiter/v1/reader.pb.h"
#include "arbiter/v1/types.pb.h"

namespace arbiter::cli {

// A concrete value: "Type:id" or a bare String. INVALID_ARGUMENT (naming
// `field`) for an empty word, a wildcard, a variable, or a value the API
// rejects (e.g. "Integer:x").
absl::StatusOr<v1::Value> ParseValue(absl::string_view word,
                                     absl::string_view field = "value");

// A FactPattern argument: a value, "_" (type and id empty) or "Type:_"
// (type set, id empty).
absl::StatusOr<v1::Value> ParsePatternArg(absl::string_view word,
                                          absl::string_view field = "argument");

// A fact from a predicate and 1..5 value words.
absl::StatusOr<v1::Fact> ParseFact(absl::string_view predicate,
                                   const std::vector<std::string>& args);

// A pattern from a predicate and 1..5 pattern words.
absl::StatusOr<v1::FactPattern> ParsePattern(absl::string_view predicate,
                                             const std::vector<std::string>& args);

// A fact written as one string of words, "has_role User:alice admin Org:acme"
// (used by --context).
absl::StatusOr<v1::Fact> ParseFactWords(absl::string_view words);

// A query: "_" and "Type:_" at position i (1-based) become the variable
// "_<i>" (so results show what they matched), "?x" the variable "x" (a
// letter first), anything else a bound value. `type_filter[i]` is the type a "Type:_"
// argument asked for (empty otherwise): the Query API has no typed
// variables, so the CLI keeps only results whose argument i has that type.
struct ParsedQuery {
  v1::QueryRequest request;  // predicate and args set
  std::vector<std::string> type_filter;
};
absl::StatusOr<ParsedQuery> ParseQuery(absl::string_view predicate,
                                       const std::vector<std::string>& args);
// True if `result` (a Query result) satisfies every type filter.
bool PassesTypeFilter(const ParsedQuery& query, const v1::Fact& result);

// One line of a batch file: a JSON object with exactly one key,
//   {"insert": <Fact>}                                 or
//   {"delete": <FactPattern>}  ("deletePattern" and "delete_pattern" too)
// in protobuf's JSON mapping, e.g.
//   {"insert": {"predicate": "is_public", "args": [{"type": "Repository", "id": "docs"}]}}
//   {"delete": {"predicate": "has_role", "args": [{"type": "User", "id": "bob"}, {}, {}]}}
// The operation is validated like a Write's. INVALID_ARGUMENT otherwise.
absl::StatusOr<v1::WriteOperation> ParseBatchLine(absl::string_view line);

// Parses a whole batch file: blank lines and lines starting with '#' are
// skipped. Errors are prefixed "<filename>:<line>: ".
absl::StatusOr<std::vector<v1::WriteOperation>> ParseBatch(
    absl::string_view text, absl::string_view filename);

// "Type:id", e.g. User:alice; a wildcard renders as "_", a type-only one as
// "Type:_".
std::string FormatValue(const v1::Value& v);
// "pred(Type:id, ...)".
std::string FormatFact(const v1::Fact& f);
// "pred(Type:id, _, Type:_)".
std::string FormatPattern(const v1::FactPattern& p);

}  // namespace arbiter::cli

#endif  // ARBITER_SERVICES_CLI_VALUES_H_
