#include "common/auth/key_facts.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"

namespace arbiter::auth {
namespace {

constexpr char kClusterTenant[] = "*";

Value Str(std::string s) { return Value{kStringType, std::move(s)}; }

}  // namespace

Fact KeyFact(const KeyGrant& g) {
  return Fact{kKeyPredicate,
              {Value{kKeyType, g.id}, Str(g.sha256), Str(g.tenant.empty() ? kClusterTenant : g.tenant),
               Str(ScopesText(g.scopes)), Str(g.name)}};
}

absl::StatusOr<KeyGrant> GrantFromFact(std::span<const Value> args) {
  if (args.size() != 5 || args[0].type != kKeyType) {
    return absl::DataLossError("a \"_system\" api_key fact does not have the key fact's shape");
  }
  absl::StatusOr<uint32_t> scopes = ParseScopesText(args[3].id);
  if (!scopes.ok()) {
    return absl::DataLossError(
        absl::StrCat("api_key fact of ", args[0].id, ": ", scopes.status().message()));
  }
  KeyGrant g;
  g.id = args[0].id;
  g.sha256 = args[1].id;
  g.tenant = args[2].id == kClusterTenant ? "" : args[2].id;
  g.scopes = *scopes;
  g.name = args[4].id;
  return g;
}

v1::WriteBatch KeyUpdate(std::span<const KeyGrant> created, std::span<const std::string> revoked) {
  v1::WriteBatch batch;
  for (const std::string& id : revoked) {
    v1::FactPattern* p = batch.add_operations()->mutable_delete_pattern();
    p->set_predicate(kKeyPredicate);
    v1::Value* key = p->add_args();
    key->set_type(kKeyType);
    key->set_id(id);
    for (int i = 0; i < 4; ++i) p->add_args();  // wildcards
  }
  for (const KeyGrant& g : created) api::ToProto(KeyFact(g), batch.add_operations()->mutable_insert());
  return batch;
}

absl::StatusOr<std::optional<KeyGrant>> FindKey(const eval::FactSource& facts,
                                                const std::string& id) {
  std::vector<std::optional<Value>> pattern(5);
  pattern[0] = Value{kKeyType, id};
  std::optional<absl::StatusOr<KeyGrant>> found;
  absl::Status s = facts.Scan(kKeyPredicate, pattern, [&](std::span<const Value> args) {
    found = GrantFromFact(args);
    return false;
  });
  if (!s.ok()) return s;
  if (!found.has_value()) return std::nullopt;
  if (!found->ok()) return found->status();
  return **found;
}

}  // namespace arbiter::auth
