#include "common/eval/engine.h"

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"

#include "common/eval/fact_index.h"
#include "common/eval/overlay_fact_source.h"
#include "tests/unit/eval/test_programs.h"

namespace arbiter::eval {
namespace {

using namespace testing;  // NOLINT
using polar::CompareOp;

std::shared_ptr<const Engine> MakeEngine(polar::Program p, EngineOptions o = {}) {
  auto e = Engine::Create(std::move(p), o);
  REQUIRE(e.ok());
  return *e;
}

std::shared_ptr<const FactIndex> MakeFacts(std::vector<Fact> facts) {
  auto f = FactIndex::Create(std::move(facts));
  REQUIRE(f.ok());
  return *f;
}

// Forwards Scan only: forces the engine onto the plain FactSource path.
class ScanOnly final : public FactSource {
 public:
  explicit ScanOnly(const FactSource* base) : base_(base) {}
  absl::Status Scan(std::string_view p, Pattern pat,
                    absl::FunctionRef<bool(std::span<const Value>)> fn) const override {
    return base_->Scan(p, pat, fn);
  }

 private:
  const FactSource* base_;
};

bool Allowed(const Engine& e, const FactSource& f, const Value& a, const std::string& x,
             const Value& r, const QueryOptions& q = {}) {
  auto res = e.Authorize(f, a, Str(x), r, q);
  REQUIRE(res.ok());
  // Both paths agree on every decision made in these tests.
  QueryOptions slow = q;
  slow.use_fast_path = false;
  auto res2 = e.Authorize(f, a, Str(x), r, slow);
  REQUIRE(res2.ok());
  CHECK(*res == *res2);
  return *res;
}

const Value alice = Ent("User", "alice");
const Value bob = Ent("User", "bob");
const Value carol = Ent("User", "carol");
const Value acme = Ent("Organization", "acme");
const Value anvils = Ent("Repository", "anvils");
const Value rockets = Ent("Repository", "rockets");

std::vector<Fact> GithubFacts() {
  return {
      {"has_role", {alice, Str("admin"), acme}},
      {"has_relation", {anvils, Str("parent"), acme}},
      {"has_relation", {rockets, Str("parent"), acme}},
      {"has_role", {bob, Str("reader"), anvils}},
      {"has_group", {carol, Ent("Group", "eng")}},
      {"has_role", {Ent("Group", "eng"), Str("maintainer"), rockets}},
      {"is_public", {Ent("Repository", "open")}},
  };
}

TEST_CASE("github model: hand-written allow and deny", "[unit][eval]") {
  auto e = MakeEngine(GithubProgram());
  auto f = MakeFacts(GithubFacts());
  CHECK(Allowed(*e, *f, alice, "push", anvils));       // admin on parent org
  CHECK(Allowed(*e, *f, alice, "read", rockets));
  CHECK(Allowed(*e, *f, alice, "add_member", acme));
  CHECK(Allowed(*e, *f, bob, "read", anvils));
  CHECK_FALSE(Allowed(*e, *f, bob, "push", anvils));
  CHECK_FALSE(Allowed(*e, *f, bob, "read", rockets));
  CHECK(Allowed(*e, *f, carol, "push", rockets));       // through the group
  CHECK(Allowed(*e, *f, carol, "read", rockets));
  CHECK_FALSE(Allowed(*e, *f, carol, "push", anvils));
  CHECK(Allowed(*e, *f, Ent("User", "nobody"), "read", Ent("Repository", "open")));
  CHECK_FALSE(Allowed(*e, *f, Ent("User", "nobody"), "push", Ent("Repository", "open")));
  CHECK_FALSE(Allowed(*e, *f, Ent("Group", "eng"), "push", rockets));  // not a User
  CHECK_FALSE(Allowed(*e, *f, alice, "fly", anvils));
}

TEST_CASE("github model: global role grants on every organization", "[unit][eval]") {
  auto e = MakeEngine(GithubProgram());
  auto facts = GithubFacts();
  facts.push_back({"has_role", {Ent("User", "root"), Str("superadmin")}});
  auto f = MakeFacts(facts);
  CHECK(Allowed(*e, *f, Ent("User", "root"), "push", anvils));
  CHECK(Allowed(*e, *f, Ent("User", "root"), "add_member", Ent("Organization", "other")));
  auto list = e->List(*f, Ent("User", "root"), Str("read"), "Organization", "", 0);
  REQUIRE(list.ok());
  CHECK(list->ids == std::vector<std::string>{"acme"});
  auto q = e->Query(*f, "has_role",
                    std::vector<QueryArg>{QueryArg::Bound(Ent("User", "root")),
                                          QueryArg::Bound(Str("admin")), QueryArg::Var("o")});
  REQUIRE(q.ok());
  REQUIRE(q->rows.size() == 1);
  CHECK_FALSE(q->rows[0][0].has_value());  // any organization
}

TEST_CASE("list, actions and authorize_resources agree", "[unit][eval]") {
  auto e = MakeEngine(GithubProgram());
  auto f = MakeFacts(GithubFacts());
  auto list = e->List(*f, alice, Str("push"), "Repository", "", 0);
  REQUIRE(list.ok());
  CHECK(list->ids == std::vector<std::string>{"anvils", "rockets"});
  CHECK(list->next_cursor.empty());
  auto page = e->List(*f, alice, Str("push"), "Repository", "", 1);
  REQUIRE(page.ok());
  CHECK(page->ids == std::vector<std::string>{"anvils"});
  CHECK(page->next_cursor == "anvils");
  auto page2 = e->List(*f, alice, Str("push"), "Repository", page->next_cursor, 1);
  REQUIRE(page2.ok());
  CHECK(page2->ids == std::vector<std::string>{"rockets"});
  auto actions = e->Actions(*f, alice, anvils);
  REQUIRE(actions.ok());
  CHECK(actions->actions == std::vector<std::string>{"push", "read"});
  CHECK_FALSE(actions->any_action);
  auto actions_org = e->Actions(*f, alice, acme);
  REQUIRE(actions_org.ok());
  CHECK(actions_org->actions == std::vector<std::string>{"add_member", "read"});
  std::vector<Value> rs = {anvils, rockets, Ent("Repository", "open"), Ent("Repository", "x")};
  auto batch = e->AuthorizeResources(*f, bob, Str("read"), rs);
  REQUIRE(batch.ok());
  CHECK(*batch == std::vector<bool>{true, false, true, false});
}

TEST_CASE("query returns all bindings", "[unit][eval]") {
  auto e = MakeEngine(GithubProgram());
  auto f = MakeFacts(GithubFacts());
  std::vector<QueryArg> args = {QueryArg::Var("who"), QueryArg::Bound(Str("read")),
                                QueryArg::Bound(rockets)};
  auto q = e->Query(*f, "allow", args);
  REQUIRE(q.ok());
  REQUIRE(q->variables == std::vector<std::string>{"who"});
  std::vector<Value> who;
  for (const auto& row : q->rows) {
    REQUIRE(row[0].has_value());
    who.push_back(*row[0]);
  }
  CHECK(who == std::vector<Value>{alice, carol});
  // Facts-only predicate unknown to the policy.
  auto q2 = e->Query(*f, "is_public", std::vector<QueryArg>{QueryArg::Var("r")});
  REQUIRE(q2.ok());
  CHECK(q2->rows.size() == 1);
  auto q3 = e->Query(*f, "nothing", std::vector<QueryArg>{QueryArg::Var("r")});
  REQUIRE(q3.ok());
  CHECK(q3->rows.empty());
}

TEST_CASE("cyclic folders terminate with every answer", "[unit][eval]") {
  auto e = MakeEngine(FolderProgram());
  auto f1 = Ent("Folder", "f1"), f2 = Ent("Folder", "f2"), f3 = Ent("Folder", "f3"),
       f4 = Ent("Folder", "f4");
  auto f = MakeFacts({
      {"has_relation", {f1, Str("parent"), f2}},
      {"has_relation", {f2, Str("parent"), f3}},
      {"has_relation", {f3, Str("parent"), f1}},  // the cycle
      {"has_relation", {f4, Str("parent"), f1}},
      {"has_role", {alice, Str("viewer"), f3}},
      {"has_role", {bob, Str("editor"), f2}},
  });
  for (const Value& folder : {f1, f2, f3, f4}) {
    CHECK(Allowed(*e, *f, alice, "view", folder));
    CHECK_FALSE(Allowed(*e, *f, alice, "edit", folder));
    CHECK(Allowed(*e, *f, bob, "edit", folder));
    CHECK(Allowed(*e, *f, bob, "view", folder));
    CHECK_FALSE(Allowed(*e, *f, carol, "view", folder));
  }
  auto list = e->List(*f, alice, Str("view"), "Folder", "", 0);
  REQUIRE(list.ok());
  CHECK(list->ids == std::vector<std::string>{"f1", "f2", "f3", "f4"});
  auto q = e->Query(*f, "has_role",
                    std::vector<QueryArg>{QueryArg::Var("u"), QueryArg::Var("role"),
                                          QueryArg::Bound(f4)});
  REQUIRE(q.ok());
  CHECK(q->rows.size() == 3);  // alice viewer, bob editor, bob viewer
}

TEST_CASE("step budget: a pathological policy is RESOURCE_EXHAUSTED", "[unit][eval]") {
  ProgramBuilder b;
  b.Rule("allow", {V("a"), V("x"), V("r")},
         {Call("n", {V("i")}), Call("n", {V("j")}), Call("n", {V("k")}), Call("n", {V("l")}),
          Call("never", {V("l")})});
  auto e = MakeEngine(b.Build());
  std::vector<Fact> facts;
  for (int i = 0; i < 100; ++i) facts.push_back({"n", {Int(i)}});
  auto f = MakeFacts(facts);
  auto r = e->Authorize(*f, alice, Str("read"), anvils);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(r.status().message()).find("step budget of 1000000 steps") !=
        std::string::npos);
  QueryOptions small;
  small.step_budget = 50;
  auto r2 = e->Authorize(*f, alice, Str("read"), anvils, small);
  CHECK(r2.status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("depth limit: a long chain is RESOURCE_EXHAUSTED, not a crash", "[unit][eval]") {
  auto e = MakeEngine(FolderProgram(), EngineOptions{.step_budget = 10'000'000, .max_depth = 200});
  std::vector<Fact> facts;
  for (int i = 0; i < 500; ++i) {
    facts.push_back({"has_relation", {Ent("Folder", std::to_string(i)), Str("parent"),
                                      Ent("Folder", std::to_string(i + 1))}});
  }
  facts.push_back({"has_role", {alice, Str("viewer"), Ent("Folder", "500")}});
  auto f = MakeFacts(facts);
  auto r = e->Authorize(*f, alice, Str("view"), Ent("Folder", "0"));
  CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
  auto near = e->Authorize(*f, alice, Str("view"), Ent("Folder", "460"));
  REQUIRE(near.ok());
  CHECK(*near);
}

TEST_CASE("default depth limit fits a thread's stack", "[unit][eval]") {
  // ~2 levels of depth per folder: 450 folders come close to the default 1000.
  auto e = MakeEngine(FolderProgram());
  std::vector<Fact> facts;
  for (int i = 0; i < 450; ++i) {
    facts.push_back({"has_relation", {Ent("Folder", std::to_string(i)), Str("parent"),
                                      Ent("Folder", std::to_string(i + 1))}});
  }
  facts.push_back({"has_role", {alice, Str("viewer"), Ent("Folder", "450")}});
  auto f = MakeFacts(facts);
  absl::StatusOr<bool> near = false, deny = false;
  std::thread t([&] {  // a default-sized thread stack, as a server's workers have
    near = e->Authorize(*f, alice, Str("view"), Ent("Folder", "0"));
    deny = e->Authorize(*f, bob, Str("view"), Ent("Folder", "0"));
  });
  t.join();
  REQUIRE(near.ok());
  CHECK(*near);
  REQUIRE(deny.ok());
  CHECK_FALSE(*deny);
}

TEST_CASE("context facts are visible to one evaluation only", "[unit][eval]") {
  auto e = MakeEngine(GithubProgram());
  auto f = MakeFacts(GithubFacts());
  std::vector<Fact> ctx = {{"has_role", {bob, Str("maintainer"), anvils}},
                           {"has_role", {Ent("User", "dave"), Str("member"), acme}}};
  QueryOptions q;
  q.context = ctx;
  CHECK(Allowed(*e, *f, bob, "push", anvils, q));
  CHECK_FALSE(Allowed(*e, *f, bob, "push", anvils));
  CHECK(Allowed(*e, *f, Ent("User", "dave"), "read", rockets, q));
  CHECK_FALSE(Allowed(*e, *f, Ent("User", "dave"), "read", rockets));
  auto list = e->List(*f, Ent("User", "dave"), Str("read"), "Repository", "", 0, q);
  REQUIRE(list.ok());
  CHECK(list->ids == std::vector<std::string>{"anvils", "open", "rockets"});
  // An OverlayFactSource over a FactIndex gives the same answers.
  OverlayFactSource overlay(f.get(), ctx);
  CHECK(Allowed(*e, overlay, bob, "push", anvils));
  ScanOnly scan_only(&overlay);
  CHECK(Allowed(*e, scan_only, bob, "push", anvils));
}

TEST_CASE("comparisons, in, not, unify and time", "[unit][eval]") {
  ProgramBuilder b;
  b.Rule("allow", {V("a"), "read", V("r")},
         {Call("age", {V("a"), V("n")}), Cmp(V("n"), CompareOp::kGe, Int(18)),
          Not("banned", {V("a")})});
  b.Rule("allow", {V("a"), "write", V("r")},
         {Call("expires", {V("a"), V("t")}), Cmp(Now(), CompareOp::kLt, V("t"))});
  b.Rule("allow", {V("a"), "tag", V("r")},
         {Call("tag", {V("r"), V("t")}), In(V("t"), {"red", "green"}), Unify(V("a"), V("a2")),
          Call("likes", {V("a2"), V("t")})});
  b.Rule("allow", {V("a"), "cmp", V("r")},
         {Call("name", {V("a"), V("s")}), Cmp(V("s"), CompareOp::kLt, "m"),
          Cmp(V("s"), CompareOp::kNe, "alice")});
  b.Rule("allow", {V("a"), "mixed", V("r")},
         {Call("age", {V("a"), V("n")}), Cmp(V("n"), CompareOp::kLt, "zzz")});  // Integer vs String
  auto e = MakeEngine(b.Build());
  auto f = MakeFacts({
      {"age", {alice, Int(30)}}, {"age", {bob, Int(9)}}, {"age", {carol, Int(100)}},
      {"banned", {carol}},
      {"expires", {alice, Int(1000)}},
      {"tag", {anvils, Str("red")}}, {"tag", {rockets, Str("blue")}},
      {"likes", {bob, Str("red")}}, {"likes", {bob, Str("blue")}},
      {"name", {alice, Str("alice")}}, {"name", {bob, Str("bob")}}, {"name", {carol, Str("zed")}},
  });
  CHECK(Allowed(*e, *f, alice, "read", anvils));
  CHECK_FALSE(Allowed(*e, *f, bob, "read", anvils));   // 9 < 18 numerically ("9" > "18" as text)
  CHECK_FALSE(Allowed(*e, *f, carol, "read", anvils));  // banned
  QueryOptions early, late;
  early.now_unix_seconds = 999;
  late.now_unix_seconds = 1000;
  CHECK(Allowed(*e, *f, alice, "write", anvils, early));
  CHECK_FALSE(Allowed(*e, *f, alice, "write", anvils, late));
  CHECK(Allowed(*e, *f, bob, "tag", anvils));
  CHECK_FALSE(Allowed(*e, *f, bob, "tag", rockets));  // blue is not in the list
  CHECK(Allowed(*e, *f, bob, "cmp", anvils));
  CHECK_FALSE(Allowed(*e, *f, alice, "cmp", anvils));
  CHECK_FALSE(Allowed(*e, *f, carol, "cmp", anvils));
  CHECK_FALSE(Allowed(*e, *f, alice, "mixed", anvils));
}

TEST_CASE("negation through recursion is an error, never an allow", "[unit][eval]") {
  ProgramBuilder b;
  b.Rule("allow", {V("a"), V("x"), V("r")}, {Call("p", {V("r")})});
  b.Rule("p", {V("r")}, {Call("item", {V("r")}), Not("q", {V("r")})});
  b.Rule("q", {V("r")}, {Call("p", {V("r")})});
  auto e = MakeEngine(b.Build());
  auto f = MakeFacts({{"item", {anvils}}});
  auto r = e->Authorize(*f, alice, Str("read"), anvils);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("explain shows the proof of an allow and the gaps of a deny", "[unit][eval]") {
  auto e = MakeEngine(GithubProgram());
  auto f = MakeFacts(GithubFacts());
  auto ex = e->Explain(*f, alice, Str("push"), anvils);
  REQUIRE(ex.ok());
  CHECK(ex->allowed);
  INFO(ex->text);
  CHECK(ex->text.find("ALLOW") == 0);
  CHECK(ex->text.find("\"maintainer\" if \"admin\" on \"parent\"") != std::string::npos);
  CHECK(ex->text.find("by fact has_role(User:alice, \"admin\", Organization:acme)") !=
        std::string::npos);
  CHECK(ex->text.find("by fact has_relation(Repository:anvils, \"parent\", Organization:acme)") !=
        std::string::npos);
  CHECK(ex->proof.kind == ProofNode::Kind::kRule);

  auto deny = e->Explain(*f, bob, Str("push"), anvils);
  REQUIRE(deny.ok());
  CHECK_FALSE(deny->allowed);
  INFO(deny->text);
  CHECK(deny->text.find("DENY") == 0);
  CHECK(deny->text.find("has_role(User:bob, \"maintainer\", Repository:anvils)") !=
        std::string::npos);
  CHECK(deny->text.find("no fact has_role(User:bob, \"maintainer\", Repository:anvils)") !=
        std::string::npos);
}

TEST_CASE("explain over cyclic data finds a well-founded proof", "[unit][eval]") {
  auto e = MakeEngine(FolderProgram());
  auto f1 = Ent("Folder", "f1"), f2 = Ent("Folder", "f2");
  auto f = MakeFacts({{"has_relation", {f1, Str("parent"), f2}},
                      {"has_relation", {f2, Str("parent"), f1}},
                      {"has_role", {alice, Str("viewer"), f2}}});
  auto ex = e->Explain(*f, alice, Str("view"), f1);
  REQUIRE(ex.ok());
  CHECK(ex->allowed);
  CHECK(ex->text.find("by fact has_role(User:alice, \"viewer\", Folder:f2)") != std::string::npos);
  auto deny = e->Explain(*f, bob, Str("view"), f1);
  REQUIRE(deny.ok());
  CHECK_FALSE(deny->allowed);
}

TEST_CASE("a deny is explained by size, not depth, and says when it was cut", "[unit][eval]") {
  // A chain of 30 folders, f1's parent f2, ...: bob views none of them.
  std::vector<Fact> facts;
  for (int i = 1; i < 30; ++i) {
    facts.push_back({"has_relation", {Ent("Folder", absl::StrCat("f", i)), Str("parent"),
                                      Ent("Folder", absl::StrCat("f", i + 1))}});
  }
  auto f = MakeFacts(facts);
  auto whole = MakeEngine(FolderProgram())->Explain(*f, bob, Str("view"), Ent("Folder", "f1"));
  REQUIRE(whole.ok());
  CHECK_FALSE(whole->allowed);
  CHECK_FALSE(whole->truncated);
  // Every folder of the chain is explained (the old depth limit stopped at 4).
  CHECK_THAT(whole->text, Catch::Contains("has_role(User:bob, \"viewer\", Folder:f30)"));
  CHECK_THAT(whole->text, !Catch::Contains("explanation cut"));

  EngineOptions small;
  small.max_explain_nodes = 5;
  auto cut = MakeEngine(FolderProgram(), small)->Explain(*f, bob, Str("view"), Ent("Folder", "f1"));
  REQUIRE(cut.ok());
  CHECK_FALSE(cut->allowed);
  CHECK(cut->truncated);
  CHECK_THAT(cut->text, Catch::Contains("(explanation cut at 5 nodes"));
  CHECK_THAT(cut->text, Catch::Contains("not explained further"));
  CHECK_THAT(cut->text, !Catch::Contains("Folder:f30"));

  // An allow's proof is never cut, whatever the budget.
  auto g = MakeFacts([&] {
    std::vector<Fact> v = facts;
    v.push_back({"has_role", {alice, Str("viewer"), Ent("Folder", "f30")}});
    return v;
  }());
  auto proof = MakeEngine(FolderProgram(), small)->Explain(*g, alice, Str("view"), Ent("Folder", "f1"));
  REQUIRE(proof.ok());
  CHECK(proof->allowed);
  CHECK_FALSE(proof->truncated);
  CHECK_THAT(proof->text, Catch::Contains("by fact has_role(User:alice, \"viewer\", Folder:f30)"));
}

TEST_CASE("run tests over a hand-built test block", "[unit][eval]") {
  polar::Program p = GithubProgram();
  polar::PolicyTest t;
  t.name = "maintainers of the org can push";
  t.setup = {{"has_role", {alice, Str("admin"), acme}},
             {"has_relation", {anvils, Str("parent"), acme}}};
  auto call = [](std::vector<polar::Term> args) {
    polar::Literal l;
    l.predicate = "allow";
    l.args = std::move(args);
    return l;
  };
  polar::TestAssertion a1;
  a1.kind = polar::TestAssertion::Kind::kAssert;
  a1.query = {call({polar::Term::Const(alice), polar::Term::Const(Str("push")),
                    polar::Term::Const(anvils)})};
  a1.location = {10, 3};
  a1.source = "assert allow(User{\"alice\"}, \"push\", Repository{\"anvils\"});";
  polar::TestAssertion a2 = a1;
  a2.kind = polar::TestAssertion::Kind::kAssertNot;
  a2.location = {11, 3};
  a2.source = "assert_not allow(User{\"alice\"}, \"push\", Repository{\"anvils\"});";
  polar::TestAssertion a3;
  a3.kind = polar::TestAssertion::Kind::kIff;
  a3.variable_names = {"r"};
  polar::Literal is_repo;
  is_repo.kind = polar::Literal::Kind::kMatches;
  is_repo.left = polar::Term::Var(0);
  is_repo.types = {"Repository"};
  a3.query = {call({polar::Term::Const(alice), polar::Term::Const(Str("read")),
                    polar::Term::Var(0)}),
              is_repo};
  a3.iff_variable = 0;
  a3.iff_values = {anvils};
  a3.location = {12, 3};
  polar::TestAssertion a4 = a3;
  a4.iff_values = {anvils, rockets};
  a4.location = {13, 3};
  t.assertions = {a1, a2, a3, a4};
  p.tests.push_back(t);
  auto results = RunTests(p);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 1);
  const TestResult& r = (*results)[0];
  CHECK_FALSE(r.passed);
  CHECK(r.assertions == 4);
  REQUIRE(r.failures.size() == 2);
  CHECK(r.failures[0].location.line == 11);
  CHECK(r.failures[1].location.line == 13);
  CHECK(r.failures[1].message.find("missing {Repository:rockets}") != std::string::npos);
  std::string text = FormatTestResults(*results);
  CHECK(text.find("FAIL maintainers of the org can push") != std::string::npos);
  CHECK(text.find("11:3:") != std::string::npos);
}

TEST_CASE("an engine is shared across threads", "[unit][eval]") {
  auto e = MakeEngine(GithubProgram());
  auto data = MakeGithubData(7, GithubShape{.orgs = 5, .repos = 50, .users = 20, .org_roles = 30,
                                            .repo_roles = 80, .groups = 3, .group_members = 10,
                                            .group_roles = 10, .public_repos = 3,
                                            .superadmins = 1});
  auto f = MakeFacts(data.facts);
  std::vector<bool> expected;
  for (const Value& u : data.users) {
    for (const Value& r : data.repos) expected.push_back(*e->Authorize(*f, u, Str("push"), r));
  }
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      size_t i = 0;
      for (const Value& u : data.users) {
        for (const Value& r : data.repos) {
          auto got = e->Authorize(*f, u, Str("push"), r);
          if (!got.ok() || *got != expected[i]) ++mismatches;
          ++i;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
}

}  // namespace
}  // namespace arbiter::eval
