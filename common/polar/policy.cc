#include "common/polar/policy.h"

#include <string>

#include "common/polar/checker.h"
#include "common/polar/compiler.h"
#include "common/polar/diagnostics.h"
#include "common/polar/fact_checker.h"
#include "common/polar/parser.h"

namespace arbiter::polar {

absl::StatusOr<Program> CompilePolicy(std::string_view source, std::string_view filename) {
  absl::StatusOr<AstPolicy> ast = ParseSource(source, filename);
  if (!ast.ok()) return ast.status();
  Diagnostics diagnostics{std::string(filename)};
  Program program = Compile(*ast, source, &diagnostics);
  // Checking a program with compile errors would mostly repeat them.
  if (!diagnostics.empty()) return diagnostics.ToStatus();
  Check(*ast, &program, &diagnostics);
  if (!diagnostics.empty()) return diagnostics.ToStatus();
  return program;
}

absl::Status CheckFact(const Program& program, const Fact& fact) {
  return CheckFactAgainst(program, fact);
}

}  // namespace arbiter::polar
