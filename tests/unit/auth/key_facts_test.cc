#include "common/auth/key_facts.h"

#include <vector>

#include <catch2/catch.hpp>

#include "common/api/api.h"
#include "common/eval/fact_index.h"

namespace arbiter::auth {
namespace {

TEST_CASE("a key is one _system fact: created, found by id, revoked by pattern", "[unit][auth]") {
  absl::StatusOr<NewKey> tenant_key = GenerateKey("acme", kRead | kWrite, "billing");
  absl::StatusOr<NewKey> cluster_key = GenerateKey("", kReplicate, "host-7");
  REQUIRE(tenant_key.ok());
  REQUIRE(cluster_key.ok());
  std::vector<KeyGrant> created = {tenant_key->grant, cluster_key->grant};
  v1::WriteBatch batch = KeyUpdate(created, {});
  REQUIRE(batch.operations_size() == 2);
  std::vector<Fact> facts;
  for (const auto& op : batch.operations()) {
    REQUIRE(op.has_insert());
    facts.push_back(api::FromProto(op.insert()));
  }
  auto index = eval::FactIndex::Create(facts);
  REQUIRE(index.ok());
  for (const KeyGrant& g : created) {
    absl::StatusOr<std::optional<KeyGrant>> found = FindKey(**index, g.id);
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    KeyGrant expected = g;
    expected.created_offset = 0;  // not in the fact
    CHECK(**found == expected);
  }
  absl::StatusOr<std::optional<KeyGrant>> none = FindKey(**index, "0000000000000000");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  std::vector<std::string> revoked = {tenant_key->grant.id};
  v1::WriteBatch revoke = KeyUpdate({}, revoked);
  REQUIRE(revoke.operations_size() == 1);
  REQUIRE(revoke.operations(0).has_delete_pattern());
  int matched = 0;
  for (const Fact& f : facts) matched += api::Matches(revoke.operations(0).delete_pattern(), f);
  CHECK(matched == 1);
}

TEST_CASE("a damaged key fact is DATA_LOSS, not a key", "[unit][auth]") {
  std::vector<Value> args = {{kKeyType, "0123456789abcdef"}, {kStringType, "x"},
                             {kStringType, "*"}, {kStringType, "root"}, {kStringType, "n"}};
  CHECK(GrantFromFact(args).status().code() == absl::StatusCode::kDataLoss);
  args.pop_back();
  CHECK(GrantFromFact(args).status().code() == absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace arbiter::auth
