#include "common/polar/compiler.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace arbiter::polar {
namespace {

// `or` expansion is exponential in the worst case; a rule that expands past
// this is almost certainly a mistake and would slow every evaluation.
constexpr size_t kMaxDisjuncts = 256;

using Conjunction = std::vector<Literal>;
using Dnf = std::vector<Conjunction>;

bool IsBuiltinType(std::string_view t) {
  return t == kStringType || t == kIntegerType || t == kBooleanType || t == "Actor" ||
         t == "Resource";
}

std::string QuotedList(const std::set<std::string>& names) {
  if (names.empty()) return "none";
  return absl::StrJoin(names, ", ", [](std::string* out, const std::string& n) {
    absl::StrAppend(out, "\"", n, "\"");
  });
}

// Source text with `#` comments dropped and whitespace runs collapsed.
std::string Collapse(std::string_view text) {
  std::string out;
  bool in_string = false, space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out.push_back(text[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
      space = true;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    if (c == '"') in_string = true;
    out.push_back(c);
  }
  return out;
}

AstTerm VarTerm(std::string name, Location loc) {
  AstTerm t;
  t.kind = AstTerm::Kind::kVariable;
  t.name = std::move(name);
  t.location = loc;
  return t;
}
AstTerm StrTerm(std::string s, Location loc) {
  AstTerm t;
  t.kind = AstTerm::Kind::kConstant;
  t.value = {kStringType, std::move(s)};
  t.location = loc;
  return t;
}
AstExpr CallExpr(std::string name, std::vector<AstTerm> args, const AstExpr& at) {
  AstExpr e;
  e.kind = AstExpr::Kind::kCall;
  e.name = std::move(name);
  e.args = std::move(args);
  e.location = at.location;
  e.begin = at.begin;
  e.end = at.end;
  return e;
}

void CollectVars(const AstTerm& t, std::vector<std::string>* out) {
  if (t.kind == AstTerm::Kind::kVariable) out->push_back(t.name);
  for (const AstTerm& i : t.items) CollectVars(i, out);
}
void CollectVars(const AstExpr& e, std::vector<std::string>* out) {
  for (const AstExpr& c : e.children) CollectVars(c, out);
  for (const AstTerm& a : e.args) CollectVars(a, out);
  CollectVars(e.left, out);
  CollectVars(e.right, out);
  CollectVars(e.name_term, out);
}

// The variables of one rule.
class Scope {
 public:
  explicit Scope(std::set<std::string> taken) : taken_(std::move(taken)) {}
  int Var(const std::string& name) {
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    names_.push_back(name);
    index_[name] = static_cast<int>(names_.size()) - 1;
    return index_[name];
  }
  // A new variable whose name starts with '_' and clashes with nothing.
  int Fresh() {
    std::string name;
    do {
      name = absl::StrCat("_", ++counter_);
    } while (taken_.count(name) != 0 || index_.count(name) != 0);
    taken_.insert(name);
    return Var(name);
  }
  std::string FreshName(const std::string& base) {
    std::string name = base;
    int n = 0;
    while (taken_.count(name) != 0) name = absl::StrCat(base, ++n);
    taken_.insert(name);
    return name;
  }
  const std::vector<std::string>& names() const { return names_; }
  bool Has(const std::string& name) const { return index_.count(name) != 0; }
  int Index(const std::string& name) const { return index_.at(name); }

 private:
  std::set<std::string> taken_;
  std::vector<std::string> names_;
  std::map<std::string, int> index_;
  int counter_ = 0;
};

struct BlockInfo {
  const AstBlock* ast = nullptr;
  std::set<std::string> roles, permissions;
  std::map<std::string, std::string> relations;
  std::string Describe() const {
    switch (ast->kind) {
      case ResourceBlock::Kind::kActor: return absl::StrCat("actor ", ast->type);
      case ResourceBlock::Kind::kResource: return absl::StrCat("resource ", ast->type);
      case ResourceBlock::Kind::kGlobal: return "the global block";
    }
    return "";
  }
};

struct Param {
  AstTerm term;
  std::vector<std::string> types;
};

class Compiler {
 public:
  Compiler(std::string_view source, Diagnostics* diag) : source_(source), diag_(diag) {}

  Program Run(const AstPolicy& ast) {
    RegisterBlocks(ast);
    for (const AstBlock& b : ast.blocks) {
      for (const AstShorthand& sh : b.shorthands) CompileShorthand(b, sh);
    }
    for (const AstRule& r : ast.rules) CompilePlainRule(r);
    AddImpliedAllow();
    CompileTests(ast);
    return std::move(prog_);
  }

 private:
  void Error(Location loc, std::string message) { diag_->Add(loc, std::move(message)); }

  std::vector<std::string> ExpandType(const std::string& type, Location loc) {
    if (type == "Actor" || type == "Resource") {
      // Actor: every actor type. Resource: every resource and actor type
      // (actors are resources too: "impersonate" on a User).
      std::set<std::string> s = prog_.actor_types;
      if (type == "Resource") s.insert(prog_.resource_types.begin(), prog_.resource_types.end());
      if (s.empty()) {
        Error(loc, absl::StrFormat("type %s matches nothing: declare an %s block", type,
                                   type == "Actor" ? "actor" : "actor or resource"));
      }
      return {s.begin(), s.end()};
    }
    return {type};
  }

  // ---- blocks ----
  void RegisterBlocks(const AstPolicy& ast) {
    std::map<std::string, Location> first;
    for (const AstBlock& b : ast.blocks) {
      std::string key = b.kind == ResourceBlock::Kind::kGlobal ? "" : b.type;
      auto [it, inserted] = first.emplace(key, b.location);
      if (!inserted) {
        Error(b.location, key.empty()
                              ? absl::StrFormat("the global block is declared twice (first at %d:%d)",
                                                it->second.line, it->second.column)
                              : absl::StrFormat("type %s is declared twice (first at %d:%d)", key,
                                                it->second.line, it->second.column));
        continue;
      }
      if (!key.empty() && IsBuiltinType(key)) {
        Error(b.type_location, absl::StrFormat("cannot declare a block for built-in type %s", key));
      }
      BlockInfo info;
      info.ast = &b;
      ResourceBlock rb;
      rb.kind = b.kind;
      rb.type = b.type;
      rb.location = b.location;
      std::string what = BlockInfo{&b, {}, {}, {}}.Describe();
      if (b.roles_decls.size() > 1) {
        Error(b.roles_decls[1], absl::StrFormat("roles are declared twice in %s", what));
      }
      if (b.permissions_decls.size() > 1) {
        Error(b.permissions_decls[1], absl::StrFormat("permissions are declared twice in %s", what));
      }
      if (b.relations_decls.size() > 1) {
        Error(b.relations_decls[1], absl::StrFormat("relations are declared twice in %s", what));
      }
      for (const AstName& r : b.roles) {
        if (r.name.empty()) {
          Error(r.location, absl::StrFormat("empty role name in %s", what));
        } else if (!info.roles.insert(r.name).second) {
          Error(r.location, absl::StrFormat("role \"%s\" is declared twice in %s", r.name, what));
        } else {
          rb.roles.push_back(r.name);
        }
      }
      for (const AstName& p : b.permissions) {
        if (p.name.empty()) {
          Error(p.location, absl::StrFormat("empty permission name in %s", what));
        } else if (!info.permissions.insert(p.name).second) {
          Error(p.location,
                absl::StrFormat("permission \"%s\" is declared twice in %s", p.name, what));
        } else if (info.roles.count(p.name) != 0) {
          Error(p.location, absl::StrFormat(
              "\"%s\" is declared both as a role and as a permission in %s", p.name, what));
        } else {
          rb.permissions.push_back(p.name);
        }
      }
      if (b.kind == ResourceBlock::Kind::kGlobal && !b.relations.empty()) {
        Error(b.relations.front().location, "the global block cannot declare relations");
      }
      for (const AstRelation& rel : b.relations) {
        if (!info.relations.emplace(rel.name, rel.type).second) {
          Error(rel.location,
                absl::StrFormat("relation \"%s\" is declared twice in %s", rel.name, what));
        } else {
          rb.relations[rel.name] = rel.type;
        }
      }
      if (b.kind == ResourceBlock::Kind::kActor) prog_.actor_types.insert(b.type);
      if (b.kind == ResourceBlock::Kind::kResource) prog_.resource_types.insert(b.type);
      prog_.blocks.push_back(std::move(rb));
      if (key.empty()) {
        global_ = info;
        has_global_ = true;
      } else {
        blocks_[key] = info;
      }
    }
    // Relation targets must be declared actor or resource types.
    for (auto& [type, info] : blocks_) {
      for (const AstRelation& rel : info.ast->relations) {
        if (blocks_.count(rel.type) == 0) {
          Error(rel.type_location, absl::StrFormat(
              "relation \"%s\" of %s refers to undeclared type %s (declare it with "
              "\"resource %s {}\" or \"actor %s {}\")",
              rel.name, info.Describe(), rel.type, rel.type, rel.type));
        }
      }
    }
    actor_types_.assign(prog_.actor_types.begin(), prog_.actor_types.end());
  }

  // ---- shorthand rules ----
  struct ShorthandContext {
    const BlockInfo* block = nullptr;  // the block the rule is written in
    bool global = false;
    std::string head_variable;  // "role" / "permission" or empty
    std::string head_predicate;
    Scope* names = nullptr;     // for generated variable names
    bool ok = true;
  };

  // `name` (a role, permission or relation) holding for the actor on
  // `entity` (a variable; empty for the global block's two-argument form).
  bool ResolveName(const std::string& name, const AstExpr& at, const BlockInfo* target,
                   bool global, const std::string& entity, const std::string& via,
                   AstExpr* out) {
    Location loc = at.name_term.location;
    std::vector<AstTerm> args = {VarTerm("actor", loc), StrTerm(name, loc)};
    if (!global) args.push_back(VarTerm(entity, loc));
    if (target->roles.count(name) != 0) {
      *out = CallExpr("has_role", std::move(args), at);
      return true;
    }
    if (target->permissions.count(name) != 0) {
      *out = CallExpr("has_permission", std::move(args), at);
      return true;
    }
    if (!global) {
      auto rel = target->relations.find(name);
      if (rel != target->relations.end()) {
        if (prog_.actor_types.count(rel->second) == 0) {
          Error(loc, absl::StrFormat(
              "relation \"%s\" of %s holds %s, which is not an actor type; write \"<role>\" on \"%s\"",
              name, target->Describe(), rel->second, name));
          return false;
        }
        *out = CallExpr("has_relation",
                        {VarTerm(entity, loc), StrTerm(name, loc), VarTerm("actor", loc)}, at);
        return true;
      }
    }
    std::string declared = absl::StrFormat(
        "declared roles: %s; permissions: %s", QuotedList(target->roles),
        QuotedList(target->permissions));
    if (!global) {
      std::set<std::string> rels;
      for (const auto& [r, t] : target->relations) rels.insert(r);
      absl::StrAppend(&declared, "; relations: ", QuotedList(rels));
    }
    Error(loc, absl::StrFormat("\"%s\" is not a role, permission or relation of %s%s (%s)", name,
                               target->Describe(), via, declared));
    return false;
  }

  bool Lower(const AstExpr& in, ShorthandContext* ctx, AstExpr* out) {
    if (in.kind != AstExpr::Kind::kShorthandName) {
      *out = in;
      out->children.clear();
      for (const AstExpr& c : in.children) {
        AstExpr lowered;
        if (!Lower(c, ctx, &lowered)) return false;
        out->children.push_back(std::move(lowered));
      }
      return true;
    }
    const BlockInfo* block = ctx->block;
    Location loc = in.name_term.location;
    if (in.global) {
      if (!has_global_) {
        Error(loc, absl::StrFormat("global \"%s\" is used but there is no global block",
                                   in.name_term.value.id));
        return false;
      }
      return ResolveName(in.name_term.value.id, in, &global_, true, "", "", out);
    }
    std::string entity = "resource";
    const BlockInfo* target = block;
    std::vector<AstExpr> parts;
    std::string via;
    if (in.relation.has_value()) {
      if (ctx->global) {
        Error(in.relation_location, "the global block has no relations to use with \"on\"");
        return false;
      }
      auto rel = block->relations.find(*in.relation);
      if (rel == block->relations.end()) {
        std::set<std::string> rels;
        for (const auto& [r, t] : block->relations) rels.insert(r);
        Error(in.relation_location,
              absl::StrFormat("relation \"%s\" is not declared in %s (declared: %s)",
                              *in.relation, block->Describe(), QuotedList(rels)));
        return false;
      }
      auto tb = blocks_.find(rel->second);
      if (tb == blocks_.end()) return false;  // reported at the relation declaration
      target = &tb->second;
      entity = ctx->names->FreshName(absl::StrCat("_", *in.relation));
      parts.push_back(CallExpr("has_relation",
                               {VarTerm("resource", in.relation_location),
                                StrTerm(*in.relation, in.relation_location),
                                VarTerm(entity, in.relation_location)},
                               in));
      via = absl::StrFormat(" (via relation \"%s\")", *in.relation);
    }
    AstExpr leaf;
    if (in.name_term.kind == AstTerm::Kind::kVariable) {
      const std::string& v = in.name_term.name;
      if (v == ctx->head_variable) {
        // `role if role on "parent"`: the same role there.
        std::vector<AstTerm> args = {VarTerm("actor", loc), VarTerm(v, loc)};
        if (!ctx->global) args.push_back(VarTerm(entity, loc));
        leaf = CallExpr(ctx->head_predicate, std::move(args), in);
      } else if (v == "role" || v == "permission") {
        // `"subscriber" if role on "org"`: any role (permission) the target
        // declares, bound first so that each is a plain lookup.
        const std::set<std::string>& names = v == "role" ? target->roles : target->permissions;
        if (names.empty()) {
          Error(loc, absl::StrFormat("\"%s\" in a shorthand body means any %s of %s%s, but it "
                                     "declares none",
                                     v, v, target->Describe(), via));
          return false;
        }
        const std::string any = ctx->names->FreshName(absl::StrCat("_", v));
        AstExpr constraint;
        constraint.kind = AstExpr::Kind::kIn;
        constraint.location = loc;
        constraint.begin = in.begin;
        constraint.end = in.end;
        constraint.left = VarTerm(any, loc);
        constraint.right.kind = AstTerm::Kind::kList;
        constraint.right.location = loc;
        for (const std::string& n : names) constraint.right.items.push_back(StrTerm(n, loc));
        parts.push_back(std::move(constraint));
        std::vector<AstTerm> args = {VarTerm("actor", loc), VarTerm(any, loc)};
        if (!ctx->global) args.push_back(VarTerm(entity, loc));
        leaf = CallExpr(v == "role" ? "has_role" : "has_permission", std::move(args), in);
      } else {
        Error(loc, absl::StrFormat(
            "variable \"%s\" in a shorthand rule must be the rule's head variable%s, or role or "
            "permission (any role or permission)",
            v,
            ctx->head_variable.empty() ? std::string(" (the head is a quoted name)")
                                       : absl::StrFormat(" \"%s\"", ctx->head_variable)));
        return false;
      }
    } else if (!ResolveName(in.name_term.value.id, in, target, ctx->global, entity, via, &leaf)) {
      return false;
    }
    if (parts.empty()) {
      *out = std::move(leaf);
      return true;
    }
    parts.push_back(std::move(leaf));
    out->kind = AstExpr::Kind::kAnd;
    out->children = std::move(parts);
    out->location = in.location;
    out->begin = in.begin;
    out->end = in.end;
    return true;
  }

  void CompileShorthand(const AstBlock& b, const AstShorthand& sh) {
    bool global = b.kind == ResourceBlock::Kind::kGlobal;
    const BlockInfo* block = nullptr;
    if (global) {
      if (!has_global_ || global_.ast != &b) return;  // duplicate block, reported
      block = &global_;
    } else {
      auto it = blocks_.find(b.type);
      if (it == blocks_.end() || it->second.ast != &b) return;
      block = &it->second;
    }
    ShorthandContext ctx;
    ctx.block = block;
    ctx.global = global;
    Location loc = sh.head.location;
    AstExpr constraint;  // `role in [...]` for a variable head
    bool has_constraint = false;
    if (sh.head.kind == AstTerm::Kind::kVariable) {
      const std::string& v = sh.head.name;
      const std::set<std::string>* names = nullptr;
      if (v == "role") {
        ctx.head_predicate = "has_role";
        names = &block->roles;
      } else if (v == "permission") {
        ctx.head_predicate = "has_permission";
        names = &block->permissions;
      } else {
        Error(loc, absl::StrFormat(
            "the head of a shorthand rule must be a quoted name, \"role\" or \"permission\", "
            "found variable \"%s\"", v));
        return;
      }
      if (names->empty()) {
        Error(loc, absl::StrFormat("shorthand rule head \"%s\" but %s declares no %ss", v,
                                   block->Describe(), v));
        return;
      }
      ctx.head_variable = v;
      constraint.kind = AstExpr::Kind::kIn;
      constraint.location = loc;
      constraint.left = VarTerm(v, loc);
      constraint.right.kind = AstTerm::Kind::kList;
      constraint.right.location = loc;
      for (const std::string& n : *names) constraint.right.items.push_back(StrTerm(n, loc));
      has_constraint = true;
    } else {
      const std::string& n = sh.head.value.id;
      if (block->permissions.count(n) != 0) {
        ctx.head_predicate = "has_permission";
      } else if (block->roles.count(n) != 0) {
        ctx.head_predicate = "has_role";
      } else {
        Error(loc, absl::StrFormat(
            "\"%s\" is not a permission or role declared in %s (declared permissions: %s; roles: %s)",
            n, block->Describe(), QuotedList(block->permissions), QuotedList(block->roles)));
        return;
      }
    }
    std::vector<std::string> vars;
    CollectVars(sh.body, &vars);
    std::set<std::string> taken(vars.begin(), vars.end());
    taken.insert({"actor", "resource"});
    Scope names(taken);
    ctx.names = &names;
    AstExpr body;
    if (!Lower(sh.body, &ctx, &body)) return;
    if (has_constraint) {
      AstExpr both;
      both.kind = AstExpr::Kind::kAnd;
      both.location = sh.body.location;
      both.begin = sh.body.begin;
      both.end = sh.body.end;
      both.children.push_back(std::move(constraint));
      both.children.push_back(std::move(body));
      body = std::move(both);
    }
    std::vector<Param> params;
    params.push_back({VarTerm("actor", sh.location), actor_types_});
    params.push_back({sh.head, {}});
    if (!global) params.push_back({VarTerm("resource", sh.location), {b.type}});
    std::string source = absl::StrCat(global ? "global" : block->Describe(), ": ", sh.source);
    EmitFamily(ctx.head_predicate, params, &body, sh.location, source);
  }

  // ---- plain rules ----
  void CheckPredicateName(const std::string& name, Location loc) {
    if (!name.empty() && name[0] == '_') {
      Error(loc, absl::StrFormat("predicate name \"%s\" is reserved (names starting with \"_\" "
                                 "are used for generated rules)", name));
    }
  }

  void CompilePlainRule(const AstRule& r) {
    CheckPredicateName(r.name, r.location);
    std::vector<Param> params;
    for (const AstParam& p : r.params) {
      Param param{p.term, {}};
      if (p.type.has_value()) param.types = ExpandType(*p.type, p.type_location);
      params.push_back(std::move(param));
    }
    EmitFamily(r.name, params, r.body.has_value() ? &*r.body : nullptr, r.location, r.source);
  }

  void AddImpliedAllow() {
    for (const Rule& r : prog_.rules) {
      if (r.predicate == "allow") return;
    }
    Rule allow;
    allow.predicate = "allow";
    allow.variable_names = {"actor", "action", "resource"};
    for (int i = 0; i < 3; ++i) {
      allow.params.push_back(Term::Var(i));
      allow.param_types.push_back({});
    }
    Literal call;
    call.kind = Literal::Kind::kCall;
    call.predicate = "has_permission";
    call.args = allow.params;
    allow.body.push_back(std::move(call));
    allow.source =
        "allow(actor, action, resource) if has_permission(actor, action, resource);  "
        "# implied: the policy defines no allow rule";
    prog_.rules.push_back(std::move(allow));
  }

  // Compiles head + body into rules (one per disjunct), appends them and any
  // helper rules to the program.
  void EmitFamily(const std::string& predicate, const std::vector<Param>& params,
                  const AstExpr* body, Location loc, const std::string& source) {
    std::vector<Rule> helpers;
    std::vector<Rule> rules = BuildFamily(predicate, params, body, loc, source, &helpers);
    for (Rule& r : rules) prog_.rules.push_back(std::move(r));
    for (Rule& r : helpers) prog_.rules.push_back(std::move(r));
  }

  struct RuleState {
    Scope* scope;
    std::map<std::string, int> total_uses;
    std::map<std::string, std::vector<std::string>> param_types;  // by variable name
    const std::string* source;
    std::vector<Rule>* helpers;
  };

  std::vector<Rule> BuildFamily(const std::string& predicate, const std::vector<Param>& params,
                                const AstExpr* body, Location loc, const std::string& source,
                                std::vector<Rule>* helpers) {
    std::vector<std::string> vars;
    for (const Param& p : params) CollectVars(p.term, &vars);
    if (body != nullptr) CollectVars(*body, &vars);
    Scope scope(std::set<std::string>(vars.begin(), vars.end()));
    RuleState st{&scope, {}, {}, &source, helpers};
    for (const std::string& v : vars) {
      if (v != "_") ++st.total_uses[v];
    }
    Rule head;
    head.predicate = predicate;
    head.location = loc;
    head.source = source;
    for (const Param& p : params) {
      if (p.term.kind == AstTerm::Kind::kVariable && p.term.name != "_" && !p.types.empty()) {
        st.param_types[p.term.name] = p.types;
      }
      head.params.push_back(ToTerm(p.term, &st));
      head.param_types.push_back({p.types});
    }
    Dnf dnf = {{}};
    if (body != nullptr) dnf = ToDnf(*body, &st);
    std::vector<Rule> out;
    for (Conjunction& c : dnf) {
      Rule r = head;
      r.body = std::move(c);
      r.variable_names = scope.names();
      Compact(&r);
      out.push_back(std::move(r));
    }
    return out;
  }

  Term ToTerm(const AstTerm& t, RuleState* st) {
    switch (t.kind) {
      case AstTerm::Kind::kVariable:
        if (t.name == "_") return Term::Var(st->scope->Fresh());
        return Term::Var(st->scope->Var(t.name));
      case AstTerm::Kind::kConstant:
        return Term::Const(t.value);
      case AstTerm::Kind::kCurrentUnixTime: {
        Term term;
        term.kind = Term::Kind::kCurrentUnixTime;
        return term;
      }
      case AstTerm::Kind::kList:
        Error(t.location, "lists are only allowed after \"in\"");
        return Term::Const({});
    }
    return Term::Const({});
  }

  Dnf ToDnf(const AstExpr& e, RuleState* st) {
    switch (e.kind) {
      case AstExpr::Kind::kAnd: {
        Dnf acc = {{}};
        for (const AstExpr& c : e.children) {
          Dnf d = ToDnf(c, st);
          Dnf next;
          for (const Conjunction& a : acc) {
            for (const Conjunction& b : d) {
              Conjunction merged = a;
              merged.insert(merged.end(), b.begin(), b.end());
              next.push_back(std::move(merged));
            }
          }
          if (next.size() > kMaxDisjuncts) {
            Error(e.location, absl::StrFormat(
                "condition expands to more than %d alternatives; split the rule", kMaxDisjuncts));
            return {{}};
          }
          acc = std::move(next);
        }
        return acc;
      }
      case AstExpr::Kind::kOr: {
        Dnf out;
        for (const AstExpr& c : e.children) {
          Dnf d = ToDnf(c, st);
          out.insert(out.end(), d.begin(), d.end());
        }
        if (out.size() > kMaxDisjuncts) {
          Error(e.location, absl::StrFormat(
              "condition expands to more than %d alternatives; split the rule", kMaxDisjuncts));
          return {{}};
        }
        return out;
      }
      case AstExpr::Kind::kNot:
        return {{Negate(e, st)}};
      case AstExpr::Kind::kCall: {
        CheckPredicateName(e.name, e.location);
        Conjunction c;
        Literal call;
        call.kind = Literal::Kind::kCall;
        call.predicate = e.name;
        call.location = e.location;
        for (const AstTerm& a : e.args) call.args.push_back(ToTerm(a, st));
        c.push_back(std::move(call));
        for (size_t i = 0; i < e.args.size(); ++i) {
          if (!e.args[i].type_annotation.has_value()) continue;
          Literal m;
          m.kind = Literal::Kind::kMatches;
          m.location = e.args[i].location;
          m.left = c[0].args[i];
          m.types = ExpandType(*e.args[i].type_annotation, e.args[i].location);
          c.push_back(std::move(m));
        }
        return {c};
      }
      case AstExpr::Kind::kUnify:
      case AstExpr::Kind::kCompare: {
        Literal l;
        l.kind = e.kind == AstExpr::Kind::kUnify ? Literal::Kind::kUnify : Literal::Kind::kCompare;
        l.op = e.op;
        l.location = e.location;
        l.left = ToTerm(e.left, st);
        l.right = ToTerm(e.right, st);
        return {{l}};
      }
      case AstExpr::Kind::kMatches: {
        Literal l;
        l.kind = Literal::Kind::kMatches;
        l.location = e.location;
        l.left = ToTerm(e.left, st);
        l.types = ExpandType(e.name, e.location);
        return {{l}};
      }
      case AstExpr::Kind::kIn: {
        Literal l;
        l.kind = Literal::Kind::kIn;
        l.location = e.location;
        l.left = ToTerm(e.left, st);
        if (e.right.kind != AstTerm::Kind::kList) {
          Error(e.right.location, "expected a list literal after \"in\"");
          return {{}};
        }
        for (const AstTerm& item : e.right.items) l.args.push_back(ToTerm(item, st));
        return {{l}};
      }
      case AstExpr::Kind::kShorthandName:
        Error(e.location, "role and permission names are only allowed in shorthand rules "
                          "inside actor, resource and global blocks");
        return {{}};
    }
    return {{}};
  }

  // `not <e>`: a direct kNotCall over a call, else a helper predicate.
  Literal Negate(const AstExpr& e, RuleState* st) {
    const AstExpr& inner = e.children[0];
    if (inner.kind == AstExpr::Kind::kCall) {
      bool simple = true;
      for (const AstTerm& a : inner.args) {
        if ((a.kind == AstTerm::Kind::kVariable && a.name == "_") || a.type_annotation) {
          simple = false;
        }
      }
      if (simple) {
        CheckPredicateName(inner.name, inner.location);
        Literal l;
        l.kind = Literal::Kind::kNotCall;
        l.predicate = inner.name;
        l.location = e.location;
        for (const AstTerm& a : inner.args) l.args.push_back(ToTerm(a, st));
        return l;
      }
    }
    // Variables of `inner` that also occur elsewhere in the rule are the
    // helper's parameters; the others are local to the negation.
    std::vector<std::string> vars;
    CollectVars(inner, &vars);
    std::map<std::string, int> inner_uses;
    for (const std::string& v : vars) {
      if (v != "_") ++inner_uses[v];
    }
    std::vector<Param> params;
    std::set<std::string> seen;
    for (const std::string& v : vars) {
      if (v == "_" || !seen.insert(v).second) continue;
      if (st->total_uses[v] > inner_uses[v]) {
        auto pt = st->param_types.find(v);
        params.push_back({VarTerm(v, inner.location),
                          pt == st->param_types.end() ? std::vector<std::string>{} : pt->second});
      }
    }
    std::string name = absl::StrCat("_not_", ++not_counter_);
    std::string text = inner.end > inner.begin && inner.end <= source_.size()
                           ? Collapse(source_.substr(inner.begin, inner.end - inner.begin))
                           : std::string("...");
    std::string helper_source = absl::StrCat("not (", text, ") in: ", *st->source);
    std::vector<Rule> rules =
        BuildFamily(name, params, &inner, inner.location, helper_source, st->helpers);
    for (Rule& r : rules) st->helpers->push_back(std::move(r));
    Literal l;
    l.kind = Literal::Kind::kNotCall;
    l.predicate = name;
    l.location = e.location;
    for (const Param& p : params) l.args.push_back(Term::Var(st->scope->Var(p.term.name)));
    return l;
  }

  // Renumbers variables in order of first use; drops unused names.
  static void Compact(Rule* r) {
    std::vector<int> remap(r->variable_names.size(), -1);
    std::vector<std::string> names;
    auto visit = [&](Term* t) {
      if (t->kind != Term::Kind::kVariable) return;
      int& m = remap[t->variable];
      if (m < 0) {
        m = static_cast<int>(names.size());
        names.push_back(r->variable_names[t->variable]);
      }
      t->variable = m;
    };
    for (Term& t : r->params) visit(&t);
    for (Literal& l : r->body) {
      if (l.kind == Literal::Kind::kIn || l.kind == Literal::Kind::kUnify ||
          l.kind == Literal::Kind::kCompare || l.kind == Literal::Kind::kMatches) {
        visit(&l.left);
      }
      if (l.kind == Literal::Kind::kUnify || l.kind == Literal::Kind::kCompare) visit(&l.right);
      for (Term& t : l.args) visit(&t);
    }
    r->variable_names = std::move(names);
  }

  // ---- tests ----
  Value ToValue(const AstTerm& t) { return t.value; }

  void CompileTests(const AstPolicy& ast) {
    std::map<std::string, const AstFixture*> fixtures;
    for (const AstFixture& f : ast.fixtures) {
      auto [it, inserted] = fixtures.emplace(f.name, &f);
      if (!inserted) {
        Error(f.location, absl::StrFormat("test fixture %s is declared twice (first at %d:%d)",
                                          f.name, it->second->location.line,
                                          it->second->location.column));
      }
    }
    std::map<std::string, Location> names;
    for (const AstTest& t : ast.tests) {
      auto [it, inserted] = names.emplace(t.name, t.location);
      if (!inserted) {
        Error(t.location, absl::StrFormat("test \"%s\" is declared twice (first at %d:%d)", t.name,
                                          it->second.line, it->second.column));
      }
      PolicyTest test;
      test.name = t.name;
      test.location = t.location;
      auto add_fact = [&](const AstFact& f) {
        Fact fact;
        fact.predicate = f.name;
        for (const AstTerm& a : f.args) fact.args.push_back(ToValue(a));
        test.setup.push_back(std::move(fact));
        test.setup_locations.push_back(f.location);
      };
      for (const AstSetupItem& item : t.setup) {
        if (item.fact.has_value()) {
          add_fact(*item.fact);
        } else if (item.fixture.has_value()) {
          auto fx = fixtures.find(item.fixture->name);
          if (fx == fixtures.end()) {
            Error(item.fixture->location,
                  absl::StrFormat("unknown test fixture \"%s\"", item.fixture->name));
            continue;
          }
          for (const AstFact& f : fx->second->facts) add_fact(f);
        }
      }
      for (const AstAssertion& a : t.assertions) test.assertions.push_back(CompileAssertion(a));
      prog_.tests.push_back(std::move(test));
    }
  }

  TestAssertion CompileAssertion(const AstAssertion& a) {
    TestAssertion out;
    out.kind = a.kind;
    out.location = a.location;
    out.source = a.source;
    std::vector<std::string> vars;
    CollectVars(a.query, &vars);
    Scope scope(std::set<std::string>(vars.begin(), vars.end()));
    std::vector<Rule> helpers;
    RuleState st{&scope, {}, {}, &a.source, &helpers};
    for (const std::string& v : vars) {
      if (v != "_") ++st.total_uses[v];
    }
    if (a.kind == TestAssertion::Kind::kIff) ++st.total_uses[a.iff_variable.name];
    Dnf dnf = ToDnf(a.query, &st);
    if (dnf.size() != 1) {
      Error(a.query.location, "\"or\" is not supported in test assertions; write one assertion "
                              "per alternative");
    } else {
      out.query = std::move(dnf[0]);
    }
    for (Rule& r : helpers) prog_.rules.push_back(std::move(r));
    out.variable_names = scope.names();
    if (a.kind == TestAssertion::Kind::kIff) {
      const std::string& v = a.iff_variable.name;
      if (!scope.Has(v) || v == "_") {
        Error(a.iff_variable.location,
              absl::StrFormat("iff variable \"%s\" does not occur in the assertion", v));
      } else {
        out.iff_variable = scope.Index(v);
      }
      for (const AstTerm& item : a.iff_list.items) {
        if (item.kind != AstTerm::Kind::kConstant) {
          Error(item.location, "iff list items must be constants");
          continue;
        }
        out.iff_values.push_back(item.value);
      }
    }
    return out;
  }

  std::string_view source_;
  Diagnostics* diag_;
  Program prog_;
  std::map<std::string, BlockInfo> blocks_;
  BlockInfo global_;
  bool has_global_ = false;
  std::vector<std::string> actor_types_;
  int not_counter_ = 0;
};

}  // namespace

Program Compile(const AstPolicy& ast, std::string_view source, Diagnostics* diagnostics) {
  return Compiler(source, diagnostics).Run(ast);
}

}  // namespace arbiter::polar
