#ifndef ARBITER_COMMON_BASE_SHA256_H_
#define ARBITER_COMMON_BASE_SHA256_H_

// SHA-256 via OpenSSL libcrypto (EVP), for snapshot files (SnapshotFile.sha256:
// 64 lowercase hex digits).

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace arbiter {

// Incremental hashing. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // The digest of everything passed to Update: 32 bytes, or as 64 lowercase
  // hex digits. REQUIRES: one of them, called once.
  std::array<uint8_t, 32> Digest();
  std::string HexDigest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// The SHA-256 of `data`, hex.
std::string Sha256Hex(absl::string_view data);

// The SHA-256 of the file at `path`, hex. NOT_FOUND if it does not exist;
// INTERNAL on a read error.
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_SHA256_H_
