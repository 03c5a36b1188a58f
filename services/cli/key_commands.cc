// arbiter keys create|list|revoke|rotate: API keys, through arbiter-log
// (docs/SECURITY.md).

#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/cli/commands.h"

namespace arbiter::cli {
namespace {

constexpr char kLog[] = "arbiter-log";

// The tenant a keys command is about: "" with --cluster.
std::string KeyTenant(Context& ctx) {
  return ctx.args().GetBool("cluster") ? "" : ctx.tenant();
}

std::string Owner(const v1::KeyInfo& k) {
  return k.tenant().empty() ? "the cluster" : absl::StrCat("tenant ", k.tenant());
}

// The new key's text first (scripts take the first line), then what it is.
template <typename Response>  // CreateKeyResponse, RotateKeyResponse
int PrintNewKey(Context& ctx, const Response& r) {
  std::string replaced;
  if constexpr (std::is_same_v<Response, v1::RotateKeyResponse>) {
    replaced = absl::StrCat(", replacing ", r.revoked_key_id());
  }
  if (ctx.json()) {
    ctx.PrintJson(r);
    return kExitOk;
  }
  ctx.out() << r.key() << "\n";
  ctx.err() << "key " << r.info().key_id() << " (" << absl::StrJoin(r.info().scopes(), ",")
            << " on " << Owner(r.info()) << ", name \"" << r.info().name()
            << "\") created at offset " << r.offset() << replaced
            << "; this is the only time its text is shown\n";
  return kExitOk;
}

}  // namespace

int RunKeysCreate(Context& ctx) {
  v1::CreateKeyRequest request;
  request.set_tenant(KeyTenant(ctx));
  std::string scopes = ctx.args().Get("scopes");
  if (scopes.empty()) scopes = request.tenant().empty() ? "operator" : "read";
  for (absl::string_view s : absl::StrSplit(scopes, ',', absl::SkipEmpty())) {
    request.add_scopes(std::string(s));
  }
  request.set_name(ctx.args().Get("name"));
  v1::CreateKeyResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().CreateKey(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  return PrintNewKey(ctx, response);
}

int RunKeysRotate(Context& ctx) {
  v1::RotateKeyRequest request;
  request.set_tenant(KeyTenant(ctx));
  request.set_key_id(ctx.args().positional()[0]);
  v1::RotateKeyResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().RotateKey(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  return PrintNewKey(ctx, response);
}

int RunKeysRevoke(Context& ctx) {
  v1::RevokeKeyRequest request;
  request.set_tenant(KeyTenant(ctx));
  request.set_key_id(ctx.args().positional()[0]);
  v1::RevokeKeyResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().RevokeKey(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  return ctx.PrintWrite(response, response.offset(), response.consistency_token(),
                        absl::StrCat("revoked key ", request.key_id()));
}

int RunKeysList(Context& ctx) {
  v1::ListKeysRequest request;
  const bool all = ctx.args().GetBool("all");
  request.set_tenant(all ? "" : KeyTenant(ctx));
  v1::ListKeysResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().ListKeys(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  if (!all && request.tenant().empty()) {
    // --cluster: the cluster keys only (the log lists every key for "").
    v1::ListKeysResponse cluster;
    for (const auto& k : response.keys()) {
      if (k.tenant().empty()) *cluster.add_keys() = k;
    }
    response = std::move(cluster);
  }
  if (ctx.json()) {
    ctx.PrintJson(response);
    return kExitOk;
  }
  ctx.out() << absl::StrFormat("%-16s  %-24s %-20s %14s  %s\n", "KEY_ID", "TENANT", "SCOPES",
                               "CREATED_OFFSET", "NAME");
  for (const auto& k : response.keys()) {
    ctx.out() << absl::StrFormat("%-16s  %-24s %-20s %14d  %s\n", k.key_id(),
                                 k.tenant().empty() ? "*" : k.tenant(),
                                 absl::StrJoin(k.scopes(), ","), k.created_offset(), k.name());
  }
  return kExitOk;
}

}  // namespace arbiter::cli
