#include "common/eval/engine_flags.h"

#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(int64_t, max_eval_steps, arbiter::eval::EngineOptions{}.step_budget,
          "steps one evaluation may take (a rule tried, a condition solved, a "
          "candidate of `in`, a fact or answer visited); past it the request "
          "or policy test is RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_eval_stack_kib,
          static_cast<int64_t>(arbiter::eval::EngineOptions{}.max_stack_bytes >> 10),
          "KiB of thread stack one evaluation may use (never more than the "
          "thread has, less 256 KiB): bounds how deeply a policy's rules and "
          "conditions may nest; past it RESOURCE_EXHAUSTED");

ABSL_FLAG(int64_t, max_explain_nodes, arbiter::eval::EngineOptions{}.max_explain_nodes,
          "goals a deny's explanation (Explain) expands at most; past it the rest "
          "are shown as not explained further and the response says it was cut "
          "(an allow's proof is always complete)");

namespace arbiter::eval {

absl::StatusOr<EngineOptions> EngineOptionsFromFlags() {
  EngineOptions o;
  const int64_t steps = absl::GetFlag(FLAGS_max_eval_steps);
  if (steps < 1000 || steps > 1'000'000'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_eval_steps: ", steps, " is not in 1000..10^12"));
  }
  const int64_t kib = absl::GetFlag(FLAGS_max_eval_stack_kib);
  if (kib < 64 || kib > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_eval_stack_kib: ", kib, " is not in 64..1048576"));
  }
  const int64_t nodes = absl::GetFlag(FLAGS_max_explain_nodes);
  if (nodes < 1 || nodes > 1'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_explain_nodes: ", nodes, " is not in 1..1000000"));
  }
  o.max_explain_nodes = nodes;
  o.step_budget = steps;
  o.max_stack_bytes = static_cast<size_t>(kib) << 10;
  return o;
}

}  // namespace arbiter::eval
