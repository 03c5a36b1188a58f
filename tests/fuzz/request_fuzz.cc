// request_fuzz: the first byte picks one request type the services accept,
// the rest is parsed as that message (protobuf wire format), then validated
// exactly as the service does before doing anything else:
//
//   byte % 10   type                         validation
//   0           v1::WriteRequest             api::ValidateWriteRequest
//   1           v1::CreateTenantRequest      api::ValidateCreateTenantRequest
//   2           v1::SetPolicyRequest         api::ValidateSetPolicyRequest
//   3..9        v1::AuthorizeRequest, AuthorizeResourcesRequest, ListRequest,
//               ActionsRequest, QueryRequest, GetFactsRequest, ExplainRequest
//                                            reader::Validate (read_requests.h)
//
// A page token for another request is re-issued for this one (see
// ReissuePageToken), so that the cursors of later pages are fuzzed too.
// A request that validates then goes one step further, as in the services:
// a write's facts are checked against a policy (polar::CheckFact, the log's
// sequencer) and indexed (eval::FactIndex), its delete patterns matched; a
// read is executed (reader::Execute) against a small tenant snapshot with
// the tests/data/policies/github.polar policy and a step budget of 20,000.
// Nothing may crash. Seeds: corpus/request_fuzz (make_seeds.cc).

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "arbiter/v1/log.pb.h"
#include "arbiter/v1/reader.pb.h"
#include "common/api/api.h"
#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/polar/policy.h"
#include "services/reader/page_token.h"
#include "services/reader/read_requests.h"
#include "services/reader/replica_view.h"
#include "tests/fuzz/fuzz_util.h"

namespace arbiter::fuzz {
namespace {

// The tenant every read is executed against.
struct Tenant {
  polar::Program program;
  reader::ReplicaView view;
  reader::TenantSnapshot snapshot;
};

const Tenant& TheTenant() {
  static const Tenant* tenant = [] {
    auto* t = new Tenant;
    std::ifstream in(std::string(ARBITER_SOURCE_DIR) +
                     "/tests/data/policies/github.polar");
    std::stringstream source;
    source << in.rdbuf();
    auto program = polar::CompilePolicy(source.str(), "github.polar");
    Check(program.ok(), "tests/data/policies/github.polar compiles");
    t->program = *program;
    eval::EngineOptions options;
    options.step_budget = 20'000;
    options.max_stack_bytes = 256 * 1024;
    auto engine = eval::Engine::Create(*std::move(program), options);
    Check(engine.ok(), "the github policy makes an engine");
    const Value alice{"User", "alice"}, bob{"User", "bob"};
    const Value acme{"Organization", "acme"}, anvils{"Repository", "anvils"};
    auto facts = eval::FactIndex::Create(
        {
            Fact{"has_role", {alice, Value{kStringType, "admin"}, acme}},
            Fact{"has_role", {bob, Value{kStringType, "reader"}, anvils}},
            Fact{"has_relation", {anvils, Value{kStringType, "parent"}, acme}},
            Fact{"is_public", {Value{"Repository", "tools"}}},
        },
        /*offset=*/7);
    Check(facts.ok(), "the snapshot's facts index");
    t->snapshot.tenant = "default";
    t->snapshot.tenant_offset = 7;
    t->snapshot.policy_version = 3;
    t->snapshot.facts = *facts;
    t->snapshot.engine = *engine;
    t->view.cluster_id = "fuzz-cluster";
    t->view.applied_offset = 7;
    t->view.head_offset = 7;
    t->view.tenants = std::make_shared<reader::TenantMap>();
    return t;
  }();
  return *tenant;
}

// The failure codes the API documents for a malformed request.
bool IsRequestError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
         s.code() == absl::StatusCode::kResourceExhausted ||
         s.code() == absl::StatusCode::kFailedPrecondition;
}

void AfterWrite(const v1::WriteRequest& r) {
  std::vector<Fact> inserted;
  for (const auto& op : r.operations()) {
    if (op.has_insert()) {
      Fact f = api::FromProto(op.insert());
      (void)polar::CheckFact(TheTenant().program, f);
      inserted.push_back(std::move(f));
    }
  }
  // A fact that validates is one the index takes.
  auto index = eval::FactIndex::Create(inserted);
  Check(index.ok(),
        "FactIndex::Create takes every fact ValidateWriteRequest accepts");
  for (const auto& op : r.operations()) {
    if (!op.has_delete_pattern()) continue;
    std::vector<std::optional<Value>> args =
        api::PatternArgs(op.delete_pattern());
    Check(static_cast<int>(args.size()) == op.delete_pattern().args_size(),
          "PatternArgs keeps one argument per pattern argument");
    for (const Fact& f : inserted) (void)api::Matches(op.delete_pattern(), f);
  }
}

// A page token the fuzzer wrote is almost never for its own request (the
// token carries a hash of the request): re-issue it with the right hash, as
// the reader would have, so that the page's cursor (`last`) is fuzzed too.
template <typename Request>
bool ReissuePageToken(Request& r) {
  if constexpr (requires { r.page_token(); }) {
    std::string raw;
    if (!absl::WebSafeBase64Unescape(r.page_token(), &raw) ||
        !absl::StartsWith(raw, "p1:")) {
      return false;
    }
    const size_t colon = raw.find(':', 3);
    if (colon == std::string::npos) return false;
    auto token =
        reader::DecodePageToken(r.page_token(), raw.substr(3, colon - 3));
    if (!token.ok()) return false;
    Request unpaged = r;
    unpaged.clear_page_size();
    unpaged.clear_page_token();
    unpaged.clear_consistency();
    token->query_hash = reader::QueryHash(unpaged);
    r.set_page_token(reader::EncodePageToken(*token));
    return true;
  } else {
    return false;
  }
}

template <typename Request, typename Response>
void Read(absl::string_view bytes) {
  Request r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  absl::StatusOr<reader::RequestPlan> plan = reader::Validate(r);
  if (!plan.ok() &&
      plan.status().message() == "page_token: belongs to another query" &&
      ReissuePageToken(r)) {
    plan = reader::Validate(r);
  }
  if (!plan.ok()) {
    Check(IsRequestError(plan.status()),
          "reader::Validate fails with a request error code");
    return;
  }
  const Tenant& t = TheTenant();
  reader::ExecContext c{
      .view = t.view, .tenant = t.snapshot, .plan = *plan, .offset = 7};
  Response out;
  absl::Status s = reader::Execute(c, r, &out);
  if (s.ok()) (void)out.ByteSizeLong();
}

template <typename Request>
bool Parse(absl::string_view bytes, Request* r) {
  return r->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace
}  // namespace arbiter::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arbiter;
  using namespace arbiter::fuzz;
  QuietLogging();
  Input in(data, size);
  const uint8_t kind = in.Byte() % 10;
  const absl::string_view bytes = in.Rest();
  switch (kind) {
    case 0: {
      v1::WriteRequest r;
      if (!Parse(bytes, &r)) break;
      absl::Status s = api::ValidateWriteRequest(r);
      Check(s.ok() || IsRequestError(s),
            "ValidateWriteRequest fails with a request error code");
      if (s.ok()) AfterWrite(r);
      break;
    }
    case 1: {
      v1::CreateTenantRequest r;
      if (!Parse(bytes, &r)) break;
      absl::Status s = api::ValidateCreateTenantRequest(r);
      Check(s.ok() || IsRequestError(s),
            "ValidateCreateTenantRequest fails with a request error");
      break;
    }
    case 2: {
      v1::SetPolicyRequest r;
      if (!Parse(bytes, &r)) break;
      absl::Status s = api::ValidateSetPolicyRequest(r);
      Check(s.ok() || IsRequestError(s),
            "ValidateSetPolicyRequest fails with a request error");
      break;
    }
    case 3:
      Read<v1::AuthorizeRequest, v1::AuthorizeResponse>(bytes);
      break;
    case 4:
      Read<v1::AuthorizeResourcesRequest, v1::AuthorizeResourcesResponse>(
          bytes);
      break;
    case 5:
      Read<v1::ListRequest, v1::ListResponse>(bytes);
      break;
    case 6:
      Read<v1::ActionsRequest, v1::ActionsResponse>(bytes);
      break;
    case 7:
      Read<v1::QueryRequest, v1::QueryResponse>(bytes);
      break;
    case 8:
      Read<v1::GetFactsRequest, v1::GetFactsResponse>(bytes);
      break;
    case 9:
      Read<v1::ExplainRequest, v1::ExplainResponse>(bytes);
      break;
  }
  return 0;
}
