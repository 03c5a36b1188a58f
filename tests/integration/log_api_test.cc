// The write API of arbiter-log over real gRPC: tenants, validation naming the
// bad operation with nothing written, idempotent retries, limits, policies
// and the stored-fact check against the materialized state.

#include "common/api/api.h"
#include "tests/integration/log_test_util.h"

namespace arbiter::testing {
namespace {

TEST_CASE("tenants must be created, once, and need a policy before writes",
          "[integration][log]") {
  TempDir dir;
  LogServer log(dir);
  log.Start();
    CHECK(log.CreateTenant("Bad!").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    uint64_t offset = 0;
    REQUIRE(log.CreateTenant("acme", &offset, "c1").ok());
    CHECK(offset == kBootstrapEntries + 1);
    CHECK(log.CreateTenant("acme").error_code() == grpc::StatusCode::ALREADY_EXISTS);
    uint64_t again = 0;
    REQUIRE(log.CreateTenant("acme", &again, "c1").ok());
    CHECK(again == kBootstrapEntries + 1);
    CHECK(log.Write(InsertRequest("nope", {{"public", "x"}})).error_code() ==
          grpc::StatusCode::NOT_FOUND);
    grpc::Status s = log.Write(InsertRequest("acme", {{"public", "x"}}));
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(s.error_message(), Catch::Contains("SetPolicy first"));
  }

TEST_CASE("tenants, validation, idempotency and policies over gRPC",
          "[integration][log]") {
  TempDir dir;
  LogServer log(dir);
  log.Start();
  v1::GetHeadResponse head = log.Head();
  CHECK(head.cluster_id().size() == 32);
  CHECK(head.epoch() == 1);
  CHECK(head.head_offset() == kBootstrapEntries);
  CHECK(head.oldest_retained_offset() == 1);

  REQUIRE(log.CreateTenant("acme").ok());
  REQUIRE(log.CreateTenant("beta").ok());
  grpc::Status bad = log.SetPolicy("acme", "resource Repository {\n  roles = [\"a\"\n}");
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(bad.error_message(), Catch::Contains("policy.polar:"));
  v1::SetPolicyResponse policy;
  REQUIRE(log.SetPolicy("acme", kTestPolicy, false, &policy).ok());
  CHECK(policy.offset() == kBootstrapEntries + 3);
  {
    auto token = api::DecodeConsistencyToken(policy.consistency_token());
    REQUIRE(token.ok());
    CHECK(token->cluster_id() == head.cluster_id());
    CHECK(token->offset() == kBootstrapEntries + 3);
  }

  SECTION("a batch with one invalid fact writes nothing and names the entry") {
    v1::WriteRequest w = InsertRequest("acme", {{"public", "a"}, {"reader", "u"}, {"owner", "u"}});
    grpc::Status s = log.Write(w);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("operations[2]"));
    CHECK_THAT(s.error_message(), Catch::Contains("owner"));
    w.mutable_operations(0)->mutable_insert()->mutable_args(0)->set_type("");
    s = log.Write(w);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("operations[0]"));
    CHECK(log.Head().head_offset() == kBootstrapEntries + 3);  // nothing written
    CHECK(log.ReadAll(1).size() == kBootstrapEntries + 3);
  }

  SECTION("idempotent retry returns the original offset") {
    uint64_t first = 0, second = 0, other = 0;
    REQUIRE(log.Write(InsertRequest("acme", {{"public", "a"}}, "req-1"), &first).ok());
    REQUIRE(log.Write(InsertRequest("acme", {{"public", "b"}}), &other).ok());
    REQUIRE(log.Write(InsertRequest("acme", {{"public", "a"}}, "req-1"), &second).ok());
    CHECK(first == kBootstrapEntries + 4);
    CHECK(second == first);
    CHECK(log.Head().head_offset() == kBootstrapEntries + 5);
    // Survives a restart.
    log.Kill();
    log.Start();
    REQUIRE(log.Write(InsertRequest("acme", {{"public", "a"}}, "req-1"), &second).ok());
    CHECK(second == first);
  }

  SECTION("limits are RESOURCE_EXHAUSTED naming the limit") {
    v1::WriteRequest w;
    w.set_tenant("acme");
    for (int i = 0; i < 1001; ++i) {
      *w.add_operations() = InsertRequest("acme", {{"public", "x"}}).operations(0);
    }
    grpc::Status s = log.Write(w);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK_THAT(s.error_message(), Catch::Contains("1000"));
    s = log.Write(InsertRequest("acme", {{"public", std::string(2000, 'x')}}));
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK_THAT(s.error_message(), Catch::Contains("operations[0].insert.args[0].id"));
  }

  SECTION("SetPolicy checks stored facts; force leaves them inert and deletable") {
    REQUIRE(log.Write(InsertRequest("acme", {{"public", "a"}, {"maintainer", "m"}})).ok());
    grpc::Status s = log.SetPolicy("acme", kNarrowerPolicy);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(s.error_message(), Catch::Contains("2 stored fact"));
    CHECK_THAT(s.error_message(), Catch::Contains("is_public(Repository:a)"));
    v1::SetPolicyResponse forced;
    REQUIRE(log.SetPolicy("acme", kNarrowerPolicy, true, &forced).ok());
    CHECK(forced.inert_fact_count() == 2);
    CHECK(forced.inert_facts_size() == 2);
    // New writes follow the new policy.
    CHECK(log.Write(InsertRequest("acme", {{"public", "b"}})).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
    // Inert facts can still be deleted.
    v1::WriteRequest del;
    del.set_tenant("acme");
    auto* d = del.add_operations()->mutable_delete_pattern();
    d->set_predicate("is_public");
    d->add_args();
    REQUIRE(log.Write(del).ok());

    v1::GetPolicyRequest gp;
    gp.set_tenant("acme");
    v1::GetPolicyResponse resp;
    grpc::ClientContext ctx;
    REQUIRE(log.stub()->GetPolicy(WithDeadline(&ctx), gp, &resp).ok());
    CHECK(resp.version() == forced.offset());
    CHECK(resp.source() == kNarrowerPolicy);
  }

  SECTION("ListTenants in name order") {
    v1::ListTenantsResponse resp;
    grpc::ClientContext ctx;
    REQUIRE(log.stub()->ListTenants(WithDeadline(&ctx), {}, &resp).ok());
    REQUIRE(resp.tenants_size() == 2);  // not the reserved "_system"
    CHECK(resp.tenants(0).name() == "acme");
    CHECK(resp.tenants(0).policy_version() == kBootstrapEntries + 3);
    CHECK(resp.tenants(1).name() == "beta");
    CHECK(resp.tenants(1).created_offset() == kBootstrapEntries + 2);
  }
}

TEST_CASE("arbiter-log: a bad flag exits 2 naming it", "[integration][log]") {
  TempDir dir;
  for (std::string flag : {"--snapshot_interval=0s", "--subscriber_stall_timeout=-1s"}) {
    auto p = Process::Start({BinaryPath("services/log/arbiter-log"), flag,
                             "--data_dir=" + dir.File("d")},
                            dir.File("log.txt"));
    REQUIRE(p.ok());
    auto exit = p->Wait(absl::Seconds(10));
    REQUIRE(exit.ok());
    CHECK(exit->code == 2);
    CHECK_THAT(p->LogTail(), Catch::Contains(flag.substr(0, flag.find('='))));
  }
}

}  // namespace
}  // namespace arbiter::testing
