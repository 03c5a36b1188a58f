#include "common/auth/api_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"

namespace arbiter::auth {
namespace {

constexpr absl::string_view kPrefix = "arb_";
constexpr size_t kIdDigits = 16;
constexpr size_t kSecretDigits = 64;
constexpr size_t kMaxNameBytes = 128;

constexpr std::array<Scope, 5> kAllScopes = {kRead, kWrite, kAdmin, kOperator, kReplicate};

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return absl::InternalError("the system's random source (RAND_bytes) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

}  // namespace

absl::string_view ScopeName(Scope s) {
  switch (s) {
    case kRead: return "read";
    case kWrite: return "write";
    case kAdmin: return "admin";
    case kOperator: return "operator";
    case kReplicate: return "replicate";
  }
  return "?";
}

std::string ScopesText(uint32_t scopes) {
  std::vector<absl::string_view> names;
  for (Scope s : kAllScopes) {
    if (scopes & s) names.push_back(ScopeName(s));
  }
  return absl::StrJoin(names, ",");
}

absl::StatusOr<uint32_t> ParseScopes(const std::vector<std::string>& names) {
  uint32_t scopes = 0;
  for (const std::string& n : names) {
    bool known = false;
    for (Scope s : kAllScopes) {
      if (n == ScopeName(s)) {
        scopes |= s;
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scopes: unknown scope \"", n, "\" (read, write, admin, operator, replicate)"));
    }
  }
  if (scopes == 0) return absl::InvalidArgumentError("scopes: at least one scope is required");
  return scopes;
}

absl::StatusOr<uint32_t> ParseScopesText(absl::string_view comma_separated) {
  std::vector<std::string> names = absl::StrSplit(comma_separated, ',', absl::SkipEmpty());
  return ParseScopes(names);
}

absl::StatusOr<NewKey> GenerateKey(std::string tenant, uint32_t scopes, std::string name) {
  absl::StatusOr<std::string> id = RandomHex(kIdDigits / 2);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> secret = RandomHex(kSecretDigits / 2);
  if (!secret.ok()) return secret.status();
  NewKey k;
  k.text = absl::StrCat(kPrefix, *id, "_", *secret);
  k.grant.id = *id;
  k.grant.sha256 = HashKey(k.text);
  k.grant.tenant = std::move(tenant);
  k.grant.scopes = scopes;
  k.grant.name = name.empty() ? k.grant.id : std::move(name);
  return k;
}

absl::StatusOr<std::string> ParseKeyId(absl::string_view text) {
  const bool ok = text.size() == kPrefix.size() + kIdDigits + 1 + kSecretDigits &&
                  text.substr(0, kPrefix.size()) == kPrefix &&
                  text[kPrefix.size() + kIdDigits] == '_' &&
                  IsLowerHex(text.substr(kPrefix.size(), kIdDigits)) &&
                  IsLowerHex(text.substr(kPrefix.size() + kIdDigits + 1));
  if (!ok) {
    return absl::UnauthenticatedError(
        "malformed API key: expected arb_<16 hex digits>_<64 hex digits>");
  }
  return std::string(text.substr(kPrefix.size(), kIdDigits));
}

std::string HashKey(absl::string_view text) {
  Sha256 h;
  h.Update(text);
  return h.HexDigest();
}

bool Matches(const KeyGrant& grant, absl::string_view text) {
  const std::string hash = HashKey(text);
  return grant.sha256.size() == hash.size() &&
         CRYPTO_memcmp(grant.sha256.data(), hash.data(), hash.size()) == 0;
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("key file ", path, " does not exist"));
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, ": cannot open: ", std::strerror(err)));
  }
  std::string contents(4096, '\0');
  size_t size = 0;
  while (size < contents.size()) {
    const ssize_t n = ::read(fd, contents.data() + size, contents.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  contents.resize(size);
  const std::string text(absl::StripAsciiWhitespace(contents));
  if (!ParseKeyId(text).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path, " does not hold one API key (arb_<16 hex digits>_<64 hex digits>)"));
  }
  return text;
}

absl::Status WriteKeyFile(const std::string& path, absl::string_view text) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("key file ", path, " exists"));
  }
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("key file ", tmp, ": cannot create: ", std::strerror(errno)));
  }
  const std::string contents = absl::StrCat(text, "\n");
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
            ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("key file ", path, ": cannot write: ", std::strerror(ok ? errno : err)));
  }
  const size_t slash = path.find_last_of('/');
  return SyncPath(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

absl::Status ValidateGrant(const KeyGrant& grant) {
  if (grant.scopes == 0) return absl::InvalidArgumentError("scopes: at least one scope is required");
  const uint32_t allowed = grant.tenant.empty() ? kClusterScopes : kTenantScopes;
  if ((grant.scopes & ~allowed) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scopes: ", grant.tenant.empty() ? "a cluster key (no tenant)" : "a tenant key",
        " may hold only ", ScopesText(allowed), ", not ", ScopesText(grant.scopes & ~allowed)));
  }
  if (grant.name.empty() || grant.name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: 1..", kMaxNameBytes, " bytes (got ", grant.name.size(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace arbiter::auth
