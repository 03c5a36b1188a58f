// policy push / get (arbiter-log) and policy test (local, no server).

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/eval/engine.h"
#include "common/polar/policy.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/cli/commands.h"
#include "services/cli/values.h"

namespace arbiter::cli {
namespace {

constexpr char kLog[] = "arbiter-log";

void EndLine(std::ostream& os, absl::string_view text) {
  os << text;
  if (!text.empty() && text.back() != '\n') os << "\n";
}

google::protobuf::Value Number(int64_t n) {
  google::protobuf::Value v;
  v.set_number_value(static_cast<double>(n));
  return v;
}

google::protobuf::Value Text(absl::string_view text) {
  google::protobuf::Value v;
  v.set_string_value(std::string(text));
  return v;
}

// "PATH:LINE:COL: message" lines (the compiler's diagnostics) as
// {"line", "column", "message"} objects; a line of another shape keeps its
// text as the message.
google::protobuf::Value Diagnostics(const std::string& path, absl::string_view text) {
  google::protobuf::Value list;
  list.mutable_list_value();
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct e;
    absl::string_view rest = line;
    int line_number = 0, column = 0;
    std::vector<absl::string_view> parts;
    if (absl::ConsumePrefix(&rest, path + ":")) {
      parts = absl::StrSplit(rest, absl::MaxSplits(':', 2));
    }
    if (parts.size() == 3 && absl::SimpleAtoi(parts[0], &line_number) &&
        absl::SimpleAtoi(parts[1], &column)) {
      (*e.mutable_fields())["line"] = Number(line_number);
      (*e.mutable_fields())["column"] = Number(column);
      (*e.mutable_fields())["message"] = Text(absl::StripLeadingAsciiWhitespace(parts[2]));
    } else {
      (*e.mutable_fields())["message"] = Text(line);
    }
    *list.mutable_list_value()->add_values()->mutable_struct_value() = std::move(e);
  }
  return list;
}

void PrintStruct(Context& ctx, const google::protobuf::Struct& s) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(s, &json);
  ctx.out() << json << "\n";
}

// Runs one file's tests; prints its report (text, or one JSON line).
// Returns the exit code.
int TestFile(Context& ctx, const std::string& path) {
  auto source = ReadInput(path);
  if (!source.ok()) return ctx.Error(source.status().message());
  google::protobuf::Struct report;
  (*report.mutable_fields())["file"] = Text(path);
  auto program = polar::CompilePolicy(*source, path);
  if (!program.ok()) {
    if (ctx.json()) {
      (*report.mutable_fields())["errors"] = Diagnostics(path, program.status().message());
      PrintStruct(ctx, report);
    } else {
      // "file:line:col: message" lines, as the log would report them.
      EndLine(ctx.err(), program.status().message());
    }
    return kExitError;
  }
  auto results = eval::RunTests(*program);
  if (!results.ok()) {
    ctx.err() << path << ": " << results.status().message() << "\n";
    return kExitError;
  }
  int passed = 0;
  google::protobuf::Value tests;
  tests.mutable_list_value();
  for (const eval::TestResult& r : *results) {
    passed += r.passed;
    if (ctx.json()) {
      google::protobuf::Struct t;
      auto& f = *t.mutable_fields();
      f["name"] = Text(r.name);
      f["line"] = Number(r.location.line);
      f["column"] = Number(r.location.column);
      f["passed"].set_bool_value(r.passed);
      f["assertions"] = Number(r.assertions);
      google::protobuf::Value failures;
      failures.mutable_list_value();
      for (const eval::AssertionFailure& a : r.failures) {
        google::protobuf::Struct e;
        (*e.mutable_fields())["line"] = Number(a.location.line);
        (*e.mutable_fields())["column"] = Number(a.location.column);
        (*e.mutable_fields())["assertion"] = Text(a.source);
        (*e.mutable_fields())["message"] = Text(a.message);
        *failures.mutable_list_value()->add_values()->mutable_struct_value() = std::move(e);
      }
      f["failures"] = std::move(failures);
      *tests.mutable_list_value()->add_values()->mutable_struct_value() = std::move(t);
      continue;
    }
    ctx.out() << (r.passed ? "PASS " : "FAIL ") << r.name << " (" << r.assertions
              << " assertion" << (r.assertions == 1 ? "" : "s") << ")\n";
    for (const eval::AssertionFailure& f : r.failures) {
      ctx.out() << absl::StrFormat("  %s:%d:%d: %s: %s\n", path, f.location.line,
                                   f.location.column, f.source, f.message);
    }
  }
  if (ctx.json()) {
    (*report.mutable_fields())["passed"] = Number(passed);
    (*report.mutable_fields())["total"] = Number(static_cast<int64_t>(results->size()));
    (*report.mutable_fields())["tests"] = std::move(tests);
    PrintStruct(ctx, report);
  } else {
    ctx.out() << path << ": " << passed << " of " << results->size() << " tests passed\n";
  }
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
