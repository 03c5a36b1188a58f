#include "common/auth/access.h"

#include <openssl/crypto.h>

#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/server/grpc_status.h"
#include "glog/logging.h"

namespace arbiter::auth {
namespace {

const absl::flat_hash_map<absl::string_view, Rule>& Rules() {
  static const auto* rules = new absl::flat_hash_map<absl::string_view, Rule>{
      // LogService
      {"arbiter.v1.CreateTenantRequest", {kOperator, false}},
      {"arbiter.v1.ListTenantsRequest", {kOperator, false}},
      {"arbiter.v1.WriteRequest", {kWrite, true}},
      {"arbiter.v1.SetPolicyRequest", {kAdmin, true}},
      {"arbiter.v1.GetPolicyRequest", {kAdmin, true}},
      {"arbiter.v1.CreateKeyRequest", {kAdmin, true}},
      {"arbiter.v1.RevokeKeyRequest", {kAdmin, true}},
      {"arbiter.v1.RotateKeyRequest", {kAdmin, true}},
      {"arbiter.v1.ListKeysRequest", {kAdmin, true}},
      {"arbiter.v1.GetHeadRequest", {kReplicate, false}},
      {"arbiter.v1.SubscribeRequest", {kReplicate, false}},
      {"arbiter.v1.ListSnapshotsRequest", {kReplicate, false}},
      {"arbiter.v1.FetchSnapshotRequest", {kReplicate, false}},
      // ReaderService
      {"arbiter.v1.AuthorizeRequest", {kRead, true}},
      {"arbiter.v1.AuthorizeResourcesRequest", {kRead, true}},
      {"arbiter.v1.ListRequest", {kRead, true}},
      {"arbiter.v1.ActionsRequest", {kRead, true}},
      {"arbiter.v1.QueryRequest", {kRead, true}},
      {"arbiter.v1.GetFactsRequest", {kRead, true}},
      {"arbiter.v1.ExplainRequest", {kRead, true}},
      {"arbiter.v1.WatchRequest", {kRead, true}},
      // WriterAdminService
      {"arbiter.v1.GetStatusRequest", {kOperator, false}},
      {"arbiter.v1.DrainRequest", {kOperator, false}},
      {"arbiter.v1.UndrainRequest", {kOperator, false}},
  };
  return *rules;
}

std::string TenantOf(const google::protobuf::Message& request) {
  const google::protobuf::FieldDescriptor* f =
      request.GetDescriptor()->FindFieldByName("tenant");
  if (f == nullptr || f->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      f->is_repeated()) {
    return "";
  }
  return request.GetReflection()->GetString(request, f);
}

}  // namespace

std::optional<Rule> RuleFor(absl::string_view request_type) {
  auto it = Rules().find(request_type);
  if (it == Rules().end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::string> BearerKey(const grpc::ServerContextBase& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "missing API key: send the gRPC metadata \"authorization: Bearer <key>\"");
  }
  absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "bearer ";
  if (value.size() < kBearer.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
    return absl::UnauthenticatedError(
        "the \"authorization\" metadata must be \"Bearer <key>\"");
  }
  return std::string(absl::StripAsciiWhitespace(value.substr(kBearer.size())));
}

absl::Status CheckGrant(const KeyGrant& grant, const Rule& rule, absl::string_view tenant) {
  if (grant.scopes & kOperator) return absl::OkStatus();
  const absl::string_view scope = ScopeName(static_cast<Scope>(rule.scope));
  if (rule.tenant && !tenant.empty()) {
    if (grant.tenant == tenant && (grant.scopes & rule.scope)) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat("API key ", grant.id, " lacks the \"", scope,
                                                    "\" scope on tenant \"", tenant, "\""));
  }
  if (!rule.tenant && (grant.scopes & rule.scope)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "API key ", grant.id, " lacks the \"", rule.tenant ? "operator" : scope,
      "\" scope on the cluster"));
}

absl::StatusOr<Caller> Admit(const grpc::ServerContextBase& ctx,
                             const google::protobuf::Message& request, const KeyLookup& lookup,
                             const AccessOptions& options, bool unknown_ok,
                             uint64_t keys_version) {
  if (absl::Status parsed = server::CheckParsed(request); !parsed.ok()) return parsed;
  if (options.disabled) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      LOG(WARNING) << "authentication is off (--insecure_no_auth): every caller may read, "
                      "write and administer every tenant";
    });
    return Caller{};
  }
  const std::string& type = request.GetDescriptor()->full_name();
  std::optional<Rule> rule = RuleFor(type);
  if (!rule.has_value()) {
    return absl::PermissionDeniedError(absl::StrCat("no access rule for ", type));
  }
  absl::StatusOr<std::string> text = BearerKey(ctx);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::string> id = ParseKeyId(*text);
  if (!id.ok()) return id.status();
  // The last key this thread verified, and against which key state.
  struct Verified {
    uint64_t version = 0;
    std::string text;
    KeyGrant grant;
  };
  thread_local Verified last;
  const bool remembered = keys_version != 0 && last.version == keys_version &&
                          last.text.size() == text->size() &&
                          CRYPTO_memcmp(last.text.data(), text->data(), text->size()) == 0;
  if (!remembered) {
    absl::StatusOr<std::optional<KeyGrant>> grant = lookup(*id);
    if (!grant.ok()) return grant.status();
    if (!grant->has_value() && unknown_ok) return Caller{.key_id = *id, .unknown = true};
    if (!grant->has_value() || !Matches(**grant, *text)) {
      return absl::UnauthenticatedError(absl::StrCat("unknown or revoked API key ", *id));
    }
    if (keys_version != 0) last = Verified{keys_version, *text, **grant};
    absl::Status allowed = CheckGrant(**grant, *rule, TenantOf(request));
    if (!allowed.ok()) return allowed;
    return Caller{.key_id = *id};
  }
  absl::Status allowed = CheckGrant(last.grant, *rule, TenantOf(request));
  if (!allowed.ok()) return allowed;
  return Caller{.key_id = *id};
}

}  // namespace arbiter::auth
