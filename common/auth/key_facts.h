#ifndef ARBITER_COMMON_AUTH_KEY_FACTS_H_
#define ARBITER_COMMON_AUTH_KEY_FACTS_H_

// How keys travel and rest on hosts (docs/SECURITY.md): as facts of the
// reserved tenant "_system" (a name no client can use: tenant names start
// with a letter or digit), one per key:
//
//   api_key(ApiKey:<id>, String:<sha256>, String:<tenant, or * for a cluster
//           key>, String:<scopes, e.g. read,write>, String:<name>)
//
// Creating a key inserts its fact, revoking deletes it (one WriteBatch entry
// of "_system", so hosts apply, snapshot and restore keys exactly like any
// tenant's facts, and a reader knows a revocation with the same freshness
// guarantee as any fact). The log keeps the same keys in its own registry
// (LogStore::Keys) to check writes as of their offset.

#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "arbiter/v1/log.pb.h"
#include "common/api/api.h"
#include "common/auth/api_key.h"
#include "common/base/value.h"
#include "common/eval/fact_source.h"

namespace arbiter::auth {

using api::kSystemTenant;
inline constexpr char kKeyPredicate[] = "api_key";
inline constexpr char kKeyType[] = "ApiKey";

// The fact of a key (created_offset is not in it).
Fact KeyFact(const KeyGrant& grant);
// The inverse. DATA_LOSS when `args` are not a key fact.
absl::StatusOr<KeyGrant> GrantFromFact(std::span<const Value> args);

// The WriteBatch that creates `created` and revokes `revoked` (ids).
v1::WriteBatch KeyUpdate(std::span<const KeyGrant> created, std::span<const std::string> revoked);

// The key `id` in `facts` (a "_system" tenant); nullopt when absent.
absl::StatusOr<std::optional<KeyGrant>> FindKey(const eval::FactSource& facts,
                                                const std::string& id);

}  // namespace arbiter::auth

#endif  // ARBITER_COMMON_AUTH_KEY_FACTS_H_
