// arbiter-reader against a real log and writer (tests/testing/cluster.h):
// read-your-writes and revocation, every RPC and its paging, bad input, fail
// closed when the writer stops, SIGTERM under load with zero client-visible
// failures, host drain through the writer's admin RPC, and the reference
// models' test blocks answered over gRPC equal the engine's in-process
// answers.

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/api/api.h"
#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/host/data_dir.h"
#include "common/polar/policy.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"

namespace arbiter::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string GithubPolicy() {
  return ReadFile(std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/github.polar");
}

void SetValue(v1::Value* v, const std::string& type, const std::string& id) {
  v->set_type(type);
  v->set_id(id);
}

v1::Fact MakeFact(const std::string& pred,
                  std::vector<std::pair<std::string, std::string>> args) {
  v1::Fact f;
  f.set_predicate(pred);
  for (auto& [t, i] : args) SetValue(f.add_args(), t, i);
  return f;
}

// Writes inserts and deletes in one batch; returns its consistency token.
std::string WriteBatch(Cluster& c, const std::string& tenant,
                       const std::vector<v1::Fact>& inserts,
                       const std::vector<v1::Fact>& deletes = {}) {
  v1::WriteRequest req;
  req.set_tenant(tenant);
  for (const auto& f : inserts) *req.add_operations()->mutable_insert() = f;
  for (const auto& f : deletes) {
    auto* p = req.add_operations()->mutable_delete_pattern();
    p->set_predicate(f.predicate());
    *p->mutable_args() = f.args();
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
  v1::WriteResponse resp;
  grpc::Status s = c.log().Write(&ctx, req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp.consistency_token();
}

v1::AuthorizeRequest AuthReq(const std::string& tenant, const std::string& user,
                             const std::string& action, const std::string& type,
                             const std::string& id) {
  v1::AuthorizeRequest r;
  r.set_tenant(tenant);
  SetValue(r.mutable_actor(), "User", user);
  r.set_action(action);
  SetValue(r.mutable_resource(), type, id);
  return r;
}

grpc::Status Authorize(Cluster& c, int reader, const v1::AuthorizeRequest& req,
                       v1::AuthorizeResponse* resp,
                       absl::Duration timeout = absl::Seconds(10)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(timeout));
  return c.reader(reader).Authorize(&ctx, req, resp);
}

std::unique_ptr<Cluster> StartCluster(std::vector<std::string> reader_flags = {}) {
  auto c = Cluster::Start({.readers = 2, .reader_flags = std::move(reader_flags)});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

void WaitServing(Cluster& c, int reader, Health want = Health::kServing,
                 absl::Duration timeout = absl::Seconds(30)) {
  auto ch = LocalChannel(c.reader_port(reader));
  absl::Status s = WaitForHealth(ch.get(), want, timeout);
  INFO("reader " << reader << ": " << s.ToString());
  REQUIRE(s.ok());
}

// A tenant with the GitHub-like policy, live on both readers.
uint64_t SetUpTenant(Cluster& c, const std::string& tenant) {
  REQUIRE(c.CreateTenant(tenant).ok());
  auto version = c.SetPolicy(tenant, GithubPolicy());
  INFO(version.status().ToString());
  REQUIRE(version.ok());
  REQUIRE(c.WaitForWriter(v1::REPLICATION_STATE_LIVE, *version).ok());
  WaitServing(c, 0);
  WaitServing(c, 1);
  return *version;
}

TEST_CASE("reads: read-your-writes, revocation, every RPC, paging, bad input",
          "[integration][reader]") {
  auto c = StartCluster();
  const uint64_t version = SetUpTenant(*c, "acme");

  // Write, then read it on either reader with at_least(token).
  std::string t1 = WriteBatch(
      *c, "acme",
      {MakeFact("has_role", {{"User", "alice"}, {"String", "admin"}, {"Organization", "acme"}}),
       MakeFact("has_relation",
                {{"Repository", "anvils"}, {"String", "parent"}, {"Organization", "acme"}})});
  auto t1_payload = api::DecodeConsistencyToken(t1);
  REQUIRE(t1_payload.ok());
  for (int reader : {0, 1}) {
    v1::AuthorizeRequest req = AuthReq("acme", "alice", "push", "Repository", "anvils");
    req.mutable_consistency()->set_at_least(t1);
    v1::AuthorizeResponse resp;
    grpc::Status s = Authorize(*c, reader, req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK(resp.allowed());
    CHECK(resp.evaluation().offset() >= t1_payload->offset());
    CHECK(resp.evaluation().policy_version() == version);
    CHECK(resp.evaluation().staleness_ms() <= 2000);
    auto token = api::DecodeConsistencyToken(resp.evaluation().consistency_token());
    REQUIRE(token.ok());
    CHECK(token->offset() == resp.evaluation().offset());
    CHECK(token->cluster_id() == t1_payload->cluster_id());
  }

  // Revoke: the next consistent read denies, on the other reader too.
  std::string t2 = WriteBatch(
      *c, "acme", {},
      {MakeFact("has_role", {{"User", "alice"}, {"String", "admin"}, {"Organization", "acme"}})});
  {
    v1::AuthorizeRequest req = AuthReq("acme", "alice", "push", "Repository", "anvils");
    req.mutable_consistency()->set_at_least(t2);
    v1::AuthorizeResponse resp;
    REQUIRE(Authorize(*c, 1, req, &resp).ok());
    CHECK_FALSE(resp.allowed());
  }
  // fully_consistent asks the log for its head first.
  {
    v1::AuthorizeRequest req = AuthReq("acme", "alice", "push", "Repository", "anvils");
    req.mutable_consistency()->set_fully_consistent(true);
    v1::AuthorizeResponse resp;
    grpc::Status s = Authorize(*c, 0, req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK_FALSE(resp.allowed());
    CHECK(resp.evaluation().offset() >= api::DecodeConsistencyToken(t2)->offset());
  }
  // Context facts are visible to one evaluation only.
  {
    v1::AuthorizeRequest req = AuthReq("acme", "dave", "read", "Repository", "x");
    *req.add_context_facts() = MakeFact("is_public", {{"Repository", "x"}});
    v1::AuthorizeResponse resp;
    REQUIRE(Authorize(*c, 0, req, &resp).ok());
    CHECK(resp.allowed());
    req.clear_context_facts();
    REQUIRE(Authorize(*c, 0, req, &resp).ok());
    CHECK_FALSE(resp.allowed());
  }

  // 25 public repositories: List pages through them, never truncated.
  std::vector<v1::Fact> pub;
  for (int i = 0; i < 25; ++i) {
    pub.push_back(MakeFact("is_public", {{"Repository", absl::StrCat("r", i < 10 ? "0" : "", i)}}));
  }
  pub.push_back(MakeFact("has_role", {{"User", "bob"}, {"String", "maintainer"}, {"Repository", "r03"}}));
  const std::string t3 = WriteBatch(*c, "acme", pub);
  {
    v1::ListRequest req;
    req.set_tenant("acme");
    SetValue(req.mutable_actor(), "User", "bob");
    req.set_action("read");
    req.set_resource_type("Repository");
    req.set_page_size(10);
    req.mutable_consistency()->set_at_least(t3);
    std::vector<std::string> ids;
    uint64_t first_offset = 0;
    int pages = 0;
    std::string first_token;
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
      v1::ListResponse resp;
      grpc::Status s = c->reader(pages % 2).List(&ctx, req, &resp);
      INFO(s.error_message());
      REQUIRE(s.ok());
      if (pages == 0) first_offset = resp.evaluation().offset();
      CHECK(resp.evaluation().offset() >= first_offset);
      ids.insert(ids.end(), resp.resource_ids().begin(), resp.resource_ids().end());
      ++pages;
      if (resp.next_page_token().empty()) break;
      if (first_token.empty()) first_token = resp.next_page_token();
      req.set_page_token(resp.next_page_token());
      REQUIRE(pages < 10);
    }
    CHECK(ids.size() == 25);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(pages == 3);
    // A page token from another query.
    v1::ListRequest other = req;
    other.set_action("push");
    other.set_page_token(first_token);
    grpc::ClientContext ctx;
    v1::ListResponse resp;
    grpc::Status s = c->reader(0).List(&ctx, other, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("page_token"));
  }
  // Actions, AuthorizeResources, Query, GetFacts (paged), Explain.
  {
    grpc::ClientContext ctx;
    v1::ActionsRequest req;
    req.set_tenant("acme");
    SetValue(req.mutable_actor(), "User", "bob");
    SetValue(req.mutable_resource(), "Repository", "r03");
    v1::ActionsResponse resp;
    REQUIRE(c->reader(0).Actions(&ctx, req, &resp).ok());
    CHECK(std::vector<std::string>(resp.actions().begin(), resp.actions().end()) ==
          std::vector<std::string>{"push", "read"});
  }
  {
    grpc::ClientContext ctx;
    v1::AuthorizeResourcesRequest req;
    req.set_tenant("acme");
    SetValue(req.mutable_actor(), "User", "bob");
    req.set_action("push");
    SetValue(req.add_resources(), "Repository", "r03");
    SetValue(req.add_resources(), "Repository", "r04");
    SetValue(req.add_resources(), "Repository", "r03");
    v1::AuthorizeResourcesResponse resp;
    REQUIRE(c->reader(1).AuthorizeResources(&ctx, req, &resp).ok());
    REQUIRE(resp.allowed_size() == 2);
    CHECK(resp.allowed(0).id() == "r03");
  }
  {
    v1::QueryRequest req;
    req.set_tenant("acme");
    req.set_predicate("is_public");
    req.add_args()->set_variable("r");
    req.set_page_size(20);
    std::vector<std::string> got;
    for (int page = 0; page < 3; ++page) {
      grpc::ClientContext ctx;
      v1::QueryResponse resp;
      grpc::Status s = c->reader(0).Query(&ctx, req, &resp);
      INFO(s.error_message());
      REQUIRE(s.ok());
      for (const auto& f : resp.results()) got.push_back(f.args(0).id());
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    CHECK(got.size() == 25);
    CHECK(std::set<std::string>(got.begin(), got.end()).size() == 25);
  }
  {
    v1::GetFactsRequest req;
    req.set_tenant("acme");
    req.mutable_pattern()->set_predicate("is_public");
    req.mutable_pattern()->add_args()->set_type("Repository");
    req.set_page_size(7);
    int n = 0, pages = 0;
    while (true) {
      grpc::ClientContext ctx;
      v1::GetFactsResponse resp;
      grpc::Status s = c->reader(pages % 2).GetFacts(&ctx, req, &resp);
      INFO(s.error_message());
      REQUIRE(s.ok());
      n += resp.facts_size();
      ++pages;
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
      REQUIRE(pages < 10);
    }
    CHECK(n == 25);
    CHECK(pages == 4);
  }
  {
    grpc::ClientContext ctx;
    v1::ExplainRequest req;
    req.set_tenant("acme");
    SetValue(req.mutable_actor(), "User", "bob");
    req.set_action("push");
    SetValue(req.mutable_resource(), "Repository", "r03");
    v1::ExplainResponse resp;
    REQUIRE(c->reader(0).Explain(&ctx, req, &resp).ok());
    CHECK(resp.allowed());
    CHECK_FALSE(resp.text().empty());
    CHECK(resp.root().holds());
    CHECK_FALSE(resp.truncated());
  }
  {
    // A deny over a reader with a budget of one goal: cut, and it says so.
    REQUIRE(c->StopReader(1).ok());
    REQUIRE(c->StartReader(1, {"--max_explain_nodes=1"}).ok());
    REQUIRE(WaitForHealth(c->Channel(c->reader_port(1)).get(), Health::kServing,
                          absl::Seconds(30))
                .ok());
    grpc::ClientContext ctx;
    v1::ExplainRequest req;
    req.set_tenant("acme");
    SetValue(req.mutable_actor(), "User", "nobody");
    req.set_action("push");
    SetValue(req.mutable_resource(), "Repository", "r03");
    v1::ExplainResponse resp;
    REQUIRE(c->reader(1).Explain(&ctx, req, &resp).ok());
    CHECK_FALSE(resp.allowed());
    CHECK(resp.truncated());
    CHECK_THAT(resp.text(), Catch::Contains("explanation cut at 1 nodes"));
  }

  // Bad input.
  auto expect = [&](v1::AuthorizeRequest req, grpc::StatusCode code,
                    const std::string& contains) {
    v1::AuthorizeResponse resp;
    grpc::Status s = Authorize(*c, 0, req, &resp);
    INFO(req.ShortDebugString() << " -> " << s.error_code() << " " << s.error_message());
    CHECK(s.error_code() == code);
    CHECK_THAT(s.error_message(), Catch::Contains(contains));
  };
  expect(AuthReq("nope", "alice", "read", "Repository", "x"),
         grpc::StatusCode::NOT_FOUND, "tenant \"nope\" not found on this host");
  expect(AuthReq("acme", "alice", "read", "", "x"), grpc::StatusCode::INVALID_ARGUMENT,
         "resource.type");
  expect(AuthReq("acme", "", "read", "Repository", "x"),
         grpc::StatusCode::INVALID_ARGUMENT, "actor.id");
  expect(AuthReq("acme", "alice", "", "Repository", "x"),
         grpc::StatusCode::INVALID_ARGUMENT, "action");
  expect(AuthReq("Bad Tenant", "alice", "read", "Repository", "x"),
         grpc::StatusCode::INVALID_ARGUMENT, "tenant");
  {
    v1::AuthorizeRequest req = AuthReq("acme", "alice", "read", "Repository", "x");
    req.clear_actor();
    expect(req, grpc::StatusCode::INVALID_ARGUMENT, "actor: required");
    req = AuthReq("acme", "alice", "read", "Repository", "x");
    *req.add_context_facts() = MakeFact("age", {{"User", "alice"}, {"Integer", "12x"}});
    expect(req, grpc::StatusCode::INVALID_ARGUMENT, "context_facts[0].args[1].id");
    req.clear_context_facts();
    req.mutable_consistency()->set_at_least("!!not a token");
    expect(req, grpc::StatusCode::INVALID_ARGUMENT, "consistency.at_least");
    req.mutable_consistency()->set_at_least(api::EncodeConsistencyToken("other-cluster", 1));
    expect(req, grpc::StatusCode::FAILED_PRECONDITION, "cluster");
    req.mutable_consistency()->set_at_least(
        api::EncodeConsistencyToken(t1_payload->cluster_id(), 1'000'000'000));
    expect(req, grpc::StatusCode::FAILED_PRECONDITION, "ahead");
  }
  {
    REQUIRE(c->CreateTenant("nopolicy").ok());
    v1::AuthorizeRequest req = AuthReq("nopolicy", "alice", "read", "Repository", "x");
    req.mutable_consistency()->set_fully_consistent(true);
    expect(req, grpc::StatusCode::FAILED_PRECONDITION, "no policy");
  }
  {
    grpc::ClientContext ctx;
    v1::ListRequest req;
    req.set_tenant("acme");
    SetValue(req.mutable_actor(), "User", "bob");
    req.set_action("read");
    req.set_resource_type("Repository");
    req.set_page_size(10001);
    v1::ListResponse resp;
    grpc::Status s = c->reader(0).List(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("page_size"));
  }
  {
    grpc::ClientContext ctx;
    v1::QueryRequest req;
    req.set_tenant("acme");
    req.set_predicate("is_public");
    req.add_args();
    v1::QueryResponse resp;
    grpc::Status s = c->reader(0).Query(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("args[0]"));
  }

  // A consistency wait that cannot complete (the writer is down) runs into
  // the RPC deadline: DEADLINE_EXCEEDED.
  REQUIRE(c->StopWriter(SIGKILL).ok());
  std::string t4 = WriteBatch(*c, "acme", {MakeFact("is_public", {{"Repository", "late"}})});
  {
    v1::AuthorizeRequest req = AuthReq("acme", "alice", "read", "Repository", "late");
    req.mutable_consistency()->set_at_least(t4);
    v1::AuthorizeResponse resp;
    grpc::Status s = Authorize(*c, 0, req, &resp, absl::Milliseconds(300));
    INFO(s.error_message());
    CHECK(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }
}

TEST_CASE("readers fail closed when the writer stops and come back by themselves",
          "[integration][reader]") {
  auto c = StartCluster({"--max_staleness=500ms"});
  SetUpTenant(*c, "acme");
  WriteBatch(*c, "acme",
             {MakeFact("is_public", {{"Repository", "anvils"}})});

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, refused{0}, too_stale{0}, other{0};
  std::thread load([&] {
    int i = 0;
    while (!stop.load()) {
      v1::AuthorizeResponse resp;
      grpc::Status s = Authorize(*c, i++ % 2,
                                 AuthReq("acme", "x", "read", "Repository", "anvils"),
                                 &resp, absl::Seconds(5));
      if (s.ok()) {
        ++ok;
        if (resp.evaluation().staleness_ms() > 500) ++too_stale;
      } else if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
        ++refused;
      } else {
        ++other;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  });

  absl::SleepFor(absl::Milliseconds(200));
  REQUIRE(c->StopWriter(SIGKILL).ok());
  const absl::Time stopped = absl::Now();
  WaitServing(*c, 0, Health::kNotServing, absl::Seconds(5));
  WaitServing(*c, 1, Health::kNotServing, absl::Seconds(5));
  CHECK(absl::Now() - stopped < absl::Seconds(5));
  for (int reader : {0, 1}) {
    v1::AuthorizeResponse resp;
    grpc::Status s = Authorize(*c, reader,
                               AuthReq("acme", "x", "read", "Repository", "anvils"), &resp);
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(s.error_message(), Catch::Contains("stale") || Catch::Contains("not live"));
  }
  REQUIRE(c->StartWriter().ok());
  WaitServing(*c, 0);
  WaitServing(*c, 1);
  {
    v1::AuthorizeResponse resp;
    REQUIRE(Authorize(*c, 0, AuthReq("acme", "x", "read", "Repository", "anvils"), &resp)
                .ok());
    CHECK(resp.allowed());
  }
  absl::SleepFor(absl::Milliseconds(100));
  stop = true;
  load.join();
  INFO("ok " << ok << " refused " << refused << " other " << other);
  CHECK(ok > 0);
  CHECK(refused > 0);
  CHECK(too_stale == 0);
  CHECK(other == 0);
}

TEST_CASE("SIGTERM one reader under load: zero failed RPCs", "[integration][reader]") {
  auto c = StartCluster();
  SetUpTenant(*c, "acme");
  const std::string token =
      WriteBatch(*c, "acme", {MakeFact("is_public", {{"Repository", "anvils"}})});
  for (int reader : {0, 1}) {  // both replicas hold the write before the load
    v1::AuthorizeRequest req = AuthReq("acme", "x", "read", "Repository", "anvils");
    req.mutable_consistency()->set_at_least(token);
    v1::AuthorizeResponse resp;
    REQUIRE(Authorize(*c, reader, req, &resp).ok());
    REQUIRE(resp.allowed());
  }
  const std::string reg0 =
      host::DataDir(c->host_data_dir()).ReadersDir() + "/reader-0.json";
  REQUIRE(std::filesystem::exists(reg0));

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, retried{0};
  absl::Mutex mu;
  std::vector<std::string> errors;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      int i = t;
      while (!stop.load()) {
        const int first = i++ % 2;
        bool done = false;
        for (int attempt = 0; attempt < 2 && !done; ++attempt) {
          v1::AuthorizeResponse resp;
          grpc::Status s = Authorize(
              *c, attempt == 0 ? first : 1 - first,
              AuthReq("acme", "x", "read", "Repository", "anvils"), &resp,
              absl::Seconds(5));
          if (s.ok() && resp.allowed()) {
            done = true;
          } else {
            if (attempt == 0) ++retried;
            absl::MutexLock l(&mu);
            if (errors.size() < 20) {
              errors.push_back(absl::StrCat(attempt, ": ", s.error_code(), " ",
                                            s.error_message()));
            }
          }
        }
        done ? ++ok : ++failed;
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(300));
  REQUIRE(c->StopReader(0, SIGTERM).ok());
  absl::SleepFor(absl::Milliseconds(300));
  stop = true;
  for (auto& t : clients) t.join();
  INFO("ok " << ok << " retried " << retried);
  INFO(absl::StrJoin(errors, "\n"));
  CHECK(failed == 0);
  CHECK(ok > 100);
  // A clean exit removes the registration file.
  CHECK_FALSE(std::filesystem::exists(reg0));
}

TEST_CASE("host drain through the writer's admin RPC ends with every reader DRAINED",
          "[integration][reader]") {
  auto c = StartCluster();
  SetUpTenant(*c, "acme");
  auto status = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    v1::GetStatusResponse resp;
    REQUIRE(c->writer_admin().GetStatus(&ctx, {}, &resp).ok());
    return resp;
  };
  // Both readers registered themselves.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (status().readers_size() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  REQUIRE(status().readers_size() == 2);
  {
    grpc::ClientContext ctx;
    v1::DrainResponse resp;
    REQUIRE(c->writer_admin().Drain(&ctx, {}, &resp).ok());
  }
  WaitServing(*c, 0, Health::kNotServing, absl::Seconds(5));
  deadline = absl::Now() + absl::Seconds(30);
  while (status().drain_state() != v1::DRAIN_STATE_DRAINED && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  v1::GetStatusResponse s = status();
  REQUIRE(s.drain_state() == v1::DRAIN_STATE_DRAINED);
  REQUIRE(s.readers_size() == 2);
  for (const auto& r : s.readers()) {
    CHECK(r.drain_state() == v1::DRAIN_STATE_DRAINED);
    CHECK(r.lease_remaining_ms() > 0);  // drained by its own file, not expired
  }
  {
    v1::AuthorizeResponse resp;
    grpc::Status st = Authorize(*c, 1, AuthReq("acme", "x", "read", "Repository", "a"), &resp);
    CHECK(st.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(st.error_message(), Catch::Contains("draining"));
  }
  // Undrain: serving again.
  {
    grpc::ClientContext ctx;
    v1::UndrainResponse resp;
    REQUIRE(c->writer_admin().Undrain(&ctx, {}, &resp).ok());
  }
  WaitServing(*c, 0);
  WaitServing(*c, 1);
}

// ---- the reference models over gRPC ----

std::optional<v1::QueryArgument> ToQueryArg(const polar::Term& t,
                                            const polar::TestAssertion& a) {
  v1::QueryArgument out;
  switch (t.kind) {
    case polar::Term::Kind::kConstant:
      api::ToProto(t.constant, out.mutable_value());
      return out;
    case polar::Term::Kind::kVariable: {
      const std::string& name = a.variable_names[t.variable];
      out.set_variable(name.rfind('_', 0) == 0 ? "_" : name);
      return out;
    }
    case polar::Term::Kind::kCurrentUnixTime:
      return std::nullopt;
  }
  return std::nullopt;
}

TEST_CASE("the reference models' test blocks over gRPC equal the engine in process",
          "[integration][reader]") {
  auto c = StartCluster();
  std::string last_token;
  struct Case {
    std::string tenant;
    std::shared_ptr<const eval::Engine> engine;
    std::shared_ptr<const eval::FactIndex> facts;
    const polar::PolicyTest* test;
  };
  std::vector<std::unique_ptr<polar::Program>> programs;
  std::vector<Case> cases;
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies")) {
    if (entry.path().extension() != ".polar") continue;
    const std::string source = ReadFile(entry.path());
    auto program = polar::CompilePolicy(source, entry.path().filename().string());
    INFO(entry.path() << ": " << program.status().ToString());
    REQUIRE(program.ok());
    auto engine = eval::Engine::Create(*program);
    REQUIRE(engine.ok());
    programs.push_back(std::make_unique<polar::Program>(std::move(*program)));
    for (const polar::PolicyTest& test : programs.back()->tests) {
      const std::string tenant = absl::StrCat("t", n++);
      REQUIRE(c->CreateTenant(tenant).ok());
      REQUIRE(c->SetPolicy(tenant, source).ok());
      auto facts = eval::FactIndex::Create(test.setup);
      REQUIRE(facts.ok());
      std::vector<v1::Fact> setup;
      for (const Fact& f : test.setup) setup.push_back(api::ToProto(f));
      if (!setup.empty()) last_token = WriteBatch(*c, tenant, setup);
      cases.push_back({tenant, *engine, *facts, &test});
    }
  }
  REQUIRE(!last_token.empty());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE).ok());
  WaitServing(*c, 0);
  WaitServing(*c, 1);

  int compared = 0, skipped = 0;
  for (const Case& k : cases) {
    for (const polar::TestAssertion& a : k.test->assertions) {
      INFO(k.tenant << " " << k.test->name << ": " << a.source);
      if (a.query.size() != 1 || a.query[0].kind != polar::Literal::Kind::kCall) {
        ++skipped;
        continue;
      }
      const polar::Literal& lit = a.query[0];
      v1::QueryRequest req;
      req.set_tenant(k.tenant);
      req.set_predicate(lit.predicate);
      req.mutable_consistency()->set_at_least(last_token);
      std::vector<eval::QueryArg> args;
      bool ok = true;
      for (const polar::Term& t : lit.args) {
        auto qa = ToQueryArg(t, a);
        if (!qa) { ok = false; break; }
        *req.add_args() = *qa;
        args.push_back(qa->has_value() ? eval::QueryArg::Bound(api::FromProto(qa->value()))
                                       : eval::QueryArg::Var(qa->variable()));
      }
      if (!ok) { ++skipped; continue; }
      req.set_page_size(10000);
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
      v1::QueryResponse resp;
      grpc::Status s = c->reader(compared % 2).Query(&ctx, req, &resp);
      INFO(s.error_message());
      REQUIRE(s.ok());
      auto want = k.engine->Query(*k.facts, lit.predicate, args);
      REQUIRE(want.ok());
      CHECK(static_cast<size_t>(resp.results_size()) == want->rows.size());
      const bool ground = std::all_of(args.begin(), args.end(),
                                      [](const eval::QueryArg& q) { return q.value.has_value(); });
      if (ground && a.kind != polar::TestAssertion::Kind::kIff) {
        CHECK((resp.results_size() > 0) == (a.kind == polar::TestAssertion::Kind::kAssert));
      }
      // allow(actor, action, resource), ground: Authorize too.
      if (ground && lit.predicate == "allow" && args.size() == 3 &&
          args[1].value->type == kStringType) {
        v1::AuthorizeRequest ar;
        ar.set_tenant(k.tenant);
        api::ToProto(*args[0].value, ar.mutable_actor());
        ar.set_action(args[1].value->id);
        api::ToProto(*args[2].value, ar.mutable_resource());
        v1::AuthorizeResponse aresp;
        REQUIRE(Authorize(*c, (compared + 1) % 2, ar, &aresp).ok());
        auto in_process = k.engine->Authorize(*k.facts, *args[0].value, *args[1].value,
                                              *args[2].value);
        REQUIRE(in_process.ok());
        CHECK(aresp.allowed() == *in_process);
      }
      ++compared;
    }
  }
  INFO("compared " << compared << ", skipped " << skipped);
  CHECK(compared >= 20);
}

}  // namespace
}  // namespace arbiter::testing
