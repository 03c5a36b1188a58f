// API keys against real processes (issue #13, docs/SECURITY.md): calls without
// a valid key, the cross-tenant matrix (tenant A's keys get nothing of tenant
// B, and cannot tell B from a tenant that does not exist), revocation on two
// hosts within --max_staleness (also on a host whose writer is stopped), the
// bootstrap key, Subscribe ending on revocation, and --insecure_no_auth.

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/host.h"
#include "tests/testing/keys.h"

namespace arbiter::testing {
namespace {

constexpr char kPolicy[] = R"(
actor User {}
resource Doc {
  roles = ["viewer"];
  permissions = ["read"];
  "read" if "viewer";
}
)";

v1::Value Val(const std::string& type, const std::string& id) {
  v1::Value v;
  v.set_type(type);
  v.set_id(id);
  return v;
}

v1::WriteRequest Grant(const std::string& tenant, const std::string& user,
                       const std::string& doc) {
  v1::WriteRequest w;
  w.set_tenant(tenant);
  auto* f = w.add_operations()->mutable_insert();
  f->set_predicate("has_role");
  *f->add_args() = Val("User", user);
  *f->add_args() = Val("String", "viewer");
  *f->add_args() = Val("Doc", doc);
  return w;
}

// Stubs of the three services whose calls all send `key`.
struct Client {
  Client(Cluster& c, const std::string& key)
      : log(v1::LogService::NewStub(LocalChannel(c.log_port(), key))),
        reader(v1::ReaderService::NewStub(LocalChannel(c.reader_port(0), key))),
        writer(v1::WriterAdminService::NewStub(LocalChannel(c.writer_port(), key))) {}
  std::unique_ptr<v1::LogService::Stub> log;
  std::unique_ptr<v1::ReaderService::Stub> reader;
  std::unique_ptr<v1::WriterAdminService::Stub> writer;
};

grpc::ClientContext* Ctx(grpc::ClientContext* ctx) {
  ctx->set_deadline(DeadlineIn(absl::Seconds(10)));
  return ctx;
}

// A new key, created with the cluster's operator key.
v1::CreateKeyResponse NewKey(Cluster& c, const std::string& tenant,
                             const std::vector<std::string>& scopes) {
  v1::CreateKeyRequest req;
  req.set_tenant(tenant);
  for (const auto& s : scopes) req.add_scopes(s);
  v1::CreateKeyResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = c.log().CreateKey(Ctx(&ctx), req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp;
}

grpc::Status Authorize(v1::ReaderService::Stub& reader, const std::string& tenant,
                       bool fully_consistent = false, bool* allowed = nullptr) {
  v1::AuthorizeRequest req;
  req.set_tenant(tenant);
  *req.mutable_actor() = Val("User", "alice");
  req.set_action("read");
  *req.mutable_resource() = Val("Doc", "d1");
  if (fully_consistent) req.mutable_consistency()->set_fully_consistent(true);
  v1::AuthorizeResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = reader.Authorize(Ctx(&ctx), req, &resp);
  if (allowed != nullptr) *allowed = resp.allowed();
  return s;
}

// One RPC of the matrix: its name and a call naming `tenant`.
struct Rpc {
  std::string name;
  std::function<grpc::Status(Client&, const std::string& tenant)> call;
};

template <typename Req, typename Resp, typename Stub>
grpc::Status Unary(Stub& stub,
                   grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                   const Req& req) {
  Resp resp;
  grpc::ClientContext ctx;
  return (stub.*method)(Ctx(&ctx), req, &resp);
}

// Every RPC that names a tenant, each with a request valid in itself.
std::vector<Rpc> TenantRpcs() {
  using L = v1::LogService::Stub;
  using R = v1::ReaderService::Stub;
  std::vector<Rpc> rpcs;
  rpcs.push_back({"Write", [](Client& c, const std::string& t) {
                    return Unary(*c.log, &L::Write, Grant(t, "mallory", "d1"));
                  }});
  rpcs.push_back({"SetPolicy", [](Client& c, const std::string& t) {
                    v1::SetPolicyRequest r;
                    r.set_tenant(t);
                    r.set_source(kPolicy);
                    return Unary(*c.log, &L::SetPolicy, r);
                  }});
  rpcs.push_back({"GetPolicy", [](Client& c, const std::string& t) {
                    v1::GetPolicyRequest r;
                    r.set_tenant(t);
                    return Unary(*c.log, &L::GetPolicy, r);
                  }});
  rpcs.push_back({"CreateKey", [](Client& c, const std::string& t) {
                    v1::CreateKeyRequest r;
                    r.set_tenant(t);
                    r.add_scopes("admin");
                    return Unary(*c.log, &L::CreateKey, r);
                  }});
  rpcs.push_back({"RevokeKey", [](Client& c, const std::string& t) {
                    v1::RevokeKeyRequest r;
                    r.set_tenant(t);
                    r.set_key_id("0123456789abcdef");
                    return Unary(*c.log, &L::RevokeKey, r);
                  }});
  rpcs.push_back({"RotateKey", [](Client& c, const std::string& t) {
                    v1::RotateKeyRequest r;
                    r.set_tenant(t);
                    r.set_key_id("0123456789abcdef");
                    return Unary(*c.log, &L::RotateKey, r);
                  }});
  rpcs.push_back({"ListKeys", [](Client& c, const std::string& t) {
                    v1::ListKeysRequest r;
                    r.set_tenant(t);
                    return Unary(*c.log, &L::ListKeys, r);
                  }});
  rpcs.push_back({"Authorize", [](Client& c, const std::string& t) {
                    return Authorize(*c.reader, t);
                  }});
  rpcs.push_back({"AuthorizeResources", [](Client& c, const std::string& t) {
                    v1::AuthorizeResourcesRequest r;
                    r.set_tenant(t);
                    *r.mutable_actor() = Val("User", "alice");
                    r.set_action("read");
                    *r.add_resources() = Val("Doc", "d1");
                    return Unary(*c.reader, &R::AuthorizeResources, r);
                  }});
  rpcs.push_back({"List", [](Client& c, const std::string& t) {
                    v1::ListRequest r;
                    r.set_tenant(t);
                    *r.mutable_actor() = Val("User", "alice");
                    r.set_action("read");
                    r.set_resource_type("Doc");
                    return Unary(*c.reader, &R::List, r);
                  }});
  rpcs.push_back({"Actions", [](Client& c, const std::string& t) {
                    v1::ActionsRequest r;
                    r.set_tenant(t);
                    *r.mutable_actor() = Val("User", "alice");
                    *r.mutable_resource() = Val("Doc", "d1");
                    return Unary(*c.reader, &R::Actions, r);
                  }});
  rpcs.push_back({"Query", [](Client& c, const std::string& t) {
                    v1::QueryRequest r;
                    r.set_tenant(t);
                    r.set_predicate("has_permission");
                    *r.add_args()->mutable_value() = Val("User", "alice");
                    *r.add_args()->mutable_value() = Val("String", "read");
                    r.add_args()->set_variable("doc");
                    return Unary(*c.reader, &R::Query, r);
                  }});
  rpcs.push_back({"GetFacts", [](Client& c, const std::string& t) {
                    v1::GetFactsRequest r;
                    r.set_tenant(t);
                    r.mutable_pattern()->set_predicate("has_role");
                    for (int i = 0; i < 3; ++i) r.mutable_pattern()->add_args();
                    return Unary(*c.reader, &R::GetFacts, r);
                  }});
  rpcs.push_back({"Explain", [](Client& c, const std::string& t) {
                    v1::ExplainRequest r;
                    r.set_tenant(t);
                    *r.mutable_actor() = Val("User", "alice");
                    r.set_action("read");
                    *r.mutable_resource() = Val("Doc", "d1");
                    return Unary(*c.reader, &R::Explain, r);
                  }});
  return rpcs;
}

// Every RPC of the cluster (no tenant): operator or replicate only.
std::vector<Rpc> ClusterRpcs() {
  using L = v1::LogService::Stub;
  using W = v1::WriterAdminService::Stub;
  std::vector<Rpc> rpcs;
  rpcs.push_back({"CreateTenant", [](Client& c, const std::string&) {
                    v1::CreateTenantRequest r;
                    r.set_tenant("intruder");
                    return Unary(*c.log, &L::CreateTenant, r);
                  }});
  rpcs.push_back({"ListTenants", [](Client& c, const std::string&) {
                    return Unary(*c.log, &L::ListTenants, v1::ListTenantsRequest());
                  }});
  rpcs.push_back({"GetHead", [](Client& c, const std::string&) {
                    return Unary(*c.log, &L::GetHead, v1::GetHeadRequest());
                  }});
  rpcs.push_back({"ListSnapshots", [](Client& c, const std::string&) {
                    return Unary(*c.log, &L::ListSnapshots, v1::ListSnapshotsRequest());
                  }});
  rpcs.push_back({"Subscribe", [](Client& c, const std::string&) {
                    grpc::ClientContext ctx;
                    v1::SubscribeRequest r;
                    r.set_from_offset(1);
                    auto stream = c.log->Subscribe(Ctx(&ctx), r);
                    v1::SubscribeResponse msg;
                    if (stream->Read(&msg)) return grpc::Status::OK;  // got data: a leak
                    return stream->Finish();
                  }});
  rpcs.push_back({"FetchSnapshot", [](Client& c, const std::string&) {
                    grpc::ClientContext ctx;
                    v1::FetchSnapshotRequest r;
                    r.set_snapshot_id("snap-00000000000000000001");
                    r.set_file("tenants/b.db");
                    auto stream = c.log->FetchSnapshot(Ctx(&ctx), r);
                    v1::FetchSnapshotResponse msg;
                    if (stream->Read(&msg)) return grpc::Status::OK;
                    return stream->Finish();
                  }});
  rpcs.push_back({"GetStatus", [](Client& c, const std::string&) {
                    return Unary(*c.writer, &W::GetStatus, v1::GetStatusRequest());
                  }});
  rpcs.push_back({"Drain", [](Client& c, const std::string&) {
                    return Unary(*c.writer, &W::Drain, v1::DrainRequest());
                  }});
  rpcs.push_back({"Undrain", [](Client& c, const std::string&) {
                    return Unary(*c.writer, &W::Undrain, v1::UndrainRequest());
                  }});
  return rpcs;
}

std::unique_ptr<Cluster> StartWithTenants() {
  auto c = Cluster::Start({.readers = 1});
  REQUIRE(c.ok());
  for (const char* t : {"a", "b"}) {
    REQUIRE((*c)->CreateTenant(t).ok());
    REQUIRE((*c)->SetPolicy(t, kPolicy).ok());
  }
  REQUIRE((*c)->Write(Grant("b", "alice", "d1")).ok());
  auto head = (*c)->Write(Grant("a", "alice", "d1"));
  REQUIRE(head.ok());
  REQUIRE((*c)->WaitForWriter(v1::REPLICATION_STATE_LIVE, *head).ok());
  return std::move(*c);
}

TEST_CASE("a call without a valid key is UNAUTHENTICATED and says why",
          "[integration][auth]") {
  auto c = StartWithTenants();
  const std::string wrong_secret =
      absl::StrCat("arb_", kTestKeyId, "_", std::string(64, 'f'));
  struct Case {
    std::string key, message;
  } cases[] = {
      {"", "missing API key: send the gRPC metadata \"authorization: Bearer <key>\""},
      {"not-a-key", "malformed API key"},
      {wrong_secret, absl::StrCat("unknown or revoked API key ", kTestKeyId)},
  };
  for (const Case& k : cases) {
    Client client(*c, k.key);
    for (const auto& rpcs : {TenantRpcs(), ClusterRpcs()}) {
      for (const Rpc& rpc : rpcs) {
        grpc::Status s = rpc.call(client, "a");
        INFO(rpc.name << " with key \"" << k.key << "\": " << s.error_message());
        CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
        CHECK_THAT(s.error_message(), Catch::Contains(k.message));
        // Never the secret itself.
        if (!k.key.empty()) CHECK_THAT(s.error_message(), !Catch::Contains(k.key));
      }
    }
  }
  // Health and reflection need no key (probes, grpcurl list).
  CHECK(CheckHealth(LocalChannel(c->reader_port(0), "").get()) == Health::kServing);
}

TEST_CASE("tenant A's keys get nothing of tenant B, nor learn whether a tenant exists",
          "[integration][auth]") {
  auto c = StartWithTenants();
  std::vector<std::vector<std::string>> scope_sets = {
      {"read"}, {"write"}, {"admin"}, {"read", "write", "admin"}};
  int calls = 0, leaks = 0;
  for (const auto& scopes : scope_sets) {
    v1::CreateKeyResponse key = NewKey(*c, "a", scopes);
    Client client(*c, key.key());
    for (const Rpc& rpc : TenantRpcs()) {
      // The same call against an existing other tenant and a missing one:
      // both refused, with the same words.
      grpc::Status other = rpc.call(client, "b");
      grpc::Status missing = rpc.call(client, "zz-missing");
      calls += 2;
      INFO(rpc.name << " with a key of a (" << absl::StrJoin(scopes, ",")
                    << "): " << other.error_message() << " / " << missing.error_message());
      if (other.ok()) ++leaks;
      if (missing.ok()) ++leaks;
      CHECK(other.error_code() == grpc::StatusCode::PERMISSION_DENIED);
      CHECK(missing.error_code() == grpc::StatusCode::PERMISSION_DENIED);
      CHECK(absl::StrReplaceAll(other.error_message(), {{"\"b\"", "\"T\""}}) ==
            absl::StrReplaceAll(missing.error_message(), {{"\"zz-missing\"", "\"T\""}}));
    }
    for (const Rpc& rpc : ClusterRpcs()) {
      grpc::Status s = rpc.call(client, "");
      ++calls;
      INFO(rpc.name << " with a key of a: " << s.error_message());
      if (s.ok()) ++leaks;
      CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    }
  }
  INFO(calls << " calls");
  CHECK(leaks == 0);
  CHECK(calls == 4 * (2 * static_cast<int>(TenantRpcs().size()) +
                      static_cast<int>(ClusterRpcs().size())));

  // The same keys do what their scopes allow on their own tenant (so the
  // refusals above are about the tenant, not a key that never works).
  v1::CreateKeyResponse read_key = NewKey(*c, "a", {"read"});
  const std::string read_key_id = read_key.info().key_id();
  Client read(*c, read_key.key());
  bool allowed = false;
  REQUIRE(Authorize(*read.reader, "a", /*fully_consistent=*/true, &allowed).ok());
  CHECK(allowed);
  grpc::Status write_with_read = TenantRpcs()[0].call(read, "a");
  CHECK(write_with_read.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(write_with_read.error_message(), Catch::Contains("lacks the \"write\" scope"));
  Client write(*c, NewKey(*c, "a", {"write"}).key());
  CHECK(TenantRpcs()[0].call(write, "a").ok());
  Client admin(*c, NewKey(*c, "a", {"admin"}).key());
  CHECK(TenantRpcs()[1].call(admin, "a").ok());  // SetPolicy
  // A tenant key cannot hold cluster scopes, and no one gets a key of
  // another tenant.
  v1::CreateKeyRequest escalate;
  escalate.set_tenant("a");
  escalate.add_scopes("operator");
  v1::CreateKeyResponse ignored;
  grpc::ClientContext ctx;
  grpc::Status s = admin.log->CreateKey(Ctx(&ctx), escalate, &ignored);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::Contains("may hold only read,write,admin"));

  // Rotating a key that is not the tenant's is NOT_FOUND and writes nothing.
  auto head = [&] {
    v1::GetHeadResponse h;
    grpc::ClientContext h_ctx;
    REQUIRE(c->log().GetHead(Ctx(&h_ctx), v1::GetHeadRequest(), &h).ok());
    return h.head_offset();
  };
  const uint64_t before = head();
  v1::RotateKeyRequest rotate;
  rotate.set_tenant("b");
  rotate.set_key_id(read_key_id);
  v1::RotateKeyResponse rotated;
  grpc::ClientContext rotate_ctx;
  s = c->log().RotateKey(Ctx(&rotate_ctx), rotate, &rotated);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == absl::StrCat("no live key ", read_key_id, " of tenant \"b\""));
  CHECK(head() == before);
}

TEST_CASE("a revoked key is refused on two hosts within --max_staleness, even by a stopped writer's",
          "[integration][auth]") {
  auto c = StartWithTenants();
  Host second(c->dir() + "/second", c->log_port());
  REQUIRE(second.StartWriter().ok());
  REQUIRE(second.StartReader(0).ok());
  v1::CreateKeyResponse key = NewKey(*c, "a", {"read"});
  auto first_reader = v1::ReaderService::NewStub(LocalChannel(c->reader_port(0), key.key()));
  auto second_reader = v1::ReaderService::NewStub(LocalChannel(second.reader_port(0), key.key()));
  for (auto* r : {first_reader.get(), second_reader.get()}) {
    // Await: the second host may still be replaying.
    bool allowed = false;
    absl::Time until = absl::Now() + absl::Seconds(60);
    while (!(Authorize(*r, "a", true, &allowed).ok() && allowed) && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    REQUIRE(allowed);
  }

  // The second host's writer stops following the log; then the key is revoked.
  second.writer_process()->Signal(SIGSTOP);
  v1::RevokeKeyRequest revoke;
  revoke.set_tenant("a");
  revoke.set_key_id(key.info().key_id());
  v1::RevokeKeyResponse revoked;
  grpc::ClientContext ctx;
  REQUIRE(c->log().RevokeKey(Ctx(&ctx), revoke, &revoked).ok());
  const absl::Time at = absl::Now();
  const absl::Duration max_staleness = absl::Seconds(2);  // the readers' default
  const absl::Duration slack = absl::Milliseconds(500);

  // From at + max_staleness on, neither host answers with the key.
  bool first_refused = false, second_refused = false;
  int late_answers = 0;
  while (absl::Now() < at + max_staleness + absl::Seconds(3)) {
    const bool late = absl::Now() > at + max_staleness + slack;
    grpc::Status a = Authorize(*first_reader, "a");
    grpc::Status b = Authorize(*second_reader, "a");
    if (late && a.ok()) ++late_answers;
    if (late && b.ok()) ++late_answers;
    if (a.error_code() == grpc::StatusCode::UNAUTHENTICATED) first_refused = true;
    // The stopped writer's host cannot know of the revocation: it must go
    // stale (UNAVAILABLE), never keep accepting the key.
    if (!b.ok()) second_refused = true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  CHECK(late_answers == 0);
  CHECK(first_refused);
  CHECK(second_refused);
  // Resumed, the second host knows of the revocation too.
  second.writer_process()->Signal(SIGCONT);
  absl::Time until = absl::Now() + absl::Seconds(60);
  grpc::Status b;
  while (absl::Now() < until) {
    b = Authorize(*second_reader, "a");
    if (b.error_code() == grpc::StatusCode::UNAUTHENTICATED) break;
    CHECK_FALSE(b.ok());
    absl::SleepFor(absl::Milliseconds(50));
  }
  CHECK(b.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(b.error_message(), Catch::Contains(key.info().key_id()));
}

TEST_CASE("Subscribe ends when its key is revoked, and tenant keys cannot follow the log",
          "[integration][auth]") {
  auto c = Cluster::Start({.readers = 0, .start_writer = false});
  REQUIRE(c.ok());
  v1::CreateKeyResponse replicate = NewKey(**c, "", {"replicate"});
  auto log = v1::LogService::NewStub(LocalChannel((*c)->log_port(), replicate.key()));
  grpc::ClientContext sub_ctx;
  sub_ctx.set_deadline(DeadlineIn(absl::Seconds(60)));
  v1::SubscribeRequest from_start;
  from_start.set_from_offset(1);
  auto stream = log->Subscribe(&sub_ctx, from_start);
  v1::SubscribeResponse msg;
  REQUIRE(stream->Read(&msg));

  v1::RevokeKeyRequest revoke;
  revoke.set_key_id(replicate.info().key_id());
  v1::RevokeKeyResponse revoked;
  grpc::ClientContext ctx;
  REQUIRE((*c)->log().RevokeKey(Ctx(&ctx), revoke, &revoked).ok());
  const absl::Time at = absl::Now();
  while (stream->Read(&msg)) {
  }
  grpc::Status end = stream->Finish();
  CHECK(absl::Now() - at < absl::Seconds(10));
  CHECK(end.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(end.error_message(), Catch::Contains("was revoked"));

  // Nor can a writer with a tenant key replicate.
  REQUIRE((*c)->CreateTenant("t").ok());
  v1::CreateKeyResponse tenant_key = NewKey(**c, "t", {"read", "write", "admin"});
  auto tenant_log = v1::LogService::NewStub(LocalChannel((*c)->log_port(), tenant_key.key()));
  grpc::ClientContext t_ctx;
  t_ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
  auto refused = tenant_log->Subscribe(&t_ctx, from_start);
  CHECK_FALSE(refused->Read(&msg));
  CHECK(refused->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE("the bootstrap key file is honoured only while no key exists",
          "[integration][auth]") {
  auto c = Cluster::Start({.readers = 0, .start_writer = false});
  REQUIRE(c.ok());
  // A second operator, then the bootstrap key is revoked with it.
  v1::CreateKeyResponse op = NewKey(**c, "", {"operator"});
  auto log = v1::LogService::NewStub(LocalChannel((*c)->log_port(), op.key()));
  v1::RevokeKeyRequest revoke;
  revoke.set_key_id(kTestKeyId);
  v1::RevokeKeyResponse revoked;
  grpc::ClientContext ctx;
  REQUIRE(log->RevokeKey(Ctx(&ctx), revoke, &revoked).ok());

  // A restart with the same --bootstrap_key_file does not revive it.
  REQUIRE((*c)->StopLog().ok());
  REQUIRE((*c)->StartLog().ok());
  log = v1::LogService::NewStub(LocalChannel((*c)->log_port(), op.key()));
  v1::ListKeysResponse keys;
  grpc::ClientContext list_ctx;
  REQUIRE(log->ListKeys(Ctx(&list_ctx), v1::ListKeysRequest(), &keys).ok());
  REQUIRE(keys.keys_size() == 1);
  CHECK(keys.keys(0).key_id() == op.info().key_id());
  grpc::ClientContext head_ctx;
  v1::GetHeadResponse head;
  grpc::Status s = (*c)->log().GetHead(Ctx(&head_ctx), v1::GetHeadRequest(), &head);
  CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);

  // Nor once every key is revoked (the last one revokes itself).
  v1::RevokeKeyRequest last;
  last.set_key_id(op.info().key_id());
  grpc::ClientContext last_ctx;
  REQUIRE(log->RevokeKey(Ctx(&last_ctx), last, &revoked).ok());
  REQUIRE((*c)->StopLog().ok());
  REQUIRE((*c)->StartLog().ok());
  grpc::ClientContext again_ctx;
  s = (*c)->log().GetHead(Ctx(&again_ctx), v1::GetHeadRequest(), &head);
  CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT((*c)->log_process()->LogTail(), Catch::Contains("--bootstrap_key_file"));
}

TEST_CASE("with insecure_no_auth calls need no key", "[integration][auth]") {
  auto c = Cluster::Start({.readers = 1,
                           .log_flags = {"--insecure_no_auth"},
                           .writer_flags = {"--insecure_no_auth"},
                           .reader_flags = {"--insecure_no_auth"}});
  REQUIRE(c.ok());
  Client anyone(**c, "");
  v1::CreateTenantRequest create;
  create.set_tenant("open");
  v1::CreateTenantResponse created;
  grpc::ClientContext ctx;
  REQUIRE(anyone.log->CreateTenant(Ctx(&ctx), create, &created).ok());
  v1::GetStatusResponse status;
  grpc::ClientContext status_ctx;
  CHECK(anyone.writer->GetStatus(Ctx(&status_ctx), v1::GetStatusRequest(), &status).ok());
  CHECK_THAT((*c)->log_process()->LogTail(), Catch::Contains("authentication is off"));
}

}  // namespace
}  // namespace arbiter::testing
