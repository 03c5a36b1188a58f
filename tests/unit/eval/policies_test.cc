// The reference policies (tests/data/policies/*.polar), compiled by the real
// policy pipeline and evaluated by the engine: every `test` block passes,
// and hand-written expectations per model hold on both fact-source paths.

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/polar/policy.h"
#include "tests/unit/eval/test_programs.h"

namespace arbiter::eval {
namespace {

using testing::Ent;
using testing::Int;
using testing::Str;

std::string PolicyPath(const std::string& name) {
  return std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/" + name;
}

polar::Program Compile(const std::string& name) {
  std::ifstream in(PolicyPath(name));
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  auto p = polar::CompilePolicy(ss.str(), name);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  return *p;
}

struct Model {
  std::shared_ptr<const Engine> engine;
  std::shared_ptr<const FactIndex> facts;

  bool Allow(const Value& a, const std::string& x, const Value& r,
             const QueryOptions& q = {}) const {
    auto fast = engine->Authorize(*facts, a, Str(x), r, q);
    INFO(ToString(a) << " " << x << " " << ToString(r));
    REQUIRE(fast.ok());
    QueryOptions slow = q;
    slow.use_fast_path = false;
    auto scan = engine->Authorize(*facts, a, Str(x), r, slow);
    REQUIRE(scan.ok());
    CHECK(*fast == *scan);
    return *fast;
  }
};

Model Load(const std::string& name, std::vector<Fact> facts) {
  auto e = Engine::Create(Compile(name));
  REQUIRE(e.ok());
  auto f = FactIndex::Create(std::move(facts));
  REQUIRE(f.ok());
  return {*e, *f};
}

TEST_CASE("List and Actions say when a rule holds for any id or any action", "[unit][eval]") {
  auto p = polar::CompilePolicy(R"(
actor User {}
resource Doc {
  roles = ["reader"];
  permissions = ["read", "comment"];
  "read" if "reader";
}
allow(actor: User, action: String, doc: Doc) if has_permission(actor, action, doc);
allow(actor: User, action: String, doc: Doc) if is_root(actor) and action = action;
)", "any.polar");
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  auto e = Engine::Create(*p);
  REQUIRE(e.ok());
  const Value root = Ent("User", "root"), ann = Ent("User", "ann"), d1 = Ent("Doc", "d1");
  auto f = FactIndex::Create({{"is_root", {root}}, {"has_role", {ann, Str("reader"), d1}}});
  REQUIRE(f.ok());
  auto all = (*e)->Actions(**f, root, d1);
  REQUIRE(all.ok());
  CHECK(all->any_action);  // any string at all, not only "read" and "comment"
  // The named ones: the policy's permissions, roles and strings.
  CHECK(all->actions == std::vector<std::string>{"comment", "read", "reader"});
  auto some = (*e)->Actions(**f, ann, d1);
  REQUIRE(some.ok());
  CHECK_FALSE(some->any_action);
  CHECK(some->actions == std::vector<std::string>{"read"});
  auto docs = (*e)->List(**f, root, Str("anything"), "Doc", "", 0);
  REQUIRE(docs.ok());
  CHECK(docs->all_of_type);
  CHECK(docs->ids == std::vector<std::string>{"d1"});  // the ones facts mention
  auto anns = (*e)->List(**f, ann, Str("read"), "Doc", "", 0);
  REQUIRE(anns.ok());
  CHECK_FALSE(anns->all_of_type);
}

TEST_CASE("every reference policy's test blocks pass", "[unit][eval]") {
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(ARBITER_SOURCE_DIR) +
                                           "/tests/data/policies")) {
    if (entry.path().extension() != ".polar") continue;
    ++files;
    const std::string name = entry.path().filename().string();
    SECTION(name) {
      polar::Program p = Compile(name);
      QueryOptions q;
      q.now_unix_seconds = 1'700'000'000;  // 2023-11-14: fixed for attributes.polar
      for (bool fast : {true, false}) {
        q.use_fast_path = fast;
        auto results = RunTests(p, q);
        REQUIRE(results.ok());
        INFO(name << (fast ? " (fast path)" : " (scan path)") << "\n"
                  << FormatTestResults(*results));
        CHECK_FALSE(results->empty());
        for (const TestResult& r : *results) CHECK(r.passed);
      }
    }
  }
  CHECK(files >= 7);
}

TEST_CASE("github.polar: hand-written expectations", "[unit][eval]") {
  const Value alice = Ent("User", "alice"), bob = Ent("User", "bob"),
              root = Ent("User", "root"), dave = Ent("User", "dave");
  const Value acme = Ent("Organization", "acme"), anvils = Ent("Repository", "anvils"),
              secret = Ent("Repository", "secret");
  Model m = Load("github.polar",
                 {{"has_role", {alice, Str("admin"), acme}},
                  {"has_role", {bob, Str("member"), acme}},
                  {"has_role", {root, Str("superadmin")}},
                  {"has_relation", {anvils, Str("parent"), acme}},
                  {"has_relation", {secret, Str("parent"), Ent("Organization", "bigco")}},
                  {"has_group", {dave, Ent("Group", "eng")}},
                  {"has_role", {Ent("Group", "eng"), Str("maintainer"), secret}},
                  {"is_public", {Ent("Repository", "docs")}}});
  CHECK(m.Allow(alice, "push", anvils));
  CHECK(m.Allow(bob, "read", anvils));
  CHECK_FALSE(m.Allow(bob, "push", anvils));
  CHECK_FALSE(m.Allow(alice, "read", secret));
  CHECK(m.Allow(root, "push", secret));
  CHECK(m.Allow(root, "add_member", Ent("Organization", "bigco")));
  CHECK(m.Allow(dave, "push", secret));
  CHECK_FALSE(m.Allow(dave, "push", anvils));
  CHECK(m.Allow(Ent("User", "x"), "read", Ent("Repository", "docs")));
  CHECK_FALSE(m.Allow(Ent("User", "x"), "push", Ent("Repository", "docs")));

  auto list = m.engine->List(*m.facts, root, Str("push"), "Repository", "", 0);
  REQUIRE(list.ok());
  CHECK(list->ids == std::vector<std::string>{"anvils", "secret"});
  // A superadmin pushes only through a repository's parent organization: not
  // to every repository. But it administers every organization, also ones no
  // fact mentions.
  CHECK_FALSE(list->all_of_type);
  CHECK_FALSE(m.Allow(root, "push", Ent("Repository", "orphan")));
  auto orgs = m.engine->List(*m.facts, root, Str("add_member"), "Organization", "", 0);
  REQUIRE(orgs.ok());
  CHECK(orgs->all_of_type);
  CHECK(m.Allow(root, "add_member", Ent("Organization", "never-mentioned")));
  auto bobs = m.engine->List(*m.facts, bob, Str("read"), "Repository", "", 0);
  REQUIRE(bobs.ok());
  CHECK_FALSE(bobs->all_of_type);
  auto acts = m.engine->Actions(*m.facts, alice, acme);
  REQUIRE(acts.ok());
  CHECK(acts->actions == std::vector<std::string>{"add_member", "read"});
  CHECK_FALSE(acts->any_action);
  auto ex = m.engine->Explain(*m.facts, dave, Str("push"), secret);
  REQUIRE(ex.ok());
  INFO(ex->text);
  CHECK(ex->allowed);
  CHECK(ex->text.find("has_group(User:dave, Group:eng)") != std::string::npos);
  CHECK(ex->text.find("github.polar") == std::string::npos);  // locations are line:col
}

TEST_CASE("folders.polar: cyclic data terminates and stays complete", "[unit][eval]") {
  const Value ann = Ent("User", "ann");
  std::vector<Fact> facts;
  // A ring of 20 folders plus a tail; ann owns folder 7.
  for (int i = 0; i < 20; ++i) {
    facts.push_back({"has_relation", {Ent("Folder", "r" + std::to_string(i)), Str("parent"),
                                      Ent("Folder", "r" + std::to_string((i + 1) % 20))}});
  }
  facts.push_back({"has_relation", {Ent("Folder", "tail"), Str("parent"), Ent("Folder", "r3")}});
  facts.push_back({"has_role", {ann, Str("owner"), Ent("Folder", "r7")}});
  Model m = Load("folders.polar", facts);
  for (int i = 0; i < 20; ++i) {
    CHECK(m.Allow(ann, "delete", Ent("Folder", "r" + std::to_string(i))));
  }
  CHECK(m.Allow(ann, "read", Ent("Folder", "tail")));
  CHECK_FALSE(m.Allow(Ent("User", "bob"), "read", Ent("Folder", "tail")));
  auto list = m.engine->List(*m.facts, ann, Str("read"), "Folder", "", 0);
  REQUIRE(list.ok());
  CHECK(list->ids.size() == 21);
  auto q = m.engine->Query(*m.facts, "is_ancestor",
                           std::vector<QueryArg>{QueryArg::Bound(Ent("Folder", "tail")),
                                                 QueryArg::Var("a")});
  REQUIRE(q.ok());
  CHECK(q->rows.size() == 20);
}

TEST_CASE("banned.polar and attributes.polar: not, comparisons, time", "[unit][eval]") {
  const Value bo = Ent("User", "bo"), al = Ent("User", "al");
  const Value forum = Ent("Forum", "general");
  Model m = Load("banned.polar", {{"has_role", {bo, Str("member"), forum}},
                                  {"has_role", {al, Str("moderator"), forum}},
                                  {"is_banned", {bo}}});
  CHECK(m.Allow(bo, "read", forum));
  CHECK_FALSE(m.Allow(bo, "post", forum));
  CHECK(m.Allow(al, "post", forum));
  CHECK(m.Allow(al, "moderate", forum));
  std::vector<Fact> ctx = {{"is_suspended", {al, forum}}};
  QueryOptions q;
  q.context = ctx;
  CHECK_FALSE(m.Allow(al, "moderate", forum, q));

  const Value plan = Ent("Document", "plan");
  Model a = Load("attributes.polar", {{"clearance", {Ent("User", "hi"), Int(3)}},
                                      {"clearance", {Ent("User", "lo"), Int(1)}},
                                      {"classification", {plan, Int(2)}},
                                      {"grant_expires", {Ent("User", "tmp"), plan, Int(2000)}}});
  CHECK(a.Allow(Ent("User", "hi"), "read", plan));
  CHECK_FALSE(a.Allow(Ent("User", "lo"), "read", plan));
  QueryOptions before, after;
  before.now_unix_seconds = 1999;
  after.now_unix_seconds = 2000;
  CHECK(a.Allow(Ent("User", "tmp"), "read", plan, before));
  CHECK_FALSE(a.Allow(Ent("User", "tmp"), "read", plan, after));
}

}  // namespace
}  // namespace arbiter::eval
