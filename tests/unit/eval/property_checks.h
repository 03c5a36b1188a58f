#ifndef ARBITER_TESTS_UNIT_EVAL_PROPERTY_CHECKS_H_
#define ARBITER_TESTS_UNIT_EVAL_PROPERTY_CHECKS_H_

// Property checks shared by the unit binary (a few hundred cases) and the
// property binary (thousands): on random facts with a fixed seed,
//   r ∈ List(a, x, T)  ⇔  Authorize(a, x, r)
//   x ∈ Actions(a, r)  ⇔  Authorize(a, x, r)
//   the fast path and the Scan path give identical answers
//   recursion over random (cyclic) folder graphs equals a bottom-up oracle.

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "tests/unit/eval/test_programs.h"
#include <fstream>
#include <sstream>

#include "common/polar/policy.h"

namespace arbiter::eval::testing {

// A FactSource that only forwards Scan (forces the reference path).
class ScanOnlySource final : public FactSource {
 public:
  explicit ScanOnlySource(const FactSource* base) : base_(base) {}
  absl::Status Scan(std::string_view p, Pattern pat,
                    absl::FunctionRef<bool(std::span<const Value>)> fn) const override {
    return base_->Scan(p, pat, fn);
  }

 private:
  const FactSource* base_;
};

// The GitHub-like engine, compiled from tests/data/policies/github.polar.
inline std::shared_ptr<const Engine> GithubEngine() {
  static std::shared_ptr<const Engine> engine = [] {
    std::ifstream in(std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/github.polar");
    std::stringstream ss;
    ss << in.rdbuf();
    auto compiled = polar::CompilePolicy(ss.str(), "github.polar");
    if (!compiled.ok()) {
      FAIL("github.polar does not compile: " << compiled.status());
    }
    return *Engine::Create(*compiled);
  }();
  return engine;
}

inline GithubShape SmallShape(std::mt19937& rng) {
  GithubShape s;
  s.orgs = 2 + rng() % 4;
  s.repos = 10 + rng() % 30;
  s.users = 4 + rng() % 8;
  s.org_roles = rng() % 12;
  s.repo_roles = rng() % 40;
  s.groups = rng() % 3;
  s.group_members = rng() % 6;
  s.group_roles = rng() % 6;
  s.public_repos = rng() % 3;
  s.superadmins = rng() % 4 == 0 ? 1 : 0;
  return s;
}

// Checks every property for one random data set; returns the number of
// (actor, action, resource) decisions compared. `sample` bounds the users.
inline int CheckGithubProperties(uint32_t seed, int max_users) {
  std::mt19937 rng(seed);
  GithubShape shape = SmallShape(rng);
  GithubData d = MakeGithubData(seed, shape);
  // Context facts for some cases: one extra role.
  std::vector<Fact> ctx;
  if (seed % 3 == 0) {
    ctx.push_back({"has_role", {d.users[0], Str("maintainer"), d.repos[seed % d.repos.size()]}});
  }
  auto facts = *FactIndex::Create(d.facts);
  auto engine = GithubEngine();
  ScanOnlySource scan(facts.get());
  QueryOptions q;
  q.context = ctx;
  QueryOptions qs = q;
  qs.use_fast_path = false;
  const std::vector<std::string> actions = {"read", "push", "add_member"};
  std::vector<Value> resources = d.repos;
  resources.insert(resources.end(), d.orgs.begin(), d.orgs.end());
  // List is complete over the ids the facts mention (engine.h): an allow that
  // holds for any organization (a global role) cannot list one never stored.
  std::set<std::string> mentioned;
  for (const std::vector<Fact>* fs : {&d.facts, &ctx}) {
    for (const Fact& f : *fs) {
      for (const Value& v : f.args) mentioned.insert(ToString(v));
    }
  }
  int compared = 0;
  const int users = std::min<int>(max_users, static_cast<int>(d.users.size()));
  for (int u = 0; u < users; ++u) {
    const Value& actor = d.users[u];
    std::map<std::string, std::set<std::string>> allowed;  // action -> "Type:id"
    for (const Value& r : resources) {
      auto acts = engine->Actions(*facts, actor, r, q);
      REQUIRE(acts.ok());
      std::set<std::string> act_set(acts->actions.begin(), acts->actions.end());
      for (const std::string& x : actions) {
        auto a = engine->Authorize(*facts, actor, Str(x), r, q);
        auto b = engine->Authorize(scan, actor, Str(x), r, qs);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        INFO("seed " << seed << " " << ToString(actor) << " " << x << " " << ToString(r));
        CHECK(*a == *b);
        CHECK(*a == act_set.contains(x));
        if (*a) allowed[x].insert(ToString(r));
        ++compared;
      }
      for (const std::string& x : act_set) {
        CHECK(std::find(actions.begin(), actions.end(), x) != actions.end());
      }
    }
    for (const std::string& x : actions) {
      for (const char* type : {"Repository", "Organization"}) {
        auto list = engine->List(*facts, actor, Str(x), type, "", 0, q);
        auto list_scan = engine->List(scan, actor, Str(x), type, "", 0, qs);
        REQUIRE(list.ok());
        REQUIRE(list_scan.ok());
        CHECK(list->ids == list_scan->ids);
        std::set<std::string> listed;
        for (const std::string& id : list->ids) listed.insert(std::string(type) + ":" + id);
        std::set<std::string> expected;
        for (const std::string& r : allowed[x]) {
          if (r.rfind(std::string(type) + ":", 0) == 0 && mentioned.contains(r)) {
            expected.insert(r);
          }
        }
        INFO("seed " << seed << " list " << ToString(actor) << " " << x << " " << type);
        CHECK(listed == expected);
        // Paging in steps of 3 gives the same ids.
        std::vector<std::string> paged;
        std::string cursor;
        for (int guard = 0; guard < 100; ++guard) {
          auto page = engine->List(*facts, actor, Str(x), type, cursor, 3, q);
          REQUIRE(page.ok());
          paged.insert(paged.end(), page->ids.begin(), page->ids.end());
          if (page->next_cursor.empty()) break;
          cursor = page->next_cursor;
        }
        CHECK(paged == list->ids);
      }
    }
  }
  return compared;
}

// Random folder graphs (cycles likely) against a bottom-up fixpoint oracle,
// with FolderProgram(): viewer if editor; every role flows from a parent.
inline int CheckFolderRecursion(uint32_t seed) {
  std::mt19937 rng(seed);
  const int n = 3 + rng() % 25;
  const int users = 3;
  std::vector<Fact> facts;
  std::vector<std::vector<int>> parents(n);
  const int edges = rng() % (2 * n);
  for (int e = 0; e < edges; ++e) {
    int c = rng() % n, p = rng() % n;
    parents[c].push_back(p);
    facts.push_back({"has_relation", {Ent("Folder", std::to_string(c)), Str("parent"),
                                      Ent("Folder", std::to_string(p))}});
  }
  // direct[u][f] bit 1 = viewer, bit 2 = editor
  std::vector<std::vector<int>> roles(users, std::vector<int>(n, 0));
  const int grants = rng() % 5;
  for (int g = 0; g < grants; ++g) {
    int u = rng() % users, f = rng() % n;
    bool editor = rng() % 2;
    roles[u][f] |= editor ? 2 : 1;
    facts.push_back({"has_role", {Ent("User", std::to_string(u)), Str(editor ? "editor" : "viewer"),
                                  Ent("Folder", std::to_string(f))}});
  }
  // Oracle: iterate role(c) |= role(p) for each parent edge, viewer |= editor.
  for (bool changed = true; changed;) {
    changed = false;
    for (int u = 0; u < users; ++u) {
      for (int c = 0; c < n; ++c) {
        int before = roles[u][c];
        if (roles[u][c] & 2) roles[u][c] |= 1;
        for (int p : parents[c]) roles[u][c] |= roles[u][p];
        changed |= roles[u][c] != before;
      }
    }
  }
  auto src = *FactIndex::Create(facts);
  static auto engine = *Engine::Create(FolderProgram());
  ScanOnlySource scan(src.get());
  QueryOptions qs;
  qs.use_fast_path = false;
  int compared = 0;
  for (int u = 0; u < users; ++u) {
    const Value user = Ent("User", std::to_string(u));
    for (int f = 0; f < n; ++f) {
      const Value folder = Ent("Folder", std::to_string(f));
      auto view = engine->Authorize(*src, user, Str("view"), folder);
      auto edit = engine->Authorize(*src, user, Str("edit"), folder);
      auto view_scan = engine->Authorize(scan, user, Str("view"), folder, qs);
      REQUIRE(view.ok());
      REQUIRE(edit.ok());
      REQUIRE(view_scan.ok());
      INFO("seed " << seed << " user " << u << " folder " << f);
      CHECK(*view == ((roles[u][f] & 1) != 0));
      CHECK(*edit == ((roles[u][f] & 2) != 0));
      CHECK(*view_scan == *view);
      compared += 2;
    }
    auto list = engine->List(*src, user, Str("view"), "Folder", "", 0);
    REQUIRE(list.ok());
    std::set<std::string> expected;
    for (int f = 0; f < n; ++f) {
      if (roles[u][f] & 1) expected.insert(std::to_string(f));
    }
    CHECK(std::set<std::string>(list->ids.begin(), list->ids.end()) == expected);
  }
  return compared;
}

}  // namespace arbiter::eval::testing

#endif  // ARBITER_TESTS_UNIT_EVAL_PROPERTY_CHECKS_H_
