#ifndef ARBITER_COMMON_EVAL_FACT_SOURCE_H_
#define ARBITER_COMMON_EVAL_FACT_SOURCE_H_

// Where the engine finds stored facts. Two implementations share one
// conformance suite (tests/unit/storage/sqlite_fact_source_test.cc, which
// can see both libraries):
// FactIndex (common/eval) and SqliteFactSource (common/storage, over
// the per-tenant database schema).

#include <optional>
#include <span>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/base/value.h"

namespace arbiter::eval {

// A lookup pattern: one entry per argument; std::nullopt is a wildcard.
using Pattern = std::span<const std::optional<Value>>;

// Thread-compatible: an implementation is immutable once built, or documents
// otherwise; const methods may be called from many threads at once.
class FactSource {
 public:
  virtual ~FactSource() = default;

  // Calls `fn` once for every stored fact named `predicate` whose arity is
  // pattern.size() and whose arguments equal the bound entries of `pattern`,
  // in a stable order (ascending by arguments). Stops early when `fn` returns
  // false. Errors (I/O, corruption) are returned as INTERNAL / DATA_LOSS;
  // finding nothing is OK.
  virtual absl::Status Scan(
      std::string_view predicate, Pattern pattern,
      absl::FunctionRef<bool(std::span<const Value> args)> fn) const = 0;
};

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_FACT_SOURCE_H_
