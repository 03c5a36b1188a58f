#ifndef ARBITER_COMMON_API_API_H_
#define ARBITER_COMMON_API_API_H_

// The arbiter.v1 API's rules in one place, for every service and the CLI:
//   * conversions between the proto types (types.proto) and common/base's
//     Value / Fact, and FactPattern -> a lookup pattern;
//   * consistency tokens: ConsistencyTokenPayload, serialized, base64url
//     without padding (types.proto);
//   * validation of tenant names, request ids, values, facts, patterns and
//     whole requests, with the limits written in log.proto / types.proto.
//
// Error codes follow log.proto: a malformed field is INVALID_ARGUMENT; a
// field over a documented size limit (operation count, request bytes, string
// lengths) is RESOURCE_EXHAUSTED. Messages name the field (and, for writes,
// the operation index: "operations[3].insert.args[1].id: ...").
//
// Thread-safe: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "arbiter/v1/log.pb.h"
#include "arbiter/v1/types.pb.h"
#include "common/base/value.h"

namespace arbiter::api {

// ---- limits (documented in log.proto / types.proto) ----
inline constexpr size_t kMaxTenantNameBytes = 63;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr size_t kMaxTypeBytes = 128;
inline constexpr size_t kMaxIdBytes = 1024;
inline constexpr size_t kMaxPredicateBytes = 128;
inline constexpr int kMaxOperationsPerWrite = 1000;
// gRPC's default 4 MiB message limit, less 4 KiB: the LogEntry and
// SubscribeResponse envelope around a write's payload (~200 bytes) must still
// fit a subscriber's default 4 MiB receive limit.
inline constexpr size_t kMaxRequestBytes = 4 * 1024 * 1024 - 4096;
inline constexpr size_t kMaxPolicySourceBytes = 1024 * 1024;
inline constexpr size_t kMaxPolicyFilenameBytes = 256;
inline constexpr char kDefaultPolicyFilename[] = "policy.polar";

// ---- conversions ----
Value FromProto(const v1::Value& v);
Fact FromProto(const v1::Fact& f);
void ToProto(const Value& v, v1::Value* out);
void ToProto(const Fact& f, v1::Fact* out);
v1::Fact ToProto(const Fact& f);

// A FactPattern's arguments as a lookup pattern (eval::Pattern /
// TenantDb::DeletePattern): a wildcard {"", ""} becomes std::nullopt; a
// type-only wildcard {type, ""} stays as is. REQUIRES: ValidatePattern OK.
std::vector<std::optional<Value>> PatternArgs(const v1::FactPattern& p);

// True if `fact` matches `pattern` (same predicate, arity, and every
// argument equal / of the type / anything).
bool Matches(const v1::FactPattern& pattern, const Fact& fact);

// ---- consistency tokens ----
// `watch_skip`: Watch positions only (ConsistencyTokenPayload.watch_skip);
// `epoch`: the log epoch of the offset (0: not recorded).
std::string EncodeConsistencyToken(absl::string_view cluster_id,
                                   uint64_t offset, uint64_t watch_skip = 0,
                                   uint64_t epoch = 0);
// INVALID_ARGUMENT "malformed consistency token" when it is not base64url of
// a ConsistencyTokenPayload, or carries no cluster id; FAILED_PRECONDITION
// when its offset is beyond int64 (no log has such an offset).
absl::StatusOr<v1::ConsistencyTokenPayload> DecodeConsistencyToken(
    absl::string_view token);

// The chain of `entry` after an entry whose chain is `previous` (the rule
// in log.proto's LogEntry.chain); never 0.
uint64_t NextChain(uint64_t previous, const v1::LogEntry& entry);

// ---- validation ----
// 1..63 bytes of [a-z0-9_-], first a letter or digit.
absl::Status ValidateTenantName(absl::string_view tenant);
// The reserved tenant that holds API keys on hosts (auth/key_facts.h): no
// client can name it, since tenant names start with a letter or digit.
inline constexpr char kSystemTenant[] = "_system";
// ValidateTenantName, or kSystemTenant: for names read from the log or a
// snapshot.
absl::Status ValidateStoredTenantName(absl::string_view tenant);
// 0..128 bytes (RESOURCE_EXHAUSTED above).
absl::Status ValidateRequestId(absl::string_view request_id);
// An identifier: a letter or '_' first, then letters, digits, '_'.
bool IsIdentifier(absl::string_view s);
bool IsValidUtf8(absl::string_view s);

// `field` prefixes the message, e.g. "operations[2].insert".
absl::Status ValidateValue(const v1::Value& v, absl::string_view field);
absl::Status ValidateFact(const v1::Fact& f, absl::string_view field);
absl::Status ValidatePattern(const v1::FactPattern& p, absl::string_view field);

// Structure and limits of a whole request (not the tenant's policy: the
// sequencer checks that as of the entry's offset).
absl::Status ValidateCreateTenantRequest(const v1::CreateTenantRequest& r);
absl::Status ValidateWriteRequest(const v1::WriteRequest& r);
absl::Status ValidateSetPolicyRequest(const v1::SetPolicyRequest& r);

}  // namespace arbiter::api

#endif  // ARBITER_COMMON_API_API_H_
