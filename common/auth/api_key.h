#ifndef ARBITER_COMMON_AUTH_API_KEY_H_
#define ARBITER_COMMON_AUTH_API_KEY_H_

// API keys (docs/SECURITY.md): the text a client sends, what the cluster
// stores of it, and the scopes it grants.
//
// A key's text is "arb_<id>_<secret>": `id` 16 lowercase hex digits (64
// random bits; public: logs, errors and `arbiter keys list` name keys by
// it), `secret` 64 lowercase hex digits (256 random bits, from OpenSSL's
// RAND_bytes). Only SHA-256 of the whole text is stored; a presented key is
// hashed and compared with CRYPTO_memcmp (constant time). A high-entropy
// secret needs no salt or slow hash: nothing short of 2^256 guesses finds it.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace arbiter::auth {

// What a key may do. A tenant key holds read, write and/or admin for its own
// tenant; a cluster key (tenant "") holds operator and/or replicate.
// Operator may do everything; replicate may follow the log (Subscribe,
// GetHead, ListSnapshots, FetchSnapshot), what writers and readers do.
enum Scope : uint32_t {
  kRead = 1,
  kWrite = 2,
  kAdmin = 4,
  kOperator = 8,
  kReplicate = 16,
};
inline constexpr uint32_t kTenantScopes = kRead | kWrite | kAdmin;
inline constexpr uint32_t kClusterScopes = kOperator | kReplicate;

// "read", "write", "admin", "operator", "replicate".
absl::string_view ScopeName(Scope s);
// The names of the bits of `scopes`, in the order above, joined by ','.
std::string ScopesText(uint32_t scopes);
// The inverse of ScopesText (also accepts repeated or reordered names).
// INVALID_ARGUMENT naming an unknown scope, or for none.
absl::StatusOr<uint32_t> ParseScopes(const std::vector<std::string>& names);
absl::StatusOr<uint32_t> ParseScopesText(absl::string_view comma_separated);

// One key as the cluster stores it (never the secret).
struct KeyGrant {
  std::string id;      // 16 lowercase hex digits
  std::string sha256;  // 64 lowercase hex digits: of the key's whole text
  std::string tenant;  // "" for a cluster key
  uint32_t scopes = 0;
  std::string name;  // 1..128 bytes, for people
  uint64_t created_offset = 0;

  friend bool operator==(const KeyGrant&, const KeyGrant&) = default;
};

// A fresh key: its text (to hand out once) and its grant (to store).
struct NewKey {
  std::string text;
  KeyGrant grant;
};
// INTERNAL if the system's random source fails.
absl::StatusOr<NewKey> GenerateKey(std::string tenant, uint32_t scopes, std::string name);

// The id of a key's text. UNAUTHENTICATED (never echoing the text) when it
// is not "arb_<16 hex>_<64 hex>".
absl::StatusOr<std::string> ParseKeyId(absl::string_view text);

// SHA-256 of `text` as 64 lowercase hex digits.
std::string HashKey(absl::string_view text);

// Whether `text` is the key `grant` stores, in time independent of where
// they differ.
bool Matches(const KeyGrant& grant, absl::string_view text);

// A key stored in a file (the CLI's --key_file, a host's --log_key_file,
// the log's --bootstrap_key_file): the key's text, surrounding whitespace
// ignored. NOT_FOUND when the file does not exist; INVALID_ARGUMENT naming
// the path when it does not hold one key (never echoing its contents).
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);
// Writes `text` to a new file `path` with mode 0600 (temporary file, fsync,
// rename, fsync of the directory). ALREADY_EXISTS if `path` exists.
absl::Status WriteKeyFile(const std::string& path, absl::string_view text);

// INVALID_ARGUMENT naming the field: scopes that do not fit the tenant (see
// Scope), an empty or too long name.
absl::Status ValidateGrant(const KeyGrant& grant);

}  // namespace arbiter::auth

#endif  // ARBITER_COMMON_AUTH_API_KEY_H_
