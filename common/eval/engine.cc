#include "common/eval/engine.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/eval/engine_internal.h"
#include "common/eval/evaluation.h"
#include "common/eval/fact_index.h"

namespace arbiter::eval {

using internal::CLiteral;
using internal::CompiledProgram;
using internal::CRule;
using internal::CTerm;
using internal::PredInfo;
using LKind = polar::Literal::Kind;

namespace {

std::atomic<uint64_t> next_engine_uid{1};

// An id no fact, context fact or policy can hold (ids are UTF-8, this byte
// never is): List and Actions ask whether an allow holds for it to learn
// whether it holds for every id.
const char kUnmentionedId[] = "\xff";

std::string RenderConstant(const Value& v) {
  if (v.type == kStringType) return absl::StrCat("\"", v.id, "\"");
  if (v.type == kIntegerType || v.type == kBooleanType) return v.id;
  return absl::StrCat(v.type, "{\"", v.id, "\"}");
}

std::string RenderTerm(const polar::Rule& r, const polar::Term& t) {
  switch (t.kind) {
    case polar::Term::Kind::kVariable:
      return t.variable >= 0 && t.variable < static_cast<int>(r.variable_names.size())
                 ? r.variable_names[t.variable]
                 : "_";
    case polar::Term::Kind::kConstant:
      return RenderConstant(t.constant);
    case polar::Term::Kind::kCurrentUnixTime:
      return "@current_unix_time";
  }
  return "_";
}

// A rendering of a rule for Explain when the compiler left `source` empty.
std::string RenderRule(const polar::Rule& r) {
  std::vector<std::string> params;
  for (size_t i = 0; i < r.params.size(); ++i) {
    std::string p = RenderTerm(r, r.params[i]);
    if (i < r.param_types.size() && !r.param_types[i].types.empty()) {
      absl::StrAppend(&p, ": ", absl::StrJoin(r.param_types[i].types, " | "));
    }
    params.push_back(p);
  }
  std::string out = absl::StrCat(r.predicate, "(", absl::StrJoin(params, ", "), ")");
  if (r.body.empty()) return out + ";";
  static constexpr const char* kOps[] = {"==", "!=", "<", "<=", ">", ">="};
  std::vector<std::string> body;
  for (const polar::Literal& l : r.body) {
    std::vector<std::string> args;
    for (const polar::Term& a : l.args) args.push_back(RenderTerm(r, a));
    switch (l.kind) {
      case LKind::kCall:
        body.push_back(absl::StrCat(l.predicate, "(", absl::StrJoin(args, ", "), ")"));
        break;
      case LKind::kNotCall:
        body.push_back(absl::StrCat("not ", l.predicate, "(", absl::StrJoin(args, ", "), ")"));
        break;
      case LKind::kUnify:
        body.push_back(absl::StrCat(RenderTerm(r, l.left), " = ", RenderTerm(r, l.right)));
        break;
      case LKind::kCompare:
        body.push_back(absl::StrCat(RenderTerm(r, l.left), " ", kOps[static_cast<int>(l.op)],
                                    " ", RenderTerm(r, l.right)));
        break;
      case LKind::kMatches:
        body.push_back(absl::StrCat(RenderTerm(r, l.left), " matches ",
                                    absl::StrJoin(l.types, " | ")));
        break;
      case LKind::kIn:
        body.push_back(absl::StrCat(RenderTerm(r, l.left), " in [",
                                    absl::StrJoin(args, ", "), "]"));
        break;
    }
  }
  return absl::StrCat(out, " if ", absl::StrJoin(body, " and "), ";");
}

// Tarjan's strongly connected components over the call graph; marks every
// predicate on a cycle (or calling itself) as tabled.
void MarkRecursive(CompiledProgram& cp) {
  const size_t n = cp.preds.size();
  std::vector<std::vector<uint32_t>> edges(n);
  for (const CRule& r : cp.rules) {
    for (const CLiteral& l : r.body) {
      if (l.kind == LKind::kCall || l.kind == LKind::kNotCall) {
        edges[r.pred].push_back(l.pred);
      }
    }
  }
  std::vector<int> index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<uint32_t> stack;
  int counter = 0;
  std::function<void(uint32_t)> visit = [&](uint32_t v) {
    index[v] = low[v] = counter++;
    stack.push_back(v);
    on_stack[v] = true;
    for (uint32_t w : edges[v]) {
      if (index[w] < 0) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (on_stack[w]) {
        low[v] = std::min(low[v], index[w]);
      }
    }
    if (low[v] == index[v]) {
      std::vector<uint32_t> scc;
      uint32_t w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        scc.push_back(w);
      } while (w != v);
      bool recursive = scc.size() > 1;
      if (!recursive) {
        for (uint32_t x : edges[v]) recursive |= x == v;
      }
      if (recursive) {
        for (uint32_t x : scc) cp.preds[x].tabled = true;
      }
    }
  };
  for (uint32_t v = 0; v < n; ++v) {
    if (index[v] < 0) visit(v);
  }
}

}  // namespace

Engine::Engine(EngineOptions options)
    : options_(options), uid_(next_engine_uid.fetch_add(1)) {}

Engine::~Engine() = default;

const polar::Program& Engine::program() const { return compiled_->program; }

absl::StatusOr<std::shared_ptr<const Engine>> Engine::Create(
    polar::Program program, EngineOptions options) {
  auto cp = std::make_unique<CompiledProgram>();
  cp->program = std::move(program);
  polar::Program& prog = cp->program;

  bool has_allow = false;
  for (const polar::Rule& r : prog.rules) {
    has_allow |= r.predicate == "allow" && r.params.size() == 3;
  }
  if (!has_allow) {
    polar::Rule allow;
    allow.predicate = "allow";
    allow.params = {polar::Term::Var(0), polar::Term::Var(1), polar::Term::Var(2)};
    allow.param_types.resize(3);
    polar::Literal call;
    call.kind = LKind::kCall;
    call.predicate = "has_permission";
    call.args = allow.params;
    allow.body.push_back(call);
    allow.variable_names = {"actor", "action", "resource"};
    allow.source =
        "allow(actor, action, resource) if has_permission(actor, action, "
        "resource);  # implied: the policy defines no allow rule";
    prog.rules.push_back(std::move(allow));
  }

  auto pred_index = [&](const std::string& name, size_t arity,
                        polar::Location loc) -> absl::StatusOr<uint32_t> {
    if (arity == 0 || arity > static_cast<size_t>(kMaxArity)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%d:%d: %s has %d arguments; a predicate takes 1 to %d", loc.line,
          loc.column, name, arity, kMaxArity));
    }
    auto [it, inserted] = cp->pred_index.try_emplace(
        std::make_pair(name, static_cast<int>(arity)),
        static_cast<uint32_t>(cp->preds.size()));
    if (inserted) {
      PredInfo p;
      p.name = name;
      p.arity = static_cast<int>(arity);
      cp->preds.push_back(std::move(p));
    }
    return it->second;
  };
  auto type_ids = [&](const std::vector<std::string>& names) {
    std::vector<uint32_t> ids;
    for (const std::string& n : names) {
      auto [it, inserted] =
          cp->type_index.try_emplace(n, static_cast<uint32_t>(cp->type_names.size()));
      if (inserted) cp->type_names.push_back(n);
      ids.push_back(it->second);
    }
    return ids;
  };
  auto constant = [&](const Value& v) -> uint32_t {
    auto [it, inserted] = cp->constant_index.try_emplace(
        v, static_cast<uint32_t>(cp->constants.size()));
    if (inserted) cp->constants.push_back(v);
    return it->second;
  };

  for (const polar::Rule& rule : prog.rules) {
    const polar::Location loc = rule.location;
    CRule r;
    ARBITER_ASSIGN_OR_RETURN(r.pred, pred_index(rule.predicate, rule.params.size(), loc));
    r.num_vars = static_cast<uint32_t>(rule.variable_names.size());
    r.var_names = rule.variable_names;
    r.head_var.assign(r.num_vars, false);
    r.location = loc;
    r.text = rule.source.empty() ? RenderRule(rule) : rule.source;
    if (r.num_vars > 1024) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%d:%d: rule %s has more than 1024 variables", loc.line, loc.column,
          rule.predicate));
    }
    if (rule.body.size() > 64) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%d:%d: rule %s has more than 64 literals", loc.line, loc.column,
          rule.predicate));
    }
    auto term = [&](const polar::Term& t, CTerm* out) -> absl::Status {
      switch (t.kind) {
        case polar::Term::Kind::kVariable:
          if (t.variable < 0 || t.variable >= static_cast<int>(r.num_vars)) {
            return absl::InvalidArgumentError(absl::StrFormat(
                "%d:%d: rule %s uses variable %d of %d", loc.line, loc.column,
                rule.predicate, t.variable, r.num_vars));
          }
          *out = {CTerm::kVar, static_cast<uint32_t>(t.variable)};
          break;
        case polar::Term::Kind::kConstant:
          *out = {CTerm::kConst, constant(t.constant)};
          break;
        case polar::Term::Kind::kCurrentUnixTime:
          *out = {CTerm::kTime, 0};
          break;
      }
      return absl::OkStatus();
    };
    for (size_t i = 0; i < rule.params.size(); ++i) {
      CTerm t;
      ARBITER_RETURN_IF_ERROR(term(rule.params[i], &t));
      if (t.kind == CTerm::kVar) r.head_var[t.index] = true;
      r.params.push_back(t);
      r.param_types.push_back(i < rule.param_types.size()
                                  ? type_ids(rule.param_types[i].types)
                                  : std::vector<uint32_t>{});
    }
    for (const polar::Literal& l : rule.body) {
      CLiteral c;
      c.kind = l.kind;
      c.op = l.op;
      c.types = type_ids(l.types);
      c.location = l.location;
      if (l.kind == LKind::kCall || l.kind == LKind::kNotCall) {
        ARBITER_ASSIGN_OR_RETURN(c.pred, pred_index(l.predicate, l.args.size(), l.location));
      }
      for (const polar::Term& t : l.args) {
        CTerm ct;
        ARBITER_RETURN_IF_ERROR(term(t, &ct));
        c.args.push_back(ct);
      }
      if (l.kind != LKind::kCall && l.kind != LKind::kNotCall) {
        ARBITER_RETURN_IF_ERROR(term(l.left, &c.left));
        if (l.kind == LKind::kUnify || l.kind == LKind::kCompare) {
          ARBITER_RETURN_IF_ERROR(term(l.right, &c.right));
        }
      }
      r.body.push_back(std::move(c));
    }
    cp->preds[r.pred].rules.push_back(static_cast<uint32_t>(cp->rules.size()));
    cp->rules.push_back(std::move(r));
  }
  for (const polar::FactSignature& sig : prog.signatures) {
    auto p = pred_index(sig.predicate, sig.args.size(), sig.location);
    if (p.ok()) cp->preds[*p].declared = true;
  }
  cp->allow_pred = cp->pred_index.at(std::make_pair(std::string("allow"), 3));
  MarkRecursive(*cp);

  std::set<Value> actions;
  for (const Value& v : cp->constants) {
    if (v.type == kStringType) actions.insert(v);
  }
  for (const polar::ResourceBlock& b : prog.blocks) {
    for (const std::string& p : b.permissions) actions.insert({kStringType, p});
    for (const std::string& p : b.roles) actions.insert({kStringType, p});
  }
  cp->action_candidates.assign(actions.begin(), actions.end());

  std::shared_ptr<Engine> engine(new Engine(options));
  engine->compiled_ = std::move(cp);
  return std::shared_ptr<const Engine>(std::move(engine));
}

absl::StatusOr<bool> Engine::Authorize(const FactSource& facts, const Value& actor,
                                       const Value& action, const Value& resource,
                                       const QueryOptions& q) const {
  Evaluation ev(*this, facts, q);
  ARBITER_RETURN_IF_ERROR(ev.Init());
  const SymbolId pat[3] = {ev.Intern(actor), ev.Intern(action), ev.Intern(resource)};
  bool found = false;
  ev.Solve(compiled_->allow_pred, pat, [&](const SymbolId*) {
    found = true;
    return false;
  });
  if (!ev.status().ok()) return ev.status();
  return found;
}

absl::StatusOr<std::vector<bool>> Engine::AuthorizeResources(
    const FactSource& facts, const Value& actor, const Value& action,
    std::span<const Value> resources, const QueryOptions& q) const {
  Evaluation ev(*this, facts, q);
  ARBITER_RETURN_IF_ERROR(ev.Init());
  std::vector<bool> out;
  out.reserve(resources.size());
  const SymbolId a = ev.Intern(actor);
  const SymbolId x = ev.Intern(action);
  for (const Value& r : resources) {
    ev.ResetSteps();
    const SymbolId pat[3] = {a, x, ev.Intern(r)};
    bool found = false;
    ev.Solve(compiled_->allow_pred, pat, [&](const SymbolId*) {
      found = true;
      return false;
    });
    if (!ev.status().ok()) return ev.status();
    out.push_back(found);
  }
  return out;
}

absl::StatusOr<ListResult> Engine::List(const FactSource& facts, const Value& actor,
                                        const Value& action,
                                        std::string_view resource_type,
                                        std::string_view cursor, int limit,
                                        const QueryOptions& q) const {
  Evaluation ev(*this, facts, q);
  ARBITER_RETURN_IF_ERROR(ev.Init());
  const SymbolId a = ev.Intern(actor);
  const SymbolId x = ev.Intern(action);
  const SymbolId pat[3] = {a, x, kUnbound};
  absl::flat_hash_set<SymbolId> allowed;
  bool any = false;
  ev.Solve(compiled_->allow_pred, pat, [&](const SymbolId* t) {
    if (t[2] == kAny) {
      any = true;
    } else if (ev.ValueOf(t[2]).type ==
               absl::string_view(resource_type.data(), resource_type.size())) {
      allowed.insert(t[2]);
    }
    return true;
  });
  if (!ev.status().ok()) return ev.status();
  if (any) {
    // Some rule allows any resource (e.g. through a global role): check each
    // resource of the type that the facts mention.
    for (SymbolId r : ev.ValuesOfType(resource_type)) {
      if (allowed.contains(r)) continue;
      ev.ResetSteps();
      const SymbolId g[3] = {a, x, r};
      bool found = false;
      ev.Solve(compiled_->allow_pred, g, [&](const SymbolId*) {
        found = true;
        return false;
      });
      if (!ev.status().ok()) return ev.status();
      if (found) allowed.insert(r);
    }
    if (!ev.status().ok()) return ev.status();
  }
  ListResult result;
  if (any) {
    // Does it hold for a resource of the type that no fact can mention (an
    // id that is not UTF-8)? Then for every one.
    ev.ResetSteps();
    const SymbolId unmentioned = ev.Intern(Value{std::string(resource_type), kUnmentionedId});
    const SymbolId g[3] = {a, x, unmentioned};
    ev.Solve(compiled_->allow_pred, g, [&](const SymbolId*) {
      result.all_of_type = true;
      return false;
    });
    if (!ev.status().ok()) return ev.status();
  }
  std::vector<std::string> ids;
  ids.reserve(allowed.size());
  for (SymbolId r : allowed) {
    const absl::string_view id = ev.ValueOf(r).id;
    if (id > absl::string_view(cursor.data(), cursor.size())) ids.emplace_back(id);
  }
  std::sort(ids.begin(), ids.end());
  if (limit > 0 && ids.size() > static_cast<size_t>(limit)) {
    ids.resize(limit);
    result.next_cursor = ids.back();
  }
  result.ids = std::move(ids);
  return result;
}

absl::StatusOr<ActionsResult> Engine::Actions(
    const FactSource& facts, const Value& actor, const Value& resource,
    const QueryOptions& q) const {
  Evaluation ev(*this, facts, q);
  ARBITER_RETURN_IF_ERROR(ev.Init());
  const SymbolId a = ev.Intern(actor);
  const SymbolId r = ev.Intern(resource);
  const SymbolId pat[3] = {a, kUnbound, r};
  absl::flat_hash_set<SymbolId> allowed;
  bool any = false;
  ev.Solve(compiled_->allow_pred, pat, [&](const SymbolId* t) {
    if (t[1] == kAny) {
      any = true;
    } else if (ev.ValueOf(t[1]).type == kStringType) {
      allowed.insert(t[1]);
    }
    return true;
  });
  if (!ev.status().ok()) return ev.status();
  if (any) {
    for (const Value& v : compiled_->action_candidates) {
      SymbolId s = ev.Intern(v);
      if (allowed.contains(s)) continue;
      ev.ResetSteps();
      const SymbolId g[3] = {a, s, r};
      bool found = false;
      ev.Solve(compiled_->allow_pred, g, [&](const SymbolId*) {
        found = true;
        return false;
      });
      if (!ev.status().ok()) return ev.status();
      if (found) allowed.insert(s);
    }
  }
  ActionsResult out;
  if (any) {
    // An action no policy or fact can name (not UTF-8): allowed too?
    ev.ResetSteps();
    const SymbolId g[3] = {a, ev.Intern(Value{kStringType, kUnmentionedId}), r};
    ev.Solve(compiled_->allow_pred, g, [&](const SymbolId*) {
      out.any_action = true;
      return false;
    });
    if (!ev.status().ok()) return ev.status();
  }
  for (SymbolId s : allowed) out.actions.emplace_back(ev.ValueOf(s).id);
  std::sort(out.actions.begin(), out.actions.end());
  return out;
}

absl::StatusOr<QueryResult> Engine::Query(const FactSource& facts,
                                          std::string_view predicate,
                                          std::span<const QueryArg> args,
                                          const QueryOptions& q) const {
  if (args.empty() || args.size() > static_cast<size_t>(kMaxArity)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "query %s has %d arguments; a predicate takes 1 to %d", predicate,
        args.size(), kMaxArity));
  }
  Evaluation ev(*this, facts, q);
  ARBITER_RETURN_IF_ERROR(ev.Init());
  QueryResult result;
  std::vector<int> var_of(args.size(), -1);  // position -> result column
  SymbolId pat[kMaxArity];
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].value.has_value()) {
      pat[i] = ev.Intern(*args[i].value);
      continue;
    }
    pat[i] = kUnbound;
    if (args[i].variable == "_") continue;
    auto it = std::find(result.variables.begin(), result.variables.end(),
                        args[i].variable);
    var_of[i] = static_cast<int>(it - result.variables.begin());
    if (it == result.variables.end()) result.variables.push_back(args[i].variable);
  }
  const uint32_t pred = ev.PredIndex(std::string(predicate), static_cast<int>(args.size()));
  std::set<std::vector<SymbolId>> rows;
  ev.Solve(pred, pat, [&](const SymbolId* t) {
    std::vector<SymbolId> row(result.variables.size(), kAny);
    for (size_t i = 0; i < args.size(); ++i) {
      if (var_of[i] < 0 || t[i] == kAny) continue;
      SymbolId& slot = row[var_of[i]];
      if (slot == kAny) {
        slot = t[i];
      } else if (slot != t[i]) {
        return true;  // a repeated variable with two values
      }
    }
    rows.insert(std::move(row));
    return true;
  });
  if (!ev.status().ok()) return ev.status();
  for (const std::vector<SymbolId>& row : rows) {
    std::vector<std::optional<Value>> out;
    for (SymbolId s : row) {
      out.push_back(s == kAny ? std::nullopt : std::optional<Value>(ev.ValueOf(s).ToValue()));
    }
    result.rows.push_back(std::move(out));
  }
  std::sort(result.rows.begin(), result.rows.end());
  result.rows.erase(std::unique(result.rows.begin(), result.rows.end()),
                    result.rows.end());
  return result;
}

// --- Explain ---

namespace {

class Explainer {
 public:
  // `max_nodes` bounds WhyNot's tree (Prove's is never cut).
  Explainer(Evaluation& ev, int64_t max_nodes)
      : ev_(ev), cp_(ev.program()), nodes_left_(max_nodes) {}

  bool truncated() const { return truncated_; }

  // One proof of pred(args) that never repeats a goal on its own path.
  std::optional<ProofNode> Prove(uint32_t pred, const SymbolId* args) {
    const PredInfo& p = ev_.Pred(pred);
    std::string goal = ev_.RenderCall(p.name, args, p.arity);
    if (std::find(path_.begin(), path_.end(), goal) != path_.end()) return std::nullopt;
    bool fact = false;
    ev_.ScanFacts(pred, args, [&](const SymbolId*) {
      fact = true;
      return false;
    });
    if (!ev_.status().ok()) return std::nullopt;
    if (fact) {
      ProofNode n;
      n.kind = ProofNode::Kind::kFact;
      n.holds = true;
      n.goal = goal;
      return n;
    }
    path_.push_back(goal);
    std::optional<ProofNode> result;
    for (uint32_t ri : p.rules) {
      const CRule& r = cp_.rules[ri];
      ev_.SolveRuleFrames(r, args, [&](const SymbolId* f) -> bool {
        ProofNode node;
        node.kind = ProofNode::Kind::kRule;
        node.holds = true;
        node.goal = goal;
        node.rule_source = r.text;
        node.location = r.location;
        for (const CLiteral& lit : r.body) {
          if (lit.kind == LKind::kCall) {
            SymbolId a[kMaxArity];
            for (size_t i = 0; i < lit.args.size(); ++i) {
              a[i] = ev_.TermValue(lit.args[i], f);
            }
            std::optional<ProofNode> child = Prove(lit.pred, a);
            if (!ev_.status().ok()) return false;
            if (!child.has_value()) return true;  // try the next solution
            node.children.push_back(std::move(*child));
          } else {
            ProofNode child;
            child.kind = lit.kind == LKind::kNotCall ? ProofNode::Kind::kNegation
                                                     : ProofNode::Kind::kBuiltin;
            child.holds = true;
            child.goal = ev_.RenderLiteral(r, lit, f);
            child.location = lit.location;
            node.children.push_back(std::move(child));
          }
        }
        result = std::move(node);
        return false;
      });
      if (result.has_value() || !ev_.status().ok()) break;
    }
    path_.pop_back();
    return result;
  }

  // Why pred(args) does not hold: the fact lookup and every rule tried, with
  // the literal each failed at, depth first until the node budget is spent
  // (or kMaxWhyNotDepth, which bounds the stack).
  ProofNode WhyNot(uint32_t pred, const SymbolId* args, int depth = 0) {
    const PredInfo& p = ev_.Pred(pred);
    --nodes_left_;
    ProofNode node;
    node.kind = ProofNode::Kind::kGoal;
    node.goal = ev_.RenderCall(p.name, args, p.arity);
    bool stored = p.rules.empty() || p.declared;
    if (!stored) {
      const SymbolId any[kMaxArity] = {kUnbound, kUnbound, kUnbound, kUnbound, kUnbound};
      ev_.ScanFacts(pred, any, [&](const SymbolId*) {
        stored = true;
        return false;
      });
    }
    if (stored) {
      ProofNode nf;
      nf.kind = ProofNode::Kind::kNoFact;
      nf.goal = node.goal;
      node.children.push_back(std::move(nf));
    }
    for (uint32_t ri : p.rules) {
      const CRule& r = cp_.rules[ri];
      internal::FailureTracker tracker;
      tracker.rule = &r;
      tracker.depth = ev_.depth() + 1;
      ev_.set_tracker(&tracker);
      ev_.SolveRuleFrames(r, args, [](const SymbolId*) { return false; });
      ev_.set_tracker(nullptr);
      if (!ev_.status().ok()) return node;
      if (tracker.failures.empty()) continue;  // the head does not apply
      ProofNode rn;
      rn.kind = ProofNode::Kind::kRuleFailed;
      rn.rule_source = r.text;
      rn.location = r.location;
      std::vector<std::string> texts;
      for (const auto& fail : tracker.failures) texts.push_back(fail.text);
      rn.detail = absl::StrCat("fails at ", absl::StrJoin(texts, "; or at "));
      for (const auto& fail : tracker.failures) {
        const CLiteral& lit = r.body[fail.literal];
        if (lit.kind != LKind::kCall) continue;
        std::string g = ev_.RenderCall(ev_.Pred(lit.pred).name, fail.args.data(),
                                       static_cast<int>(fail.args.size()));
        const bool over = nodes_left_ <= 0 || depth >= kMaxWhyNotDepth;
        if (over || !seen_.insert(g).second) {
          truncated_ |= over;
          ProofNode cut;
          cut.kind = ProofNode::Kind::kCut;
          cut.goal = g;
          rn.children.push_back(std::move(cut));
          continue;
        }
        rn.children.push_back(WhyNot(lit.pred, fail.args.data(), depth + 1));
        if (!ev_.status().ok()) return node;
      }
      node.children.push_back(std::move(rn));
    }
    return node;
  }

 private:
  static constexpr int kMaxWhyNotDepth = 64;
  Evaluation& ev_;
  const CompiledProgram& cp_;
  std::vector<std::string> path_;
  absl::flat_hash_set<std::string> seen_;
  int64_t nodes_left_;
  bool truncated_ = false;
};

void RenderNode(const ProofNode& n, int indent, std::string* out) {
  std::string pad(indent * 2, ' ');
  auto loc = [](const polar::Location& l) {
    return absl::StrFormat("%d:%d", l.line, l.column);
  };
  switch (n.kind) {
    case ProofNode::Kind::kRule:
      absl::StrAppend(out, pad, n.goal, "\n", pad, "  by rule at ", loc(n.location),
                      ": ", n.rule_source, "\n");
      break;
    case ProofNode::Kind::kFact:
      absl::StrAppend(out, pad, n.goal, "\n", pad, "  by fact ", n.goal, "\n");
      return;
    case ProofNode::Kind::kBuiltin:
      absl::StrAppend(out, pad, n.goal, "  (holds)\n");
      return;
    case ProofNode::Kind::kNegation:
      absl::StrAppend(out, pad, n.goal, "  (holds: no proof of the call)\n");
      return;
    case ProofNode::Kind::kGoal:
      absl::StrAppend(out, pad, n.goal, "  does not hold\n");
      break;
    case ProofNode::Kind::kNoFact:
      absl::StrAppend(out, pad, "  no fact ", n.goal, "\n");
      return;
    case ProofNode::Kind::kRuleFailed:
      absl::StrAppend(out, pad, "  rule at ", loc(n.location), ": ", n.rule_source,
                      "\n", pad, "    ", n.detail, "\n");
      for (const ProofNode& c : n.children) RenderNode(c, indent + 2, out);
      return;
    case ProofNode::Kind::kCut:
      absl::StrAppend(out, pad, n.goal, "  does not hold (not explained further)\n");
      return;
  }
  for (const ProofNode& c : n.children) RenderNode(c, indent + 1, out);
}

}  // namespace

absl::StatusOr<Explanation> Engine::Explain(const FactSource& facts,
                                            const Value& actor, const Value& action,
                                            const Value& resource,
                                            const QueryOptions& q) const {
  Evaluation ev(*this, facts, q);
  ARBITER_RETURN_IF_ERROR(ev.Init());
  const SymbolId goal[3] = {ev.Intern(actor), ev.Intern(action), ev.Intern(resource)};
  Explanation ex;
  ev.Solve(compiled_->allow_pred, goal, [&](const SymbolId*) {
    ex.allowed = true;
    return false;
  });
  if (!ev.status().ok()) return ev.status();
  Explainer x(ev, options_.max_explain_nodes);
  if (ex.allowed) {
    std::optional<ProofNode> proof = x.Prove(compiled_->allow_pred, goal);
    if (!ev.status().ok()) return ev.status();
    if (!proof.has_value()) {
      return absl::InternalError("allow holds but no proof was reconstructed");
    }
    ex.proof = std::move(*proof);
    ex.text = "ALLOW\n";
  } else {
    ex.proof = x.WhyNot(compiled_->allow_pred, goal);
    if (!ev.status().ok()) return ev.status();
    ex.text = "DENY\n";
    ex.truncated = x.truncated();
  }
  RenderNode(ex.proof, 0, &ex.text);
  if (ex.truncated) {
    absl::StrAppend(&ex.text, "(explanation cut at ", options_.max_explain_nodes,
                    " nodes: goals marked \"not explained further\" were not expanded)\n");
  }
  return ex;
}

// --- Tests ---

namespace {

std::string ValueSet(const std::set<Value>& s) {
  std::vector<std::string> parts;
  for (const Value& v : s) parts.push_back(ToString(v));
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

}  // namespace

absl::StatusOr<std::vector<TestResult>> Engine::RunTests(const QueryOptions& q) const {
  std::vector<TestResult> results;
  for (const polar::PolicyTest& test : compiled_->program.tests) {
    TestResult tr;
    tr.name = test.name;
    tr.location = test.location;
    auto facts = FactIndex::Create(test.setup);
    if (!facts.ok()) {
      return Annotate(facts.status(), absl::StrFormat("%d:%d: test \"%s\" setup",
                                                      test.location.line,
                                                      test.location.column, test.name));
    }
    for (const polar::TestAssertion& as : test.assertions) {
      ++tr.assertions;
      AssertionFailure failure;
      failure.location = as.location;
      failure.source = as.source;
      Evaluation ev(*this, **facts, q);
      absl::Status s = ev.Init();
      absl::StatusOr<CRule> rule =
          s.ok() ? ev.CompileQuery(as.query, as.variable_names) : absl::StatusOr<CRule>(s);
      if (!rule.ok()) {
        failure.message = std::string(rule.status().message());
        tr.failures.push_back(std::move(failure));
        continue;
      }
      internal::FrameArena::Mark mark;
      SymbolId* f = ev.AllocFrame(rule->num_vars, &mark);
      if (as.kind != polar::TestAssertion::Kind::kIff) {
        bool found = false;
        ev.SolveBody(*rule, f, 0, [&]() {
          found = true;
          return false;
        });
        if (!ev.status().ok()) {
          failure.message = ev.status().ToString();
        } else if (as.kind == polar::TestAssertion::Kind::kAssert && !found) {
          failure.message = "expected to hold, but it does not";
        } else if (as.kind == polar::TestAssertion::Kind::kAssertNot && found) {
          failure.message = "expected not to hold, but it does";
        }
      } else if (as.iff_variable < 0 ||
                 as.iff_variable >= static_cast<int>(rule->num_vars)) {
        failure.message = "iff names no variable of the query";
      } else {
        const uint32_t var = static_cast<uint32_t>(as.iff_variable);
        std::set<Value> got;
        bool any = false;
        ev.SolveBody(*rule, f, 0, [&]() {
          if (f[var] == kUnbound) {
            any = true;
          } else {
            got.insert(ev.ValueOf(f[var]).ToValue());
          }
          return true;
        });
        if (any && ev.status().ok()) {
          // Holds for any value: check each value the test mentions.
          std::vector<SymbolId> candidates = ev.AllValues();
          for (const Value& v : as.iff_values) candidates.push_back(ev.Intern(v));
          for (SymbolId c : candidates) {
            if (got.contains(ev.ValueOf(c).ToValue())) continue;
            f[var] = c;
            bool found = false;
            ev.SolveBody(*rule, f, 0, [&]() {
              found = true;
              return false;
            });
            f[var] = kUnbound;
            if (!ev.status().ok()) break;
            if (found) got.insert(ev.ValueOf(c).ToValue());
          }
        }
        std::set<Value> want(as.iff_values.begin(), as.iff_values.end());
        if (!ev.status().ok()) {
          failure.message = ev.status().ToString();
        } else if (got != want) {
          std::set<Value> missing, extra;
          std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                              std::inserter(missing, missing.end()));
          std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                              std::inserter(extra, extra.end()));
          failure.message = absl::StrCat("expected exactly ", ValueSet(want), ", got ",
                                          ValueSet(got));
          if (!missing.empty()) absl::StrAppend(&failure.message, "; missing ", ValueSet(missing));
          if (!extra.empty()) absl::StrAppend(&failure.message, "; unexpected ", ValueSet(extra));
        }
      }
      ev.ReleaseFrame(mark);
      if (!failure.message.empty()) tr.failures.push_back(std::move(failure));
    }
    tr.passed = tr.failures.empty();
    results.push_back(std::move(tr));
  }
  return results;
}

absl::StatusOr<std::vector<TestResult>> RunTests(const polar::Program& program,
                                                 const QueryOptions& q) {
  ARBITER_ASSIGN_OR_RETURN(auto engine, Engine::Create(program));
  return engine->RunTests(q);
}

std::string FormatTestResults(std::span<const TestResult> results) {
  std::string out;
  int passed = 0;
  for (const TestResult& r : results) {
    passed += r.passed;
    absl::StrAppendFormat(&out, "%s %s (%d assertions)\n", r.passed ? "PASS" : "FAIL",
                          r.name, r.assertions);
    for (const AssertionFailure& f : r.failures) {
      absl::StrAppendFormat(&out, "  %d:%d: %s: %s\n", f.location.line, f.location.column,
                            f.source, f.message);
    }
  }
  absl::StrAppendFormat(&out, "%d of %d tests passed\n", passed, results.size());
  return out;
}

}  // namespace arbiter::eval
