#ifndef ARBITER_COMMON_AUTH_ACCESS_H_
#define ARBITER_COMMON_AUTH_ACCESS_H_

// Who may call what (docs/SECURITY.md): the one check every RPC handler of
// every service makes first, with its request, before any other work.
//
//   key = the "authorization: Bearer <key>" metadata of the call
//   rule = RuleFor(request type): the scope it needs, and whether for the
//          tenant named in the request's `tenant` field
//   grant = lookup(key id) in the caller's key source (the log: its key
//           registry; a reader: the view it answers from; a writer: its
//           replica), compared with the key's hash in constant time
//   allowed: operator, or the rule's scope on that tenant (tenant rules) or
//            on the cluster (replicate rules)
//
// Errors: UNAUTHENTICATED for a missing, malformed, unknown or revoked key;
// PERMISSION_DENIED for a key without the scope. The message for a tenant
// the key may not use is the same whether that tenant exists or not.
//
// Every request type of every service has a rule (access_test checks it); a
// request type without one is refused (PERMISSION_DENIED), never let
// through.
//
// Why not a gRPC server interceptor: in gRPC 1.51 a server interceptor can
// observe a call but not end it, and the rule needs the parsed request.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/api_key.h"

namespace arbiter::auth {

struct Rule {
  uint32_t scope = 0;   // one Scope
  bool tenant = false;  // for the request's `tenant` field ("" means the cluster)
};
// The rule of a request message type (its full name, e.g.
// "arbiter.v1.AuthorizeRequest"); nullopt for a type without one.
std::optional<Rule> RuleFor(absl::string_view request_type);

// Looks up a key by id: nullopt when there is no such key (or it was
// revoked); an error when the source cannot say (e.g. UNAVAILABLE: a reader
// whose replica holds no keys yet).
using KeyLookup =
    std::function<absl::StatusOr<std::optional<KeyGrant>>(const std::string& key_id)>;

// How a service checks calls.
struct AccessOptions {
  // --insecure_no_auth: every call is allowed, and a warning is logged the
  // first time.
  bool disabled = false;
};

// The key a call was allowed with ("" when authentication is off).
struct Caller {
  std::string key_id;
  // Admit with unknown_ok: the key is not in the source yet; the caller must
  // check it again against a newer one before answering.
  bool unknown = false;
};

// The first thing every handler does: server::CheckParsed (INVALID_ARGUMENT
// for a request that did not parse), then the check described above.
// With `unknown_ok` a well-formed key the lookup does not know is let
// through as Caller::unknown (a reader about to wait for a newer replica,
// which may hold a key created just before).
//
// `keys_version` (non-zero) names the state of the key source (a reader:
// the uid of its "_system" index): each thread then remembers the last key
// it verified against that state and, when the same key text comes again
// (compared in constant time), skips the hash and the lookup; the rule is
// still checked. A different version verifies afresh.
absl::StatusOr<Caller> Admit(const grpc::ServerContextBase& ctx,
                             const google::protobuf::Message& request, const KeyLookup& lookup,
                             const AccessOptions& options, bool unknown_ok = false,
                             uint64_t keys_version = 0);

// A service's keys and options, for Admit. Thread-safe if `lookup` is.
class Guard {
 public:
  Guard(KeyLookup lookup, AccessOptions options)
      : lookup_(std::move(lookup)), options_(options) {}
  absl::StatusOr<Caller> Admit(const grpc::ServerContextBase& ctx,
                               const google::protobuf::Message& request) const {
    return auth::Admit(ctx, request, lookup_, options_);
  }
  const AccessOptions& options() const { return options_; }

 private:
  const KeyLookup lookup_;
  const AccessOptions options_;
};

// The part of it after the key is known (for tests and for keys that do not
// come from metadata).
absl::Status CheckGrant(const KeyGrant& grant, const Rule& rule, absl::string_view tenant);

// The key text of the call's "authorization: Bearer <key>" metadata.
// UNAUTHENTICATED when there is none.
absl::StatusOr<std::string> BearerKey(const grpc::ServerContextBase& ctx);

}  // namespace arbiter::auth

#endif  // ARBITER_COMMON_AUTH_ACCESS_H_
