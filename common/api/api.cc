#include "common/api/api.h"

#include <array>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"

namespace arbiter::api {
namespace {

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}
absl::Status TooLong(absl::string_view field, size_t size, size_t max) {
  return absl::ResourceExhaustedError(
      absl::StrCat(field, ": ", size, " bytes is over the limit of ", max));
}

}  // namespace

Value FromProto(const v1::Value& v) { return Value{v.type(), v.id()}; }

Fact FromProto(const v1::Fact& f) {
  Fact out;
  out.predicate = f.predicate();
  out.args.reserve(f.args_size());
  for (const auto& a : f.args()) out.args.push_back(FromProto(a));
  return out;
}

void ToProto(const Value& v, v1::Value* out) {
  out->set_type(v.type);
  out->set_id(v.id);
}

void ToProto(const Fact& f, v1::Fact* out) {
  out->set_predicate(f.predicate);
  out->clear_args();
  for (const auto& a : f.args) ToProto(a, out->add_args());
}

v1::Fact ToProto(const Fact& f) {
  v1::Fact out;
  ToProto(f, &out);
  return out;
}

std::vector<std::optional<Value>> PatternArgs(const v1::FactPattern& p) {
  std::vector<std::optional<Value>> out;
  out.reserve(p.args_size());
  for (const auto& a : p.args()) {
    if (a.type().empty() && a.id().empty()) {
      out.push_back(std::nullopt);
    } else {
      out.push_back(FromProto(a));
    }
  }
  return out;
}

bool Matches(const v1::FactPattern& pattern, const Fact& fact) {
  if (pattern.predicate() != fact.predicate) return false;
  if (static_cast<size_t>(pattern.args_size()) != fact.args.size()) return false;
  for (int i = 0; i < pattern.args_size(); ++i) {
    const auto& p = pattern.args(i);
    if (p.type().empty()) continue;
    if (p.type() != fact.args[i].type) return false;
    if (!p.id().empty() && p.id() != fact.args[i].id) return false;
  }
  return true;
}

std::string EncodeConsistencyToken(absl::string_view cluster_id,
                                   uint64_t offset, uint64_t watch_skip, uint64_t epoch) {
  v1::ConsistencyTokenPayload payload;
  payload.set_cluster_id(std::string(cluster_id));
  payload.set_offset(offset);
  payload.set_watch_skip(watch_skip);
  payload.set_epoch(epoch);
  std::string out;
  absl::WebSafeBase64Escape(payload.SerializeAsString(), &out);
  return out;
}

absl::StatusOr<v1::ConsistencyTokenPayload> DecodeConsistencyToken(
    absl::string_view token) {
  std::string bytes;
  v1::ConsistencyTokenPayload payload;
  if (token.empty() || !absl::WebSafeBase64Unescape(token, &bytes) ||
      !payload.ParseFromString(bytes) || payload.cluster_id().empty()) {
    return absl::InvalidArgumentError("malformed consistency token");
  }
  // Offsets are int64 everywhere past this point (SQLite, control.db): one
  // beyond that range cannot name an entry of any log.
  if (payload.offset() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::FailedPreconditionError(
        absl::StrCat("consistency token offset ", payload.offset(),
                     " is out of range (at most ", std::numeric_limits<int64_t>::max(), ")"));
  }
  return payload;
}

uint64_t NextChain(uint64_t previous, const v1::LogEntry& entry) {
  auto le = [](uint64_t v, int bytes) {
    std::string out(static_cast<size_t>(bytes), '\0');
    for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return out;
  };
  Sha256 h;
  h.Update(le(previous, 8));
  h.Update(le(entry.offset(), 8));
  h.Update(entry.tenant());
  h.Update(le(entry.payload_crc32c(), 4));
  const std::array<uint8_t, 32> digest = h.Digest();
  uint64_t chain = 0;
  for (int i = 0; i < 8; ++i) chain |= static_cast<uint64_t>(digest[i]) << (8 * i);
  return chain == 0 ? 1 : chain;  // 0 means "not recorded"
}

absl::Status ValidateStoredTenantName(absl::string_view tenant) {
  return tenant == kSystemTenant ? absl::OkStatus() : ValidateTenantName(tenant);
}

absl::Status ValidateTenantName(absl::string_view tenant) {
  if (tenant.empty()) return Invalid("tenant", "required");
  if (tenant.size() > kMaxTenantNameBytes) {
    return Invalid("tenant", absl::StrCat("\"", tenant.substr(0, 80), "\" is ",
                                          tenant.size(), " bytes; at most ",
                                          kMaxTenantNameBytes, " allowed"));
  }
  if (!IsLower(tenant[0]) && !IsDigit(tenant[0])) {
    return Invalid("tenant", absl::StrCat("\"", tenant,
                                          "\" must start with a lowercase "
                                          "letter or a digit"));
  }
  for (char c : tenant) {
    if (!IsLower(c) && !IsDigit(c) && c != '-' && c != '_') {
      return Invalid("tenant",
                     absl::StrCat("\"", tenant,
                                  "\" may contain only lowercase letters, "
                                  "digits, '-' and '_'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view request_id) {
  if (request_id.size() > kMaxRequestIdBytes) {
    return TooLong("request_id", request_id.size(), kMaxRequestIdBytes);
  }
  return absl::OkStatus();
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || !(IsAlpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

absl::Status ValidateValue(const v1::Value& v, absl::string_view field) {
  if (v.type().empty()) return Invalid(absl::StrCat(field, ".type"), "required");
  if (v.type().size() > kMaxTypeBytes) {
    return TooLong(absl::StrCat(field, ".type"), v.type().size(), kMaxTypeBytes);
  }
  if (!IsIdentifier(v.type())) {
    return Invalid(absl::StrCat(field, ".type"),
                   absl::StrCat("\"", v.type(), "\" is not an identifier"));
  }
  if (v.id().empty()) return Invalid(absl::StrCat(field, ".id"), "required");
  if (v.id().size() > kMaxIdBytes) {
    return TooLong(absl::StrCat(field, ".id"), v.id().size(), kMaxIdBytes);
  }
  if (!IsValidUtf8(v.id())) return Invalid(absl::StrCat(field, ".id"), "not valid UTF-8");
  if (v.type() == kIntegerType) {
    int64_t n;
    if (!absl::SimpleAtoi(v.id(), &n) || absl::StrCat(n) != v.id()) {
      return Invalid(absl::StrCat(field, ".id"),
                     absl::StrCat("\"", v.id(), "\" is not a canonical int64 "
                                  "(an Integer id is a decimal like \"-12\")"));
    }
  } else if (v.type() == kBooleanType) {
    if (v.id() != "true" && v.id() != "false") {
      return Invalid(absl::StrCat(field, ".id"),
                     absl::StrCat("\"", v.id(), "\" is not a Boolean (true or false)"));
    }
  }
  return absl::OkStatus();
}

namespace {
absl::Status ValidatePredicateAndArity(absl::string_view predicate, int arity,
                                       absl::string_view field) {
  if (predicate.empty()) return Invalid(absl::StrCat(field, ".predicate"), "required");
  if (predicate.size() > kMaxPredicateBytes) {
    return TooLong(absl::StrCat(field, ".predicate"), predicate.size(),
                   kMaxPredicateBytes);
  }
  if (!IsIdentifier(predicate)) {
    return Invalid(absl::StrCat(field, ".predicate"),
                   absl::StrCat("\"", predicate, "\" is not an identifier"));
  }
  if (arity < 1 || arity > kMaxArity) {
    return Invalid(absl::StrCat(field, ".args"),
                   absl::StrCat(arity, " arguments; 1..", kMaxArity, " allowed"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status ValidateFact(const v1::Fact& f, absl::string_view field) {
  if (auto s = ValidatePredicateAndArity(f.predicate(), f.args_size(), field);
      !s.ok()) {
    return s;
  }
  if (f.predicate()[0] == '_') {
    return Invalid(absl::StrCat(field, ".predicate"),
                   absl::StrCat("\"", f.predicate(),
                                "\": names starting with '_' are reserved"));
  }
  for (int i = 0; i < f.args_size(); ++i) {
    if (auto s = ValidateValue(f.args(i), absl::StrCat(field, ".args[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePattern(const v1::FactPattern& p, absl::string_view field) {
  if (auto s = ValidatePredicateAndArity(p.predicate(), p.args_size(), field);
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < p.args_size(); ++i) {
    const auto& a = p.args(i);
    std::string af = absl::StrCat(field, ".args[", i, "]");
    if (a.type().empty() && a.id().empty()) continue;  // wildcard
    if (a.type().empty()) return Invalid(af, "an id without a type");
    if (a.id().empty()) {  // type-only wildcard
      if (a.type().size() > kMaxTypeBytes) {
        return TooLong(absl::StrCat(af, ".type"), a.type().size(), kMaxTypeBytes);
      }
      if (!IsIdentifier(a.type())) {
        return Invalid(absl::StrCat(af, ".type"),
                       absl::StrCat("\"", a.type(), "\" is not an identifier"));
      }
      continue;
    }
    if (auto s = ValidateValue(a, af); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateCreateTenantRequest(const v1::CreateTenantRequest& r) {
  if (auto s = ValidateTenantName(r.tenant()); !s.ok()) return s;
  return ValidateRequestId(r.request_id());
}

absl::Status ValidateWriteRequest(const v1::WriteRequest& r) {
  if (auto s = ValidateTenantName(r.tenant()); !s.ok()) return s;
  if (auto s = ValidateRequestId(r.request_id()); !s.ok()) return s;
  if (r.operations_size() == 0) {
    return Invalid("operations", "at least one operation is required");
  }
  if (r.operations_size() > kMaxOperationsPerWrite) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "operations: ", r.operations_size(), " operations is over the limit of ",
        kMaxOperationsPerWrite, " per write"));
  }
  if (size_t bytes = r.ByteSizeLong(); bytes > kMaxRequestBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request: ", bytes, " bytes is over the limit of ", kMaxRequestBytes));
  }
  for (int i = 0; i < r.operations_size(); ++i) {
    const auto& op = r.operations(i);
    switch (op.operation_case()) {
      case v1::WriteOperation::kInsert:
        if (auto s = ValidateFact(op.insert(),
                                  absl::StrCat("operations[", i, "].insert"));
            !s.ok()) {
          return s;
        }
        break;
      case v1::WriteOperation::kDeletePattern:
        if (auto s = ValidatePattern(
                op.delete_pattern(),
                absl::StrCat("operations[", i, "].delete_pattern"));
            !s.ok()) {
          return s;
        }
        break;
      default:
        return Invalid(absl::StrCat("operations[", i, "]"),
                       "neither insert nor delete_pattern is set");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSetPolicyRequest(const v1::SetPolicyRequest& r) {
  if (auto s = ValidateTenantName(r.tenant()); !s.ok()) return s;
  if (auto s = ValidateRequestId(r.request_id()); !s.ok()) return s;
  if (r.source().empty()) return Invalid("source", "required");
  if (r.source().size() > kMaxPolicySourceBytes) {
    return TooLong("source", r.source().size(), kMaxPolicySourceBytes);
  }
  if (!IsValidUtf8(r.source())) return Invalid("source", "not valid UTF-8");
  if (r.filename().size() > kMaxPolicyFilenameBytes) {
    return TooLong("filename", r.filename().size(), kMaxPolicyFilenameBytes);
  }
  return absl::OkStatus();
}

}  // namespace arbiter::api
