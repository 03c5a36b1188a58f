// policy push / get (arbiter-log) and policy test (local, no server).

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eval/engine.h"
#include "common/polar/policy.h"
#include "services/cli/commands.h"
#include "services/cli/values.h"

namespace arbiter::cli {
namespace {

constexpr char kLog[] = "arbiter-log";

void EndLine(std::ostream& os, absl::string_view text) {
  os << text;
  if (!text.empty() && text.back() != '\n') os << "\n";
}

// Runs one file's tests; prints its report. Returns the exit code.
int TestFile(Context& ctx, const std::string& path) {
  auto source = ReadInput(path);
  if (!source.ok()) return ctx.Error(source.status().message());
  auto program = polar::CompilePolicy(*source, path);
  if (!program.ok()) {
    // "file:line:col: message" lines, as the log would report them.
    EndLine(ctx.err(), program.status().message());
    return kExitError;
  }
  auto results = eval::RunTests(*program);
  if (!results.ok()) {
    ctx.err() << path << ": " << results.status().message() << "\n";
    return kExitError;
  }
  int passed = 0;
  for (const eval::TestResult& r : *results) {
    passed += r.passed;
    ctx.out() << (r.passed ? "PASS " : "FAIL ") << r.name << " (" << r.assertions
              << " assertion" << (r.assertions == 1 ? "" : "s") << ")\n";
    for (const eval::AssertionFailure& f : r.failures) {
      ctx.out() << absl::StrFormat("  %s:%d:%d: %s: %s\n", path, f.location.line,
                                   f.location.column, f.source, f.message);
    }
  }
  ctx.out() << path << ": " << passed << " of " << results->size() << " tests passed\n";
  return passed == static_cast<int>(results->size()) ? kExitOk : kExitFalse;
}

}  // namespace

int RunPolicyPush(Context& ctx) {
  const std::string& path = ctx.args().positional()[0];
  auto source = ReadInput(path);
  if (!source.ok()) return ctx.Error(source.status().message());
  v1::SetPolicyRequest request;
  request.set_tenant(ctx.tenant());
  request.set_source(*source);
  request.set_filename(path);
  request.set_force(ctx.args().GetBool("force"));
  request.set_request_id(ctx.args().Get("request_id"));

  v1::SetPolicyResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().SetPolicy(call.get(), request, &response);
  if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // The log's "file:line:col: message" lines, verbatim.
    EndLine(ctx.err(), s.error_message());
    ctx.err() << "arbiter: policy rejected (INVALID_ARGUMENT)\n";
    return kExitError;
  }
  if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    EndLine(ctx.err(), s.error_message());
    ctx.err() << "arbiter: policy not installed (FAILED_PRECONDITION); --force installs it "
                 "and leaves those facts stored but inert\n";
    return kExitError;
  }
  if (!s.ok()) return ctx.RpcError(s, kLog);
  if (response.inert_fact_count() > 0 && !ctx.json()) {
    ctx.err() << "arbiter: warning: " << response.inert_fact_count()
              << " stored facts do not fit the new policy and are inert:\n";
    for (const auto& f : response.inert_facts()) ctx.err() << "  " << FormatFact(f) << "\n";
  }
  return ctx.PrintWrite(response, response.offset(), response.consistency_token(),
                        absl::StrCat("policy version ", response.offset(), " installed"));
}

int RunPolicyGet(Context& ctx) {
  v1::GetPolicyRequest request;
  request.set_tenant(ctx.tenant());
  v1::GetPolicyResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().GetPolicy(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  if (ctx.json()) {
    ctx.PrintJson(response);
  } else if (response.version() == 0) {
    ctx.err() << "arbiter: tenant \"" << ctx.tenant() << "\" has no policy\n";
  } else {
    EndLine(ctx.out(), response.source());
  }
  return kExitOk;
}

int RunPolicyTest(Context& ctx) {
  int worst = kExitOk;
  for (const std::string& path : ctx.args().positional()) {
    worst = std::max(worst, TestFile(ctx, path));
  }
  return worst;
}

}  // namespace arbiter::cli
