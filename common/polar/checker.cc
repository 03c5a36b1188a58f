#include "common/polar/checker.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/polar/fact_checker.h"
#include "common/polar/program_text.h"

namespace arbiter::polar {
namespace {

bool IsCall(const Literal& l) {
  return l.kind == Literal::Kind::kCall || l.kind == Literal::Kind::kNotCall;
}

bool IsGenerated(const std::string& predicate) { return absl::StartsWith(predicate, "_"); }

std::string Arities(const std::set<size_t>& arities) {
  return absl::StrJoin(arities, " or ");
}

class Checker {
 public:
  Checker(const AstPolicy& ast, Program* program, Diagnostics* diag)
      : ast_(ast), prog_(program), diag_(diag) {}

  void Run() {
    for (const ResourceBlock& b : prog_->blocks) {
      if (b.kind == ResourceBlock::Kind::kGlobal) global_ = &b;
    }
    actor_types_.assign(prog_->actor_types.begin(), prog_->actor_types.end());
    BlockSignatures();
    DeclaredSignatures();
    CheckArities();
    CheckNegations();
    CallSignatures();
    DropSubsumed();
    CheckSetupFacts();
  }

 private:
  void Error(Location loc, std::string message) { diag_->Add(loc, std::move(message)); }

  const ResourceBlock* Block(const std::string& type) const {
    for (const ResourceBlock& b : prog_->blocks) {
      if (b.kind != ResourceBlock::Kind::kGlobal && b.type == type) return &b;
    }
    return nullptr;
  }

  void Add(FactSignature sig) {
    std::string key = SignatureToString(sig);
    if (!seen_.insert(key).second) return;
    prog_->signatures.push_back(std::move(sig));
  }

  void BlockSignatures() {
    for (const ResourceBlock& b : prog_->blocks) {
      if (b.kind == ResourceBlock::Kind::kGlobal) continue;
      if (!b.roles.empty()) {
        Add({"has_role", {{actor_types_, {}}, {{kStringType}, b.roles}, {{b.type}, {}}},
             b.location});
      }
      for (const auto& [rel, target] : b.relations) {
        Add({"has_relation", {{{b.type}, {}}, {{kStringType}, {rel}}, {{target}, {}}},
             b.location});
      }
    }
    if (global_ != nullptr && !global_->roles.empty()) {
      Add({"has_role", {{actor_types_, {}}, {{kStringType}, global_->roles}}, global_->location});
    }
  }

  std::vector<std::string> Expand(const std::string& type) const {
    if (type == "Actor") return {prog_->actor_types.begin(), prog_->actor_types.end()};
    if (type == "Resource") {  // actors are resources too (compiler.cc, ExpandType)
      std::set<std::string> all(prog_->actor_types.begin(), prog_->actor_types.end());
      all.insert(prog_->resource_types.begin(), prog_->resource_types.end());
      return {all.begin(), all.end()};
    }
    return {type};
  }

  void DeclaredSignatures() {
    for (const AstDeclare& d : ast_.declares) {
      if (d.types.empty() || static_cast<int>(d.types.size()) > kMaxArity) {
        Error(d.location, absl::StrFormat("declare %s has %d types (expected 1 to %d)", d.name,
                                          d.types.size(), kMaxArity));
        continue;
      }
      if (IsGenerated(d.name)) {
        Error(d.location, absl::StrFormat("predicate name \"%s\" is reserved", d.name));
        continue;
      }
      FactSignature sig;
      sig.predicate = d.name;
      sig.location = d.location;
      for (const AstName& t : d.types) sig.args.push_back({Expand(t.name), {}});
      Add(std::move(sig));
    }
  }

  // Arities under which each predicate is defined (rules, declarations, blocks).
  std::map<std::string, std::set<size_t>> DefinedArities() const {
    std::map<std::string, std::set<size_t>> out;
    for (const Rule& r : prog_->rules) out[r.predicate].insert(r.params.size());
    for (const FactSignature& s : prog_->signatures) out[s.predicate].insert(s.args.size());
    return out;
  }

  void CheckCallArity(const std::map<std::string, std::set<size_t>>& defined, const Literal& l) {
    if (!IsCall(l)) return;
    if (static_cast<int>(l.args.size()) > kMaxArity && !IsGenerated(l.predicate)) {
      Error(l.location, absl::StrFormat("call to %s has %d arguments (at most %d)", l.predicate,
                                        l.args.size(), kMaxArity));
      return;
    }
    auto it = defined.find(l.predicate);
    if (it == defined.end() || it->second.count(l.args.size()) != 0) return;
    Error(l.location, absl::StrFormat(
        "%s is called with %d argument%s, but it is defined with %s", l.predicate,
        l.args.size(), l.args.size() == 1 ? "" : "s", Arities(it->second)));
  }

  void CheckArities() {
    std::set<std::string> reported;
    for (const Rule& r : prog_->rules) {
      if (static_cast<int>(r.params.size()) <= kMaxArity) continue;
      std::string key = absl::StrCat(r.predicate, "@", r.location.line, ":", r.location.column);
      if (!reported.insert(key).second) continue;
      if (absl::StartsWith(r.predicate, "_not_")) {
        Error(r.location, absl::StrFormat(
            "the negated expression shares %d variables with its rule (at most %d)",
            r.params.size(), kMaxArity));
      } else {
        Error(r.location, absl::StrFormat("rule %s has %d parameters (at most %d)", r.predicate,
                                          r.params.size(), kMaxArity));
      }
    }
    auto defined = DefinedArities();
    for (const Rule& r : prog_->rules) {
      for (const Literal& l : r.body) CheckCallArity(defined, l);
    }
    for (const PolicyTest& t : prog_->tests) {
      for (const TestAssertion& a : t.assertions) {
        for (const Literal& l : a.query) CheckCallArity(defined, l);
      }
    }
  }

  void CheckNegations() {
    for (const Rule& r : prog_->rules) {
      std::set<int> bound;
      auto mark = [&](const Term& t) {
        if (t.kind == Term::Kind::kVariable) bound.insert(t.variable);
      };
      for (const Term& t : r.params) mark(t);
      for (const Literal& l : r.body) {
        switch (l.kind) {
          case Literal::Kind::kCall:
            for (const Term& t : l.args) mark(t);
            break;
          case Literal::Kind::kUnify:
            mark(l.left);
            mark(l.right);
            break;
          case Literal::Kind::kIn:
            mark(l.left);
            break;
          default:
            break;
        }
      }
      for (const Literal& l : r.body) {
        if (l.kind != Literal::Kind::kNotCall) continue;
        for (const Term& t : l.args) {
          if (t.kind == Term::Kind::kVariable && bound.count(t.variable) == 0) {
            Error(l.location, absl::StrFormat(
                "variable \"%s\" under \"not\" is not bound by the rule head or by a condition "
                "outside the \"not\" (write _ for \"any value\")",
                r.variable_names[t.variable]));
          }
        }
      }
    }
  }

  void CallSignatures() {
    std::set<std::pair<std::string, size_t>> declared;
    for (const FactSignature& s : prog_->signatures) declared.insert({s.predicate, s.args.size()});
    for (const Rule& r : prog_->rules) {
      // Infer variable types.
      std::map<int, std::vector<std::string>> types;
      std::map<int, std::string> string_value;
      for (size_t i = 0; i < r.params.size(); ++i) {
        if (r.params[i].kind == Term::Kind::kVariable && i < r.param_types.size() &&
            !r.param_types[i].types.empty()) {
          types[r.params[i].variable] = r.param_types[i].types;
        }
      }
      for (const Literal& l : r.body) {
        if (l.kind == Literal::Kind::kMatches && l.left.kind == Term::Kind::kVariable &&
            types.count(l.left.variable) == 0) {
          types[l.left.variable] = l.types;
        }
        if (l.kind == Literal::Kind::kUnify) {
          const Term* var = l.left.kind == Term::Kind::kVariable ? &l.left : &l.right;
          const Term* val = l.left.kind == Term::Kind::kConstant ? &l.left : &l.right;
          if (var->kind == Term::Kind::kVariable && val->kind == Term::Kind::kConstant &&
              types.count(var->variable) == 0) {
            types[var->variable] = {val->constant.type};
            if (val->constant.type == kStringType) string_value[var->variable] = val->constant.id;
          }
        }
      }
      // has_relation(<R-typed>, "rel", x) types x as the relation's target.
      for (const Literal& l : r.body) {
        if (l.kind != Literal::Kind::kCall || l.predicate != "has_relation" ||
            l.args.size() != 3 || l.args[0].kind != Term::Kind::kVariable ||
            l.args[1].kind != Term::Kind::kConstant || l.args[2].kind != Term::Kind::kVariable ||
            types.count(l.args[2].variable) != 0) {
          continue;
        }
        auto owner = types.find(l.args[0].variable);
        if (owner == types.end()) continue;
        std::set<std::string> targets;
        for (const std::string& t : owner->second) {
          const ResourceBlock* b = Block(t);
          if (b == nullptr || b->relations.count(l.args[1].constant.id) == 0) {
            targets.clear();
            break;
          }
          targets.insert(b->relations.at(l.args[1].constant.id));
        }
        if (!targets.empty()) types[l.args[2].variable] = {targets.begin(), targets.end()};
      }
      for (const Literal& l : r.body) {
        if (!IsCall(l) || IsGenerated(l.predicate) || l.predicate == "allow" ||
            l.predicate == "has_permission" || l.args.empty() ||
            static_cast<int>(l.args.size()) > kMaxArity) {
          continue;
        }
        FactSignature sig;
        sig.predicate = l.predicate;
        sig.location = l.location;
        for (const Term& t : l.args) {
          ArgSpec spec;
          if (t.kind == Term::Kind::kConstant) {
            spec.types = {t.constant.type};
            if (t.constant.type == kStringType) spec.values = {t.constant.id};
          } else if (t.kind == Term::Kind::kCurrentUnixTime) {
            spec.types = {kIntegerType};
          } else {
            auto it = types.find(t.variable);
            if (it != types.end()) spec.types = it->second;
            auto sv = string_value.find(t.variable);
            if (sv != string_value.end()) spec.values = {sv->second};
          }
          sig.args.push_back(std::move(spec));
        }
        Refine(&sig);
        // Declarations and blocks are authoritative: an untyped call does not
        // widen them (`declare clearance(User, Integer)` + clearance(u, level)).
        bool untyped = std::any_of(sig.args.begin(), sig.args.end(),
                                   [](const ArgSpec& a) { return a.types.empty(); });
        if (untyped && declared.count({sig.predicate, sig.args.size()}) != 0) continue;
        Add(std::move(sig));
      }
    }
  }

  static bool Covers(const std::vector<std::string>& broad, const std::vector<std::string>& narrow) {
    if (broad.empty()) return true;
    if (narrow.empty()) return false;
    for (const std::string& n : narrow) {
      if (std::find(broad.begin(), broad.end(), n) == broad.end()) return false;
    }
    return true;
  }
  // True if every fact that fits `b` also fits `a`.
  static bool Subsumes(const FactSignature& a, const FactSignature& b) {
    if (a.predicate != b.predicate || a.args.size() != b.args.size()) return false;
    for (size_t i = 0; i < a.args.size(); ++i) {
      if (!Covers(a.args[i].types, b.args[i].types)) return false;
      if (!a.args[i].values.empty() &&
          (b.args[i].values.empty() || !Covers(a.args[i].values, b.args[i].values))) {
        return false;
      }
    }
    return true;
  }

  // Removes signatures that another one covers (keeping the earlier of two
  // equivalent ones), so error messages list only what matters.
  void DropSubsumed() {
    std::vector<FactSignature>& sigs = prog_->signatures;
    std::vector<bool> drop(sigs.size(), false);
    for (size_t i = 0; i < sigs.size(); ++i) {
      for (size_t j = 0; j < sigs.size() && !drop[i]; ++j) {
        if (i == j || drop[j] || !Subsumes(sigs[j], sigs[i])) continue;
        if (!Subsumes(sigs[i], sigs[j]) || j < i) drop[i] = true;
      }
    }
    std::vector<FactSignature> kept;
    for (size_t i = 0; i < sigs.size(); ++i) {
      if (!drop[i]) kept.push_back(std::move(sigs[i]));
    }
    sigs = std::move(kept);
  }

  // Limits role / relation names to what the blocks declare.
  void Refine(FactSignature* sig) const {
    auto limit = [&](ArgSpec* name, const ArgSpec& owner, bool roles) {
      if (!name->values.empty() || owner.types.empty()) return;
      if (!name->types.empty() && name->types != std::vector<std::string>{kStringType}) return;
      std::set<std::string> names;
      for (const std::string& t : owner.types) {
        const ResourceBlock* b = Block(t);
        if (b == nullptr) return;  // some owner type is not a block: no limit
        if (roles) {
          names.insert(b->roles.begin(), b->roles.end());
        } else {
          for (const auto& [rel, target] : b->relations) names.insert(rel);
        }
      }
      if (names.empty()) return;
      name->types = {kStringType};
      name->values.assign(names.begin(), names.end());
    };
    if (sig->predicate == "has_role" && sig->args.size() == 3) {
      limit(&sig->args[1], sig->args[2], true);
    } else if (sig->predicate == "has_relation" && sig->args.size() == 3) {
      limit(&sig->args[1], sig->args[0], false);
    } else if (sig->predicate == "has_role" && sig->args.size() == 2 && global_ != nullptr &&
               sig->args[1].values.empty() && !global_->roles.empty()) {
      sig->args[1].types = {kStringType};
      sig->args[1].values = global_->roles;
    }
  }

  void CheckSetupFacts() {
    for (const PolicyTest& t : prog_->tests) {
      for (size_t i = 0; i < t.setup.size(); ++i) {
        absl::Status s = CheckFactAgainst(*prog_, t.setup[i]);
        if (!s.ok()) {
          Location loc = i < t.setup_locations.size() ? t.setup_locations[i] : t.location;
          Error(loc, std::string(s.message()));
        }
      }
    }
  }

  const AstPolicy& ast_;
  Program* prog_;
  Diagnostics* diag_;
  const ResourceBlock* global_ = nullptr;
  std::vector<std::string> actor_types_;
  std::set<std::string> seen_;
};

}  // namespace

void Check(const AstPolicy& ast, Program* program, Diagnostics* diagnostics) {
  Checker(ast, program, diagnostics).Run();
}

}  // namespace arbiter::polar
