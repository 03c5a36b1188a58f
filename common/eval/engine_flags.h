#ifndef ARBITER_COMMON_EVAL_ENGINE_FLAGS_H_
#define ARBITER_COMMON_EVAL_ENGINE_FLAGS_H_

// The evaluation limits as command-line flags, shared by every binary that
// evaluates policies (arbiter-reader for requests, arbiter-log and the CLI
// for policy tests), so they are spelled and checked the same everywhere:
//
//   --max_eval_steps=N       steps of one evaluation (EngineOptions::step_budget)
//   --max_eval_stack_kib=N   stack of one evaluation (EngineOptions::max_stack_bytes)
//
// Running out of either is RESOURCE_EXHAUSTED naming the limit.

#include "absl/status/statusor.h"
#include "common/eval/engine.h"

namespace arbiter::eval {

// The flags' values; INVALID_ARGUMENT naming the flag when one is out of
// range (steps 1,000..10^12, stack 64..1,048,576 KiB).
absl::StatusOr<EngineOptions> EngineOptionsFromFlags();

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_ENGINE_FLAGS_H_
