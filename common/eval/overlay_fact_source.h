#ifndef ARBITER_COMMON_EVAL_OVERLAY_FACT_SOURCE_H_
#define ARBITER_COMMON_EVAL_OVERLAY_FACT_SOURCE_H_

#include <span>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/base/value.h"
#include "common/eval/fact_source.h"

namespace arbiter::eval {

// A base FactSource plus extra facts (e.g. one request's context facts).
// Scan merges both in ascending order and reports a fact present in both once.
// Thread-compatible. Holds pointers: `base` and `extra` must outlive it.
class OverlayFactSource final : public FactSource {
 public:
  OverlayFactSource(const FactSource* base, std::span<const Fact> extra)
      : base_(base), extra_(extra) {}

  absl::Status Scan(
      std::string_view predicate, Pattern pattern,
      absl::FunctionRef<bool(std::span<const Value> args)> fn) const override;

  const FactSource* base() const { return base_; }
  std::span<const Fact> extra() const { return extra_; }

 private:
  const FactSource* base_;
  std::span<const Fact> extra_;
};

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_OVERLAY_FACT_SOURCE_H_
