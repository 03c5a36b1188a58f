// policy_fuzz: bytes -> polar::CompilePolicy -> (if it compiles)
// eval::Engine::Create with small limits -> RunTests and one Authorize over
// an empty FactIndex. Nothing may crash, hang or grow memory without bound:
// every evaluation is held to a step budget of 20,000 and 256 KiB of stack.
// Seeds: corpus/policy_fuzz (tests/data/policies and the golden invalid
// policies of tests/data/polar/invalid).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/value.h"
#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/polar/policy.h"
#include "tests/fuzz/fuzz_util.h"

namespace arbiter::fuzz {
namespace {

const eval::FactIndex& NoFacts() {
  static const std::shared_ptr<const eval::FactIndex> facts = [] {
    auto f = eval::FactIndex::Create({});
    Check(f.ok(), "an empty FactIndex builds");
    return *std::move(f);
  }();
  return *facts;
}

// A question the policy can make sense of: its first actor and resource
// types and the first permission it declares, when it has them.
void AskOnce(const eval::Engine& engine) {
  const polar::Program& p = engine.program();
  std::string actor_type =
      p.actor_types.empty() ? "User" : *p.actor_types.begin();
  std::string resource_type =
      p.resource_types.empty() ? "Repository" : *p.resource_types.begin();
  std::string action = "read";
  for (const auto& block : p.blocks) {
    if (!block.permissions.empty()) {
      action = block.permissions.front();
      break;
    }
  }
  absl::StatusOr<bool> r =
      engine.Authorize(NoFacts(), Value{actor_type, "a"},
                       Value{kStringType, action}, Value{resource_type, "r"});
  // An empty fact set may still allow (rules without facts), but an error
  // must be one of the documented codes, never an allow by accident.
  if (!r.ok()) {
    const absl::StatusCode c = r.status().code();
    Check(c == absl::StatusCode::kResourceExhausted ||
              c == absl::StatusCode::kInvalidArgument,
          "Authorize fails only with RESOURCE_EXHAUSTED or INVALID_ARGUMENT");
  }
}

}  // namespace
}  // namespace arbiter::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arbiter;
  fuzz::QuietLogging();
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<polar::Program> program =
      polar::CompilePolicy(source, "fuzz.polar");
  if (!program.ok()) {
    fuzz::Check(program.status().code() == absl::StatusCode::kInvalidArgument,
                "CompilePolicy fails only with INVALID_ARGUMENT");
    return 0;
  }
  eval::EngineOptions options;
  options.step_budget = 20'000;
  options.max_stack_bytes = 256 * 1024;
  auto engine = eval::Engine::Create(*std::move(program), options);
  if (!engine.ok()) return 0;
  absl::StatusOr<std::vector<eval::TestResult>> results = (*engine)->RunTests();
  if (results.ok()) (void)eval::FormatTestResults(*results);
  fuzz::AskOnce(**engine);
  return 0;
}
