#include "common/api/api.h"

#include <limits>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include <string>

namespace arbiter::api {
namespace {

v1::Value V(std::string type, std::string id) {
  v1::Value v;
  v.set_type(type);
  v.set_id(id);
  return v;
}

TEST_CASE("tenant names follow the proto's rule", "[unit][api]") {
  CHECK(ValidateTenantName("acme").ok());
  CHECK(ValidateTenantName("0-a_b").ok());
  CHECK(ValidateTenantName(std::string(63, 'a')).ok());
  CHECK(ValidateTenantName(std::string(64, 'a')).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(!ValidateTenantName("").ok());
  CHECK(!ValidateTenantName("-a").ok());
  CHECK(!ValidateTenantName("_a").ok());
  CHECK(!ValidateTenantName("Acme").ok());
  CHECK(!ValidateTenantName("a.b").ok());
  CHECK(!ValidateTenantName("a/b").ok());
}

TEST_CASE("values: identifiers, lengths, literals", "[unit][api]") {
  CHECK(ValidateValue(V("User", "alice"), "v").ok());
  CHECK(ValidateValue(V("Integer", "-12"), "v").ok());
  CHECK(ValidateValue(V("Integer", "0"), "v").ok());
  CHECK(!ValidateValue(V("Integer", "012"), "v").ok());
  CHECK(!ValidateValue(V("Integer", "1x"), "v").ok());
  CHECK(!ValidateValue(V("Integer", "99999999999999999999"), "v").ok());
  CHECK(ValidateValue(V("Boolean", "true"), "v").ok());
  CHECK(!ValidateValue(V("Boolean", "yes"), "v").ok());
  CHECK(!ValidateValue(V("", "x"), "v").ok());
  CHECK(!ValidateValue(V("User", ""), "v").ok());
  CHECK(!ValidateValue(V("9User", "a"), "v").ok());
  CHECK(!ValidateValue(V("User", "\xff"), "v").ok());
  CHECK(ValidateValue(V("User", "caf\xc3\xa9"), "v").ok());
  CHECK(ValidateValue(V("User", std::string(1025, 'a')), "v").code() ==
        absl::StatusCode::kResourceExhausted);
  CHECK(ValidateValue(V(std::string(129, 'A'), "a"), "v").code() ==
        absl::StatusCode::kResourceExhausted);
}

TEST_CASE("write requests name the bad operation", "[unit][api]") {
  v1::WriteRequest r;
  r.set_tenant("acme");
  CHECK(ValidateWriteRequest(r).code() == absl::StatusCode::kInvalidArgument);
  for (int i = 0; i < 3; ++i) {
    auto* f = r.add_operations()->mutable_insert();
    f->set_predicate("is_public");
    *f->add_args() = V("Repository", "r" + std::to_string(i));
  }
  CHECK(ValidateWriteRequest(r).ok());
  r.mutable_operations(2)->mutable_insert()->mutable_args(0)->set_id("");
  auto s = ValidateWriteRequest(r);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("operations[2].insert.args[0].id"));

  r.mutable_operations(2)->mutable_insert()->mutable_args(0)->set_id("x");
  auto* d = r.add_operations()->mutable_delete_pattern();
  d->set_predicate("is_public");
  *d->add_args() = V("", "");
  CHECK(ValidateWriteRequest(r).ok());
  *d->mutable_args(0) = V("Repository", "");
  CHECK(ValidateWriteRequest(r).ok());
  *d->mutable_args(0) = V("", "x");
  s = ValidateWriteRequest(r);
  CHECK_THAT(std::string(s.message()), Catch::Contains("operations[3]"));
  *d->mutable_args(0) = V("Repository", "");
  r.add_operations();
  CHECK_THAT(std::string(ValidateWriteRequest(r).message()),
             Catch::Contains("operations[4]"));

  v1::WriteRequest big;
  big.set_tenant("acme");
  for (int i = 0; i < 1001; ++i) {
    auto* f = big.add_operations()->mutable_insert();
    f->set_predicate("p");
    *f->add_args() = V("T", "x");
  }
  CHECK(ValidateWriteRequest(big).code() == absl::StatusCode::kResourceExhausted);

  v1::WriteRequest reserved;
  reserved.set_tenant("acme");
  auto* f = reserved.add_operations()->mutable_insert();
  f->set_predicate("_secret");
  *f->add_args() = V("T", "x");
  CHECK(!ValidateWriteRequest(reserved).ok());
}

TEST_CASE("conversions and patterns", "[unit][api]") {
  Fact f{"has_role", {{"User", "a"}, {"String", "admin"}, {"Org", "o"}}};
  CHECK(FromProto(ToProto(f)) == f);
  v1::FactPattern p;
  p.set_predicate("has_role");
  *p.add_args() = V("User", "");
  *p.add_args() = V("", "");
  *p.add_args() = V("Org", "o");
  auto args = PatternArgs(p);
  REQUIRE(args.size() == 3);
  CHECK(args[0] == Value{"User", ""});
  CHECK(!args[1].has_value());
  CHECK(Matches(p, f));
  f.args[0].type = "Group";
  CHECK(!Matches(p, f));
}

TEST_CASE("consistency tokens round-trip, unpadded base64url", "[unit][api]") {
  std::string t = EncodeConsistencyToken("cluster-1", 1234567);
  CHECK(t.find('=') == std::string::npos);
  CHECK(t.find('+') == std::string::npos);
  CHECK(t.find('/') == std::string::npos);
  auto p = DecodeConsistencyToken(t);
  REQUIRE(p.ok());
  CHECK(p->cluster_id() == "cluster-1");
  CHECK(p->offset() == 1234567);
  CHECK(p->epoch() == 0);  // not recorded
  auto full = DecodeConsistencyToken(EncodeConsistencyToken("cluster-1", 9, 4, 2));
  REQUIRE(full.ok());
  CHECK(full->offset() == 9);
  CHECK(full->watch_skip() == 4);
  CHECK(full->epoch() == 2);
  CHECK(!DecodeConsistencyToken("").ok());
  CHECK(!DecodeConsistencyToken("!!!").ok());
}

TEST_CASE("consistency tokens past int64 are refused, not wrapped", "[unit][api]") {
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  REQUIRE(DecodeConsistencyToken(EncodeConsistencyToken("c", max)).ok());
  for (uint64_t offset : {max + 1, std::numeric_limits<uint64_t>::max()}) {
    auto p = DecodeConsistencyToken(EncodeConsistencyToken("c", offset));
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(p.status().message() ==
          absl::StrCat("consistency token offset ", offset,
                       " is out of range (at most 9223372036854775807)"));
  }
}

}  // namespace
}  // namespace arbiter::api
