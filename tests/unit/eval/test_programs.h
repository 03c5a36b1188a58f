#ifndef ARBITER_TESTS_UNIT_EVAL_TEST_PROGRAMS_H_
#define ARBITER_TESTS_UNIT_EVAL_TEST_PROGRAMS_H_

// Hand-built polar::Programs for the engine's tests and benchmark: the
// compiled form of small policies, written with a tiny builder so that the
// engine can be tested without the parser. Also the GitHub-like data
// generator shared by the property tests and the benchmark.

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/base/value.h"
#include "common/polar/program.h"

namespace arbiter::eval::testing {

inline Value Ent(std::string type, std::string id) { return {std::move(type), std::move(id)}; }
inline Value Str(std::string s) { return {kStringType, std::move(s)}; }
inline Value Int(int64_t n) { return {kIntegerType, std::to_string(n)}; }

// A term in a rule being built: a named variable (with an optional type when
// it is a parameter), a constant, or @current_unix_time.
struct T {
  enum Kind { kVar, kConst, kTime } kind = kConst;
  std::string name;
  Value value;
  std::vector<std::string> types;
  T(Value v) : kind(kConst), value(std::move(v)) {}  // NOLINT
  T(const char* s) : kind(kConst), value(Str(s)) {}  // NOLINT: "x" is a String
  T(Kind k, std::string n, std::vector<std::string> t = {})
      : kind(k), name(std::move(n)), types(std::move(t)) {}
};
inline T V(std::string name, std::vector<std::string> types = {}) {
  return T(T::kVar, std::move(name), std::move(types));
}
inline T Now() { return T(T::kTime, ""); }

struct L {
  polar::Literal::Kind kind = polar::Literal::Kind::kCall;
  std::string pred;
  std::vector<T> args;
  std::vector<T> lr;  // left, right
  polar::CompareOp op = polar::CompareOp::kEq;
  std::vector<std::string> types;
};
inline L Call(std::string p, std::vector<T> args) {
  return {polar::Literal::Kind::kCall, std::move(p), std::move(args), {}, {}, {}};
}
inline L Not(std::string p, std::vector<T> args) {
  return {polar::Literal::Kind::kNotCall, std::move(p), std::move(args), {}, {}, {}};
}
inline L Unify(T a, T b) { return {polar::Literal::Kind::kUnify, "", {}, {a, b}, {}, {}}; }
inline L Cmp(T a, polar::CompareOp op, T b) {
  return {polar::Literal::Kind::kCompare, "", {}, {a, b}, op, {}};
}
inline L Matches(T a, std::vector<std::string> types) {
  return {polar::Literal::Kind::kMatches, "", {}, {a}, {}, std::move(types)};
}
inline L In(T a, std::vector<T> list) {
  return {polar::Literal::Kind::kIn, "", std::move(list), {a}, {}, {}};
}

class ProgramBuilder {
 public:
  ProgramBuilder& Rule(std::string pred, std::vector<T> params, std::vector<L> body = {},
                       std::string source = "") {
    polar::Rule r;
    r.predicate = std::move(pred);
    std::map<std::string, int> vars;
    auto term = [&](const T& t) {
      switch (t.kind) {
        case T::kConst:
          return polar::Term::Const(t.value);
        case T::kTime:
          return polar::Term{polar::Term::Kind::kCurrentUnixTime, -1, {}};
        case T::kVar:
          break;
      }
      std::string name = t.name;
      if (name == "_") name = "_" + std::to_string(r.variable_names.size());
      auto [it, inserted] = vars.try_emplace(name, static_cast<int>(r.variable_names.size()));
      if (inserted) r.variable_names.push_back(name);
      return polar::Term::Var(it->second);
    };
    for (const T& p : params) {
      r.params.push_back(term(p));
      r.param_types.push_back({p.types});
    }
    for (const L& l : body) {
      polar::Literal lit;
      lit.kind = l.kind;
      lit.predicate = l.pred;
      for (const T& a : l.args) lit.args.push_back(term(a));
      if (!l.lr.empty()) lit.left = term(l.lr[0]);
      if (l.lr.size() > 1) lit.right = term(l.lr[1]);
      lit.op = l.op;
      lit.types = l.types;
      lit.location = {line_, 5};
      r.body.push_back(std::move(lit));
    }
    r.location = {line_++, 1};
    r.source = std::move(source);
    program_.rules.push_back(std::move(r));
    return *this;
  }
  ProgramBuilder& Block(polar::ResourceBlock b) {
    program_.blocks.push_back(std::move(b));
    return *this;
  }
  polar::Program Build() const { return program_; }
  polar::Program& program() { return program_; }

 private:
  polar::Program program_;
  int line_ = 1;
};

// The GitHub-like model of DESIGN.md §3, desugared as the compiler does.
inline polar::Program GithubProgram() {
  ProgramBuilder b;
  const std::vector<std::string> kUser = {"User"};
  b.Rule("allow", {V("actor"), V("action"), V("resource")},
         {Call("has_permission", {V("actor"), V("action"), V("resource")})},
         "allow(actor, action, resource) if has_permission(actor, action, resource);");
  // resource Organization
  b.Rule("has_permission", {V("actor", kUser), "read", V("resource", {"Organization"})},
         {Call("has_role", {V("actor"), "member", V("resource")})},
         "resource Organization: \"read\" if \"member\";");
  b.Rule("has_permission", {V("actor", kUser), "add_member", V("resource", {"Organization"})},
         {Call("has_role", {V("actor"), "admin", V("resource")})},
         "resource Organization: \"add_member\" if \"admin\";");
  b.Rule("has_role", {V("actor", kUser), "member", V("resource", {"Organization"})},
         {Call("has_role", {V("actor"), "admin", V("resource")})},
         "resource Organization: \"member\" if \"admin\";");
  b.Rule("has_role", {V("actor", kUser), "admin", V("resource", {"Organization"})},
         {Call("has_role", {V("actor"), "superadmin"})},
         "resource Organization: \"admin\" if global \"superadmin\";");
  // resource Repository
  b.Rule("has_permission", {V("actor", kUser), "read", V("resource", {"Repository"})},
         {Call("has_role", {V("actor"), "reader", V("resource")})},
         "resource Repository: \"read\" if \"reader\";");
  b.Rule("has_permission", {V("actor", kUser), "push", V("resource", {"Repository"})},
         {Call("has_role", {V("actor"), "maintainer", V("resource")})},
         "resource Repository: \"push\" if \"maintainer\";");
  b.Rule("has_role", {V("actor", kUser), "reader", V("resource", {"Repository"})},
         {Call("has_role", {V("actor"), "maintainer", V("resource")})},
         "resource Repository: \"reader\" if \"maintainer\";");
  b.Rule("has_role", {V("actor", kUser), "reader", V("resource", {"Repository"})},
         {Call("has_relation", {V("resource"), "parent", V("other")}),
          Matches(V("other"), {"Organization"}),
          Call("has_role", {V("actor"), "member", V("other")})},
         "resource Repository: \"reader\" if \"member\" on \"parent\";");
  b.Rule("has_role", {V("actor", kUser), "maintainer", V("resource", {"Repository"})},
         {Call("has_relation", {V("resource"), "parent", V("other")}),
          Matches(V("other"), {"Organization"}),
          Call("has_role", {V("actor"), "admin", V("other")})},
         "resource Repository: \"maintainer\" if \"admin\" on \"parent\";");
  b.Rule("has_permission", {V("actor", kUser), "read", V("resource", {"Repository"})},
         {Call("is_public", {V("resource")})},
         "resource Repository: \"read\" if is_public(resource);");
  // groups
  b.Rule("has_role", {V("user", kUser), V("role", {"String"}), V("repo", {"Repository"})},
         {Matches(V("group"), {"Group"}), Call("has_group", {V("user"), V("group")}),
          Call("has_role", {V("group"), V("role"), V("repo")})},
         "has_role(user: User, role: String, repo: Repository) if group matches Group and "
         "has_group(user, group) and has_role(group, role, repo);");
  polar::ResourceBlock org;
  org.type = "Organization";
  org.roles = {"member", "admin"};
  org.permissions = {"read", "add_member"};
  polar::ResourceBlock repo;
  repo.type = "Repository";
  repo.roles = {"reader", "maintainer"};
  repo.permissions = {"read", "push"};
  b.Block(org).Block(repo);
  return b.Build();
}

// Folders with role inheritance along "parent", which may be cyclic.
inline polar::Program FolderProgram() {
  ProgramBuilder b;
  b.Rule("allow", {V("actor"), V("action"), V("resource")},
         {Call("has_permission", {V("actor"), V("action"), V("resource")})});
  b.Rule("has_permission", {V("actor", {"User"}), "view", V("resource", {"Folder"})},
         {Call("has_role", {V("actor"), "viewer", V("resource")})},
         "resource Folder: \"view\" if \"viewer\";");
  b.Rule("has_permission", {V("actor", {"User"}), "edit", V("resource", {"Folder"})},
         {Call("has_role", {V("actor"), "editor", V("resource")})},
         "resource Folder: \"edit\" if \"editor\";");
  b.Rule("has_role", {V("actor", {"User"}), "viewer", V("resource", {"Folder"})},
         {Call("has_role", {V("actor"), "editor", V("resource")})},
         "resource Folder: \"viewer\" if \"editor\";");
  b.Rule("has_role", {V("actor", {"User"}), V("role"), V("resource", {"Folder"})},
         {Call("has_relation", {V("resource"), "parent", V("p")}),
          Matches(V("p"), {"Folder"}), Call("has_role", {V("actor"), V("role"), V("p")})},
         "resource Folder: role if role on \"parent\";");
  return b.Build();
}

// The GitHub-like data set: orgs, repos (each with a parent org), users,
// org and repo roles, groups, public repos. Deterministic for a seed.
struct GithubData {
  std::vector<Fact> facts;
  std::vector<Value> users, repos, orgs;
};

struct GithubShape {
  int orgs = 100;
  int repos = 10'000;
  int users = 1'000;
  int org_roles = 4'000;   // has_role(User, member|admin, Organization)
  int repo_roles = 16'000; // has_role(User, reader|maintainer, Repository)
  int groups = 50;
  int group_members = 500;
  int group_roles = 300;
  int public_repos = 200;
  int superadmins = 2;
};

inline GithubData MakeGithubData(uint32_t seed, const GithubShape& shape = {}) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  GithubData d;
  for (int i = 0; i < shape.orgs; ++i) d.orgs.push_back(Ent("Organization", "org" + std::to_string(i)));
  for (int i = 0; i < shape.repos; ++i) d.repos.push_back(Ent("Repository", "repo" + std::to_string(i)));
  for (int i = 0; i < shape.users; ++i) d.users.push_back(Ent("User", "user" + std::to_string(i)));
  for (int i = 0; i < shape.repos; ++i) {
    d.facts.push_back({"has_relation", {d.repos[i], Str("parent"), d.orgs[pick(shape.orgs)]}});
  }
  for (int i = 0; i < shape.org_roles; ++i) {
    d.facts.push_back({"has_role", {d.users[pick(shape.users)], Str(pick(4) == 0 ? "admin" : "member"),
                                    d.orgs[pick(shape.orgs)]}});
  }
  for (int i = 0; i < shape.repo_roles; ++i) {
    d.facts.push_back({"has_role", {d.users[pick(shape.users)],
                                    Str(pick(3) == 0 ? "maintainer" : "reader"),
                                    d.repos[pick(shape.repos)]}});
  }
  std::vector<Value> groups;
  for (int i = 0; i < shape.groups; ++i) groups.push_back(Ent("Group", "group" + std::to_string(i)));
  if (shape.groups > 0) {
    for (int i = 0; i < shape.group_members; ++i) {
      d.facts.push_back({"has_group", {d.users[pick(shape.users)], groups[pick(shape.groups)]}});
    }
    for (int i = 0; i < shape.group_roles; ++i) {
      d.facts.push_back({"has_role", {groups[pick(shape.groups)],
                                      Str(pick(2) == 0 ? "maintainer" : "reader"),
                                      d.repos[pick(shape.repos)]}});
    }
  }
  for (int i = 0; i < shape.public_repos; ++i) {
    d.facts.push_back({"is_public", {d.repos[pick(shape.repos)]}});
  }
  for (int i = 0; i < shape.superadmins; ++i) {
    d.facts.push_back({"has_role", {d.users[pick(shape.users)], Str("superadmin")}});
  }
  return d;
}

}  // namespace arbiter::eval::testing

#endif  // ARBITER_TESTS_UNIT_EVAL_TEST_PROGRAMS_H_
