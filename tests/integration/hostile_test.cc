// Hostile policies against real processes (issue #11 items 1-3 and 8): a
// policy whose conditions nest deeper than any stack, one whose `in` lists
// multiply to 10^10 candidates, SetPolicy tests that would run for hours,
// and failure lists longer than a header. The log, the reader and the other
// tenants keep working; every call ends with a clear error in bounded time.

#include <signal.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/hostile_policies.h"

namespace arbiter::testing {
namespace {

grpc::Status SetPolicy(Cluster& c, const std::string& tenant, const std::string& source,
                       absl::Duration timeout = absl::Seconds(60),
                       std::string* token = nullptr) {
  v1::SetPolicyRequest req;
  req.set_tenant(tenant);
  req.set_source(source);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(timeout));
  v1::SetPolicyResponse resp;
  grpc::Status s = c.log().SetPolicy(&ctx, req, &resp);
  if (token != nullptr) *token = resp.consistency_token();
  return s;
}

grpc::Status Authorize(Cluster& c, int reader, const std::string& tenant,
                       absl::Duration timeout = absl::Seconds(10),
                       const std::string& token = "") {
  v1::AuthorizeRequest req;
  req.set_tenant(tenant);
  if (!token.empty()) req.mutable_consistency()->set_at_least(token);
  req.mutable_actor()->set_type("User");
  req.mutable_actor()->set_id("alice");
  req.set_action("a");
  req.mutable_resource()->set_type("Doc");
  req.mutable_resource()->set_id("d");
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(timeout));
  v1::AuthorizeResponse resp;
  return c.reader(reader).Authorize(&ctx, req, &resp);
}

v1::WriteRequest OneFact(const std::string& tenant, int i) {
  v1::WriteRequest w;
  w.set_tenant(tenant);
  auto* f = w.add_operations()->mutable_insert();
  f->set_predicate("is_public");
  f->add_args()->set_type("Doc");
  f->mutable_args(0)->set_id(absl::StrCat("d", i));
  return w;
}

constexpr char kPlainPolicy[] =
    "allow(_actor, _action, resource) if is_public(resource);\n"
    "declare is_public(Doc);\n";

TEST_CASE("hostile policies: the log and readers stay up and answer with the limit",
          "[integration][hostile]") {
  auto c = Cluster::Start({.readers = 2, .reader_flags = {"--drain_grace=1s"}});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  Cluster& cl = **c;
  for (const char* t : {"acme", "deep", "wide"}) REQUIRE(cl.CreateTenant(t).ok());
  REQUIRE(cl.SetPolicy("acme", kPlainPolicy).ok());

  SECTION("SetPolicy's tests: too deep and too wide are refused with the limit") {
    grpc::Status deep = SetPolicy(cl, "deep", ChainPolicy(300, 60, kAllowTest));
    CHECK(deep.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(deep.error_message(), Catch::Contains("stack limit of 4096 KiB"));
    grpc::Status wide = SetPolicy(cl, "wide", InProductPolicy(kAllowTest));
    CHECK(wide.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(wide.error_message(), Catch::Contains("step budget of 1000000"));
    // Failing tests past a header's size: the right code, a cut message.
    std::string many;
    for (int i = 0; i < 60; ++i) {
      absl::StrAppend(&many, "test \"t", i, "\" {\n  assert allow(User{\"", std::string(300, 'u'),
                      "\"}, \"a\", Doc{\"d\"});\n}\n");
    }
    grpc::Status listed = SetPolicy(cl, "acme", std::string(kPlainPolicy) + many);
    CHECK(listed.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(listed.error_message(), Catch::Contains("test \"t0\" failed"));
    CHECK_THAT(listed.error_message(), Catch::Contains("(message cut: "));
  }

  SECTION("the reader answers RESOURCE_EXHAUSTED and keeps serving other tenants") {
    // Installed without tests: only the reader's limits stand in the way.
    std::string deep_token, wide_token;
    REQUIRE(SetPolicy(cl, "deep", ChainPolicy(300, 60), absl::Seconds(60), &deep_token).ok());
    REQUIRE(SetPolicy(cl, "wide", InProductPolicy(), absl::Seconds(60), &wide_token).ok());
    REQUIRE(WaitForHealth(LocalChannel(cl.reader_port(0)).get(), Health::kServing,
                          absl::Seconds(30))
                .ok());
    for (int i = 0; i < 3; ++i) {
      grpc::Status d = Authorize(cl, 0, "deep", absl::Seconds(10), deep_token);
      CHECK(d.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
      CHECK_THAT(d.error_message(), Catch::Contains("stack limit"));
      grpc::Status w = Authorize(cl, 0, "wide", absl::Seconds(10), wide_token);
      CHECK(w.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
      CHECK_THAT(w.error_message(), Catch::Contains("step budget"));
      CHECK(Authorize(cl, 0, "acme").ok());
    }
  }
}

TEST_CASE("evaluations stop at the deadline, on cancellation, and within a drain",
          "[integration][hostile]") {
  // Budgets no evaluation reaches: only time bounds the work.
  auto c = Cluster::Start({.readers = 1,
                           .log_flags = {"--max_eval_steps=1000000000000",
                                         "--policy_test_timeout=2s"},
                           .reader_flags = {"--max_eval_steps=1000000000000",
                                            "--drain_grace=1s", "--workers=2"}});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  Cluster& cl = **c;
  for (const char* t : {"acme", "wide"}) REQUIRE(cl.CreateTenant(t).ok());
  REQUIRE(cl.SetPolicy("acme", kPlainPolicy).ok());

  // Three SetPolicy calls whose tests would run for hours: each stops at
  // --policy_test_timeout, and writes to another tenant go on meanwhile.
  std::vector<std::thread> policies;
  std::atomic<int> deadline_exceeded{0};
  for (int i = 0; i < 3; ++i) {
    policies.emplace_back([&] {
      grpc::Status s = SetPolicy(cl, "wide", InProductPolicy(kAllowTest));
      if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
          s.error_message().find("--policy_test_timeout") != std::string::npos) {
        ++deadline_exceeded;
      }
    });
  }
  absl::Duration slowest;
  for (int i = 0; i < 20; ++i) {
    const absl::Time start = absl::Now();
    REQUIRE(cl.Write(OneFact("acme", i)).ok());
    slowest = std::max(slowest, absl::Now() - start);
  }
  for (auto& t : policies) t.join();
  CHECK(deadline_exceeded == 3);
  CHECK(slowest < absl::Seconds(1));  // was: blocked behind the tests

  std::string token;
  REQUIRE(SetPolicy(cl, "wide", InProductPolicy(), absl::Seconds(60), &token).ok());
  REQUIRE(WaitForHealth(LocalChannel(cl.reader_port(0)).get(), Health::kServing,
                        absl::Seconds(30))
              .ok());
  // The reader holds the policy before the slow calls start.
  grpc::Status first = Authorize(cl, 0, "wide", absl::Milliseconds(300), token);
  CHECK(first.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  // More slow calls than the reader has threads, each stopped by its
  // deadline; then the reader answers other tenants at once.
  std::vector<std::thread> slow;
  std::atomic<int> stopped{0};
  for (int i = 0; i < 6; ++i) {
    slow.emplace_back([&] {
      grpc::Status s = Authorize(cl, 0, "wide", absl::Milliseconds(300));
      if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) ++stopped;
    });
  }
  for (auto& t : slow) t.join();
  CHECK(stopped == 6);
  const absl::Time start = absl::Now();
  CHECK(Authorize(cl, 0, "acme", absl::Seconds(5)).ok());
  CHECK(absl::Now() - start < absl::Seconds(2));

  // SIGTERM while evaluations with no deadline of their own run: the drain
  // cancels them and the reader exits in bounded time.
  std::vector<std::thread> hung;
  for (int i = 0; i < 4; ++i) {
    hung.emplace_back([&] { Authorize(cl, 0, "wide", absl::Seconds(120)); });
  }
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time term = absl::Now();
  REQUIRE(cl.StopReader(0, SIGTERM).ok());
  CHECK(absl::Now() - term < absl::Seconds(20));
  for (auto& t : hung) t.join();
}

// Sends raw bytes as a request to `method` and waits for the status.
grpc::Status RawCall(int port, const std::string& method, const std::string& bytes) {
  grpc::GenericStub stub(LocalChannel(port));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
  absl::Notification done;
  grpc::Status out;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   out = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return out;
}

TEST_CASE("invalid UTF-8 is INVALID_ARGUMENT naming the field, and pages are cut by bytes",
          "[integration][hostile]") {
  auto c = Cluster::Start({.readers = 1});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  Cluster& cl = **c;
  REQUIRE(cl.CreateTenant("acme").ok());
  std::string token;
  REQUIRE(SetPolicy(cl, "acme", std::string(kPlainPolicy) + "declare big(Doc, Doc, Doc);\n",
                    absl::Seconds(60), &token)
              .ok());

  // A tenant name and an actor id with a byte that is never UTF-8.
  v1::CreateTenantRequest create;
  create.set_tenant("bad#name");
  std::string wire = create.SerializeAsString();
  wire[wire.find('#')] = '\xff';
  grpc::Status log = RawCall(cl.log_port(), "/arbiter.v1.LogService/CreateTenant", wire);
  CHECK(log.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(log.error_message(), Catch::Contains("field tenant (arbiter.v1.CreateTenantRequest"
                                                  ".tenant) is not valid UTF-8 (byte 4 of 8)"));
  v1::AuthorizeRequest auth;
  auth.set_tenant("acme");
  auth.mutable_actor()->set_type("User");
  auth.mutable_actor()->set_id("al#ce");
  wire = auth.SerializeAsString();
  wire[wire.find('#')] = '\x80';
  REQUIRE(WaitForHealth(LocalChannel(cl.reader_port(0)).get(), Health::kServing,
                        absl::Seconds(30))
              .ok());
  grpc::Status reader = RawCall(cl.reader_port(0), "/arbiter.v1.ReaderService/Authorize", wire);
  CHECK(reader.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(reader.error_message(), Catch::Contains("field actor.id (arbiter.v1.Value.id)"));

  // 1,400 facts of about 3 KB: a page of 10,000 would be 4.2 MB.
  for (int batch = 0; batch < 2; ++batch) {
    v1::WriteRequest w;
    w.set_tenant("acme");
    for (int i = 0; i < 700; ++i) {
      auto* f = w.add_operations()->mutable_insert();
      f->set_predicate("big");
      for (int a = 0; a < 3; ++a) {
        auto* v = f->add_args();
        v->set_type("Doc");
        v->set_id(absl::StrCat(batch, "-", i, "-", a, "-", std::string(990, 'x')));
      }
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
    v1::WriteResponse resp;
    grpc::Status s = cl.log().Write(&ctx, w, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    token = resp.consistency_token();
  }
  std::string page_token;
  int facts = 0, pages = 0;
  do {
    v1::GetFactsRequest req;
    req.set_tenant("acme");
    req.mutable_pattern()->set_predicate("big");
    for (int a = 0; a < 3; ++a) req.mutable_pattern()->add_args();  // wildcards
    req.set_page_size(10000);
    req.set_page_token(page_token);
    req.mutable_consistency()->set_at_least(token);
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
    v1::GetFactsResponse resp;
    grpc::Status s = cl.reader(0).GetFacts(&ctx, req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK(resp.ByteSizeLong() < (size_t{1} << 20) + 64 * 1024);
    facts += resp.facts_size();
    page_token = resp.next_page_token();
    REQUIRE(++pages < 20);
  } while (!page_token.empty());
  CHECK(facts == 1400);
  CHECK(pages >= 4);
}

}  // namespace
}  // namespace arbiter::testing
