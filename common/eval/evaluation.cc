#include "common/eval/evaluation.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/thread_util.h"

namespace arbiter::eval {

using internal::CLiteral;
using internal::CRule;
using internal::CTerm;
using internal::PredInfo;
using internal::Table;
using LKind = polar::Literal::Kind;

namespace internal {

FrameArena::FrameArena() { blocks_.push_back(std::make_unique<SymbolId[]>(kBlock)); }

SymbolId* FrameArena::Alloc(size_t n) {
  if (used_ + n > kBlock) {
    ++block_;
    used_ = 0;
    if (block_ == blocks_.size()) {
      blocks_.push_back(std::make_unique<SymbolId[]>(std::max(n, kBlock)));
    }
  }
  SymbolId* p = blocks_[block_].get() + used_;
  used_ += n;
  return p;
}

void Scratch::Reset() {
  num_tables = 0;
  table_index.clear();
  answer_set.clear();
  stack.clear();
  completion.clear();
  frames.Reset();
  if (!extras.empty()) {
    extras.clear();
    extra_index.clear();
  }
  for (uint32_t p : ctx_used) ctx_rows[p].clear();
  ctx_used.clear();
}

namespace {

thread_local std::vector<std::unique_ptr<Scratch>> tls_pool;

std::unique_ptr<Scratch> AcquireScratch() {
  if (tls_pool.empty()) return std::make_unique<Scratch>();
  std::unique_ptr<Scratch> s = std::move(tls_pool.back());
  tls_pool.pop_back();
  return s;
}

}  // namespace
}  // namespace internal

Evaluation::Evaluation(const Engine& engine, const FactSource& facts,
                       const QueryOptions& q)
    : engine_(engine),
      cp_(*engine.compiled_),
      facts_(facts),
      q_(q),
      scratch_(internal::AcquireScratch()) {}

Evaluation::~Evaluation() {
  // Init() resets the scratch of the next evaluation.
  if (internal::tls_pool.size() < 4) internal::tls_pool.push_back(std::move(scratch_));
}

absl::Status Evaluation::Init() {
  budget_ = q_.step_budget.value_or(0) > 0 ? *q_.step_budget
                                          : engine_.options().step_budget;
  max_depth_ = engine_.options().max_depth;
  {
    // The floor sits max_stack_bytes below this frame, and never closer to
    // the end of the thread's stack than kReserve (room for what the
    // evaluation calls: allocation, hashing, formatting the error).
    constexpr size_t kReserve = 256 << 10;
    const void* here = __builtin_frame_address(0);
    const size_t below = StackBytesBelow(here);
    stack_limit_ = std::min(engine_.options().max_stack_bytes,
                            below > kReserve ? below - kReserve : 0);
    stack_floor_ = reinterpret_cast<uintptr_t>(here) - stack_limit_;
  }
  internal::Scratch& s = *scratch_;
  s.Reset();
  n_const_ = static_cast<uint32_t>(cp_.constants.size());

  if (q_.use_fast_path) {
    mem_ = dynamic_cast<const FactIndex*>(&facts_);
    if (mem_ == nullptr) {
      if (auto* ov = dynamic_cast<const OverlayFactSource*>(&facts_)) {
        mem_ = dynamic_cast<const FactIndex*>(ov->base());
        if (mem_ != nullptr) {
          for (const Fact& f : ov->extra()) context_.push_back(&f);
        }
      }
    }
  }
  if (mem_ != nullptr) {
    for (const Fact& f : q_.context) context_.push_back(&f);
    n_src_ = static_cast<uint32_t>(mem_->num_symbols());
    if (s.engine_uid != engine_.uid_ || s.source_uid != mem_->uid()) {
      s.engine_uid = engine_.uid_;
      s.source_uid = mem_->uid();
      s.cmap.resize(n_const_);
      for (uint32_t i = 0; i < n_const_; ++i) {
        SymbolId id = mem_->Find(cp_.constants[i]);
        s.cmap[i] = id != kNoSymbol ? id : n_src_ + i;
      }
      s.rels.resize(cp_.preds.size());
      for (size_t p = 0; p < cp_.preds.size(); ++p) {
        s.rels[p] = mem_->FindRelation(cp_.preds[p].name, cp_.preds[p].arity);
      }
      s.tmap.resize(cp_.type_names.size());
      for (size_t t = 0; t < cp_.type_names.size(); ++t) {
        s.tmap[t] = mem_->FindType(cp_.type_names[t]);
      }
    }
    if (!context_.empty()) {
      has_context_ = true;
      if (s.ctx_rows.size() < cp_.preds.size()) s.ctx_rows.resize(cp_.preds.size());
      for (uint32_t p = 0; p < cp_.preds.size(); ++p) AddContextRows(p);
    }
  } else {
    n_src_ = 0;
    if (s.engine_uid != engine_.uid_ || s.source_uid != 0) {
      s.engine_uid = engine_.uid_;
      s.source_uid = 0;
      s.cmap.resize(n_const_);
      for (uint32_t i = 0; i < n_const_; ++i) s.cmap[i] = i;
      s.rels.assign(cp_.preds.size(), nullptr);
    }
    if (!q_.context.empty()) {
      overlay_ = std::make_unique<OverlayFactSource>(&facts_, q_.context);
      source_ = overlay_.get();
    } else {
      source_ = &facts_;
    }
  }
  return absl::OkStatus();
}

void Evaluation::AddContextRows(uint32_t pred) {
  const PredInfo& p = Pred(pred);
  internal::Scratch& s = *scratch_;
  if (s.ctx_rows.size() <= pred) s.ctx_rows.resize(pred + 1);
  std::vector<SymbolId>& rows = s.ctx_rows[pred];
  const IndexedRelation* rel = RelationOf(pred);
  for (const Fact* f : context_) {
    if (f->predicate != p.name || static_cast<int>(f->args.size()) != p.arity) {
      continue;
    }
    SymbolId row[kMaxArity];
    bool in_base = rel != nullptr;
    for (int i = 0; i < p.arity; ++i) {
      row[i] = Intern(f->args[i]);
      if (row[i] >= n_src_) in_base = false;
    }
    if (in_base && rel->Contains(row)) continue;
    bool dup = false;
    for (size_t i = 0; i + p.arity <= rows.size() && !dup; i += p.arity) {
      dup = std::memcmp(&rows[i], row, p.arity * sizeof(SymbolId)) == 0;
    }
    if (dup) continue;
    if (rows.empty()) s.ctx_used.push_back(pred);
    rows.insert(rows.end(), row, row + p.arity);
  }
}

SymbolId Evaluation::Intern(const Value& v) {
  if (mem_ != nullptr) {
    SymbolId id = mem_->Find(v);
    if (id != kNoSymbol) return id;
  }
  auto c = cp_.constant_index.find(v);
  if (c != cp_.constant_index.end()) return scratch_->cmap[c->second];
  internal::Scratch& s = *scratch_;
  auto it = s.extra_index.find(std::make_pair(std::string_view(v.type),
                                              std::string_view(v.id)));
  if (it != s.extra_index.end()) return it->second;
  SymbolId id = n_src_ + n_const_ + static_cast<SymbolId>(s.extras.size());
  const Value& stored = s.extras.emplace_back(v);
  s.extra_index.emplace(std::make_pair(std::string_view(stored.type),
                                       std::string_view(stored.id)),
                        id);
  return id;
}

ValueRef Evaluation::ValueOf(SymbolId s) const {
  if (s < n_src_) return mem_->value(s);
  const Value& v = s < n_src_ + n_const_ ? cp_.constants[s - n_src_]
                                         : scratch_->extras[s - n_src_ - n_const_];
  return ValueRef{v.type, v.id};
}

const std::string& Evaluation::TypeName(uint32_t t) const {
  return t < cp_.type_names.size() ? cp_.type_names[t]
                                   : local_type_names_[t - cp_.type_names.size()];
}

uint32_t Evaluation::TypeIndex(const std::string& name) {
  auto it = cp_.type_index.find(name);
  if (it != cp_.type_index.end()) return it->second;
  for (size_t i = 0; i < local_type_names_.size(); ++i) {
    if (local_type_names_[i] == name) return static_cast<uint32_t>(cp_.type_names.size() + i);
  }
  local_type_names_.push_back(name);
  return static_cast<uint32_t>(cp_.type_names.size() + local_type_names_.size() - 1);
}

bool Evaluation::TypeInSlow(SymbolId s, const std::vector<uint32_t>& types) const {
  const absl::string_view ty = ValueOf(s).type;
  for (uint32_t t : types) {
    if (TypeName(t) == ty) return true;
  }
  return false;
}

uint32_t Evaluation::PredIndex(const std::string& name, int arity) {
  auto it = cp_.pred_index.find(std::make_pair(name, arity));
  if (it != cp_.pred_index.end()) return it->second;
  for (size_t i = 0; i < local_preds_.size(); ++i) {
    if (local_preds_[i].name == name && local_preds_[i].arity == arity) {
      return static_cast<uint32_t>(cp_.preds.size() + i);
    }
  }
  PredInfo p;
  p.name = name;
  p.arity = arity;
  local_preds_.push_back(std::move(p));
  local_rels_.push_back(mem_ != nullptr ? mem_->FindRelation(name, arity)
                                        : nullptr);
  uint32_t index = static_cast<uint32_t>(cp_.preds.size() + local_preds_.size() - 1);
  if (has_context_) AddContextRows(index);
  return index;
}

bool Evaluation::Fail(absl::Status s) {
  if (status_.ok()) status_ = std::move(s);
  return false;
}

bool Evaluation::BudgetExceeded() {
  return Fail(absl::ResourceExhaustedError(absl::StrFormat(
      "evaluation exceeded its step budget of %d steps (rules tried, facts "
      "and answers visited); the policy recurses too widely or the query is "
      "too broad",
      budget_)));
}

bool Evaluation::CheckInterrupt() {
  if (q_.deadline != absl::InfiniteFuture() && absl::Now() >= q_.deadline) {
    return Fail(absl::DeadlineExceededError(absl::StrFormat(
        "evaluation stopped at the request's deadline after %d steps", steps_)));
  }
  if (q_.cancelled && q_.cancelled()) {
    return Fail(absl::CancelledError(
        absl::StrFormat("evaluation stopped: the request was cancelled after %d steps", steps_)));
  }
  return true;
}

bool Evaluation::StackExhausted() {
  return Fail(absl::ResourceExhaustedError(absl::StrFormat(
      "evaluation exceeded its stack limit of %d KiB: the policy's rules and "
      "conditions nest too deeply (each body literal and rule application "
      "nests one level)",
      stack_limit_ >> 10)));
}

SymbolId Evaluation::TimeSymbol() {
  if (time_sym_ == kUnbound) {
    int64_t now = q_.now_unix_seconds.has_value() ? *q_.now_unix_seconds
                                                  : absl::ToUnixSeconds(absl::Now());
    time_sym_ = Intern(Value{kIntegerType, absl::StrCat(now)});
  }
  return time_sym_;
}

SymbolId* Evaluation::AllocFrame(size_t n, internal::FrameArena::Mark* mark) {
  *mark = scratch_->frames.mark();
  SymbolId* f = scratch_->frames.Alloc(n);
  std::fill(f, f + n, kUnbound);
  return f;
}

void Evaluation::ReleaseFrame(internal::FrameArena::Mark mark) {
  scratch_->frames.Release(mark);
}

// --- Facts ---

bool Evaluation::ScanFacts(uint32_t pred, const SymbolId* pat, Cont k) {
  const int arity = Pred(pred).arity;
  if (mem_ != nullptr) {
    if (const IndexedRelation* rel = RelationOf(pred)) {
      Mask mask = 0;
      bool possible = true;
      for (int i = 0; i < arity; ++i) {
        if (pat[i] == kUnbound) continue;
        if (pat[i] >= n_src_) {
          possible = false;  // a value no stored fact mentions
          break;
        }
        mask |= 1u << i;
      }
      if (possible && !rel->ForEach(mask, pat, [&](const SymbolId* ids) {
            return Step() && k(ids);
          })) {
        return false;
      }
    }
    if (has_context_ && pred < scratch_->ctx_rows.size()) {
      const std::vector<SymbolId>& rows = scratch_->ctx_rows[pred];
      for (size_t r = 0; r < rows.size(); r += arity) {
        bool match = true;
        for (int i = 0; i < arity && match; ++i) {
          match = pat[i] == kUnbound || pat[i] == rows[r + i];
        }
        if (!match) continue;
        if (!Step()) return false;
        SymbolId row[kMaxArity];
        std::copy(&rows[r], &rows[r] + arity, row);  // rows may grow in k
        if (!k(row)) return false;
      }
    }
    return true;
  }
  std::optional<Value> pattern[kMaxArity];
  for (int i = 0; i < arity; ++i) {
    if (pat[i] != kUnbound) pattern[i] = ValueOf(pat[i]).ToValue();
  }
  bool stopped = false;
  absl::Status s = source_->Scan(
      Pred(pred).name, std::span<const std::optional<Value>>(pattern, arity),
      [&](std::span<const Value> args) {
        if (static_cast<int>(args.size()) != arity) return true;
        if (!Step()) {
          stopped = true;
          return false;
        }
        SymbolId row[kMaxArity];
        for (int i = 0; i < arity; ++i) row[i] = Intern(args[i]);
        if (!k(row)) {
          stopped = true;
          return false;
        }
        return true;
      });
  if (!s.ok()) return Fail(s);
  return !stopped;
}

// --- Resolution ---

bool Evaluation::Solve(uint32_t pred, const SymbolId* pat, Cont k) {
  const PredInfo& p = Pred(pred);
  if (!p.tabled) {
    if (!ScanFacts(pred, pat, k)) return false;
    for (uint32_t r : p.rules) {
      if (!SolveRule(cp_.rules[r], pat, k)) return false;
    }
    return true;
  }
  uint32_t t = GetTable(pred, pat);
  if (!EnsureTable(t)) return false;
  return Consume(t, k);
}

bool Evaluation::SolveRuleFrames(const CRule& r, const SymbolId* pat,
                                 absl::FunctionRef<bool(const SymbolId*)> k) {
  // Most rules of a predicate differ in a constant ("read", "push") or a
  // parameter type: reject those before allocating a frame. Not a step.
  for (size_t i = 0; i < r.params.size(); ++i) {
    if (pat[i] == kUnbound) continue;
    const CTerm& p = r.params[i];
    if (p.kind != CTerm::kVar && TermValue(p, nullptr) != pat[i]) return true;
    if (!r.param_types[i].empty() && !TypeIn(pat[i], r.param_types[i])) return true;
  }
  if (!Step() || !StackLeft()) return false;
  if (++depth_ > max_depth_) {
    --depth_;
    return Fail(absl::ResourceExhaustedError(absl::StrFormat(
        "evaluation exceeded its maximum depth of %d nested rules",
        max_depth_)));
  }
  internal::FrameArena::Mark mark;
  SymbolId* f = AllocFrame(r.num_vars, &mark);
  bool match = true;
  for (size_t i = 0; i < r.params.size() && match; ++i) {
    if (pat[i] == kUnbound) continue;
    const CTerm& p = r.params[i];
    if (p.kind == CTerm::kVar) {
      SymbolId& slot = f[p.index];
      if (slot == kUnbound) {
        slot = pat[i];
      } else if (slot != pat[i]) {
        match = false;
      }
    } else if (TermValue(p, f) != pat[i]) {
      match = false;
    }
    if (match && !r.param_types[i].empty() && !TypeIn(pat[i], r.param_types[i])) {
      match = false;
    }
  }
  bool ok = true;
  if (match) {
    ok = SolveBody(r, f, 0, [&]() { return k(f); });
  }
  ReleaseFrame(mark);
  --depth_;
  return ok;
}

bool Evaluation::SolveRule(const CRule& r, const SymbolId* pat, Cont k) {
  return SolveRuleFrames(r, pat, [&](const SymbolId* f) -> bool {
    SymbolId tuple[kMaxArity];
    for (size_t i = 0; i < r.params.size(); ++i) {
      SymbolId v = TermValue(r.params[i], f);
      if (v == kUnbound) {
        v = kAny;
      } else if (pat[i] == kUnbound && !r.param_types[i].empty() &&
                 !TypeIn(v, r.param_types[i])) {
        return true;  // the parameter's type does not fit: no answer
      }
      tuple[i] = v;
    }
    return k(tuple);
  });
}

bool Evaluation::Ready(const CLiteral& lit, const SymbolId* f) {
  auto bound = [&](const CTerm& t) {
    return t.kind != CTerm::kVar || f[t.index] != kUnbound;
  };
  switch (lit.kind) {
    case LKind::kCall:
    case LKind::kIn:
      return true;
    case LKind::kUnify:
      return bound(lit.left) || bound(lit.right);
    case LKind::kCompare:
      if (lit.op == polar::CompareOp::kEq) return bound(lit.left) || bound(lit.right);
      return bound(lit.left) && bound(lit.right);
    case LKind::kMatches:
      return bound(lit.left);
    case LKind::kNotCall:
      for (const CTerm& a : lit.args) {
        if (!bound(a)) return false;
      }
      return true;
  }
  return true;
}

bool Evaluation::SolveBody(const CRule& r, SymbolId* f, uint64_t done, Cont0 k) {
  if (!StackLeft()) return false;
  const size_t n = r.body.size();
  int pick = -1;
  for (size_t i = 0; i < n; ++i) {
    if (done & (uint64_t{1} << i)) continue;
    if (Ready(r.body[i], f)) {
      pick = static_cast<int>(i);
      break;
    }
    if (pick == -1) pick = -2;  // something is waiting
  }
  if (pick == -1) return k();
  if (pick == -2) return Stuck(r, f, done, k);
  const uint64_t next = done | (uint64_t{1} << pick);
  if (tracker_ != nullptr && tracker_->rule == &r && tracker_->depth == depth_) {
    bool any = false;
    bool ok = SolveLiteral(r.body[pick], f, [&]() {
      any = true;
      return SolveBody(r, f, next, k);
    });
    if (ok && !any && status_.ok()) {
      int depth = __builtin_popcountll(done);
      if (depth > tracker_->best_depth) {
        tracker_->best_depth = depth;
        tracker_->failures.clear();
      }
      if (depth == tracker_->best_depth && tracker_->failures.size() < 3) {
        internal::FailureTracker::Failure fail{
            pick, RenderLiteral(r, r.body[pick], f), {}};
        for (const CTerm& a : r.body[pick].args) fail.args.push_back(TermValue(a, f));
        tracker_->failures.push_back(std::move(fail));
      }
    }
    return ok;
  }
  return SolveLiteral(r.body[pick], f, [&]() { return SolveBody(r, f, next, k); });
}

// Every literal left waits for a variable nothing binds. A variable of the
// head may stay unbound (the answer holds for any value there, kAny); one
// local to the body is an error in the policy.
bool Evaluation::Stuck(const CRule& r, const SymbolId* f, uint64_t done, Cont0 k) {
  for (size_t i = 0; i < r.body.size(); ++i) {
    if (done & (uint64_t{1} << i)) continue;
    const CLiteral& lit = r.body[i];
    std::vector<const CTerm*> terms = {&lit.left, &lit.right};
    for (const CTerm& a : lit.args) terms.push_back(&a);
    for (const CTerm* t : terms) {
      if (t->kind != CTerm::kVar || f[t->index] != kUnbound) continue;
      if (lit.kind != LKind::kCall && lit.kind != LKind::kIn &&
          (lit.kind == LKind::kNotCall || !r.head_var[t->index])) {
        return Fail(absl::InvalidArgumentError(absl::StrFormat(
            "%d:%d: variable `%s` is never bound when this %s is evaluated",
            lit.location.line, lit.location.column, r.var_names[t->index],
            lit.kind == LKind::kNotCall ? "`not`" : "comparison")));
      }
    }
  }
  return k();
}

bool Evaluation::Compare(SymbolId a, SymbolId b, polar::CompareOp op) const {
  using polar::CompareOp;
  if (op == CompareOp::kEq) return a == b;
  if (op == CompareOp::kNe) return a != b;
  const ValueRef va = ValueOf(a);
  const ValueRef vb = ValueOf(b);
  int cmp;
  if (va.type == kIntegerType && vb.type == kIntegerType) {
    int64_t x, y;
    if (!absl::SimpleAtoi(va.id, &x) || !absl::SimpleAtoi(vb.id, &y)) return false;
    cmp = x < y ? -1 : (x > y ? 1 : 0);
  } else if (va.type == kStringType && vb.type == kStringType) {
    cmp = va.id.compare(vb.id);
  } else {
    return false;
  }
  switch (op) {
    case CompareOp::kLt:
      return cmp < 0;
    case CompareOp::kLe:
      return cmp <= 0;
    case CompareOp::kGt:
      return cmp > 0;
    case CompareOp::kGe:
      return cmp >= 0;
    default:
      return false;
  }
}

bool Evaluation::SolveLiteral(const CLiteral& lit, SymbolId* f, Cont0 k) {
  if (!Step()) return false;
  switch (lit.kind) {
    case LKind::kCall: {
      SymbolId pat[kMaxArity];
      const int arity = static_cast<int>(lit.args.size());
      for (int i = 0; i < arity; ++i) pat[i] = TermValue(lit.args[i], f);
      return Solve(lit.pred, pat, [&](const SymbolId* tuple) -> bool {
        uint32_t bound[kMaxArity];
        int nb = 0;
        bool ok = true;
        for (int i = 0; i < arity; ++i) {
          if (pat[i] != kUnbound || tuple[i] == kAny) continue;
          SymbolId& slot = f[lit.args[i].index];
          if (slot == kUnbound) {
            slot = tuple[i];
            bound[nb++] = lit.args[i].index;
          } else if (slot != tuple[i]) {
            ok = false;  // a repeated variable with two values
            break;
          }
        }
        bool r = ok ? k() : true;
        for (int j = 0; j < nb; ++j) f[bound[j]] = kUnbound;
        return r;
      });
    }
    case LKind::kNotCall: {
      SymbolId pat[kMaxArity];
      const int arity = static_cast<int>(lit.args.size());
      for (int i = 0; i < arity; ++i) pat[i] = TermValue(lit.args[i], f);
      const uint32_t saved_dep = lowest_dep_;
      const uint32_t before = dfs_counter_;
      lowest_dep_ = UINT32_MAX;
      bool found = false;
      bool ok = Solve(lit.pred, pat, [&](const SymbolId*) {
        found = true;
        return false;
      });
      const bool depends_outside = lowest_dep_ <= before;
      lowest_dep_ = std::min(saved_dep, lowest_dep_);
      if (!ok && !status_.ok()) return false;
      if (found) return true;
      if (depends_outside) {
        return Fail(absl::InvalidArgumentError(absl::StrFormat(
            "%d:%d: `not %s` depends on itself through recursion (negation "
            "must be stratified)",
            lit.location.line, lit.location.column,
            RenderCall(Pred(lit.pred).name, pat, arity))));
      }
      return k();
    }
    case LKind::kUnify:
    case LKind::kCompare: {
      SymbolId a = TermValue(lit.left, f);
      SymbolId b = TermValue(lit.right, f);
      const bool unify =
          lit.kind == LKind::kUnify || lit.op == polar::CompareOp::kEq;
      if (a != kUnbound && b != kUnbound) {
        bool holds = unify ? a == b : Compare(a, b, lit.op);
        return holds ? k() : true;
      }
      const CTerm& var = a == kUnbound ? lit.left : lit.right;
      f[var.index] = a == kUnbound ? b : a;
      bool r = k();
      f[var.index] = kUnbound;
      return r;
    }
    case LKind::kMatches: {
      SymbolId a = TermValue(lit.left, f);
      return TypeIn(a, lit.types) ? k() : true;
    }
    case LKind::kIn: {
      SymbolId s = TermValue(lit.left, f);
      if (s != kUnbound) {
        for (const CTerm& e : lit.args) {
          if (!Step()) return false;
          if (TermValue(e, f) == s) return k();
        }
        return true;
      }
      for (const CTerm& e : lit.args) {
        if (!Step()) return false;
        SymbolId v = TermValue(e, f);
        if (v == kUnbound) continue;
        f[lit.left.index] = v;
        bool r = k();
        f[lit.left.index] = kUnbound;
        if (!r) return false;
      }
      return true;
    }
  }
  return true;
}

// --- Tables ---

uint32_t Evaluation::GetTable(uint32_t pred, const SymbolId* pat) {
  internal::TableKey key;
  key.pred = pred;
  const int arity = Pred(pred).arity;
  bool ground = true;
  for (int i = 0; i < kMaxArity; ++i) {
    key.v[i] = i < arity ? pat[i] : kNoSymbol;
    if (i < arity && pat[i] == kUnbound) ground = false;
  }
  internal::Scratch& s = *scratch_;
  auto [it, inserted] =
      s.table_index.try_emplace(key, static_cast<uint32_t>(s.num_tables));
  if (!inserted) return it->second;
  if (s.num_tables == s.tables.size()) s.tables.emplace_back();
  Table& t = s.tables[s.num_tables++];
  t.pred = pred;
  t.arity = static_cast<uint8_t>(arity);
  t.ground = ground;
  t.hashed = false;
  t.in_completion = false;
  t.state = Table::State::kNew;
  std::copy(key.v, key.v + kMaxArity, t.key);
  t.dfs = t.low = 0;
  t.epoch = 0;
  t.completion_pos = 0;
  t.min_consumed_end = SIZE_MAX;
  t.num_answers = 0;
  t.answers.clear();
  return it->second;
}

void Evaluation::NoteDependency(uint32_t low) {
  lowest_dep_ = std::min(lowest_dep_, low);
  if (!scratch_->stack.empty()) {
    Table& top = T(scratch_->stack.back());
    top.low = std::min(top.low, low);
  }
}

bool Evaluation::EnsureTable(uint32_t t) {
  Table& tb = T(t);
  switch (tb.state) {
    case Table::State::kComplete:
      return true;
    case Table::State::kEvaluating:
      NoteDependency(tb.dfs);
      return true;
    case Table::State::kIncomplete:
      if (tb.epoch == epoch_) {
        NoteDependency(tb.low);
        return true;
      }
      break;
    case Table::State::kNew:
      break;
  }
  return EvaluateTable(t);
}

bool Evaluation::EvaluateTable(uint32_t t) {
  if (!StackLeft()) return false;
  if (++depth_ > max_depth_) {
    --depth_;
    return Fail(absl::ResourceExhaustedError(absl::StrFormat(
        "evaluation exceeded its maximum depth of %d nested rules", max_depth_)));
  }
  internal::Scratch& s = *scratch_;
  {
    Table& tb = T(t);
    tb.state = Table::State::kEvaluating;
    tb.dfs = tb.low = ++dfs_counter_;
    if (!tb.in_completion) {
      tb.in_completion = true;
      tb.completion_pos = static_cast<uint32_t>(s.completion.size());
      s.completion.push_back(t);
    }
  }
  s.stack.push_back(t);
  const uint32_t pred = T(t).pred;
  const bool ground = T(t).ground;
  SymbolId key[kMaxArity];
  std::copy(T(t).key, T(t).key + kMaxArity, key);
  const PredInfo& p = Pred(pred);
  bool cut = false;
  auto add = [&](const SymbolId* tuple) {
    AddAnswer(t, tuple);
    if (ground && T(t).num_answers > 0) {
      cut = true;
      return false;
    }
    return true;
  };
  while (true) {
    T(t).epoch = epoch_;
    bool ok = ScanFacts(pred, key, add);
    for (size_t i = 0; ok && i < p.rules.size(); ++i) {
      ok = SolveRule(cp_.rules[p.rules[i]], key, add);
    }
    if (!ok && !cut) {
      s.stack.pop_back();
      --depth_;
      return false;
    }
    Table& tb = T(t);
    if (cut || (ground && tb.num_answers > 0)) {
      tb.state = Table::State::kComplete;
      break;
    }
    if (tb.low < tb.dfs) {
      tb.state = Table::State::kIncomplete;
      break;
    }
    // The leader of its strongly connected set: another pass while some
    // consumer may have missed an answer.
    bool rerun = false;
    for (size_t i = tb.completion_pos; i < s.completion.size() && !rerun; ++i) {
      const Table& x = T(s.completion[i]);
      rerun = x.state != Table::State::kComplete && x.min_consumed_end < x.num_answers;
    }
    if (rerun) {
      ++epoch_;
      for (size_t i = tb.completion_pos; i < s.completion.size(); ++i) {
        T(s.completion[i]).min_consumed_end = SIZE_MAX;
      }
      if (!Step()) {
        s.stack.pop_back();
        --depth_;
        return false;
      }
      continue;
    }
    for (size_t i = tb.completion_pos; i < s.completion.size(); ++i) {
      Table& x = T(s.completion[i]);
      x.state = Table::State::kComplete;
      x.in_completion = false;
    }
    s.completion.resize(tb.completion_pos);
    break;
  }
  s.stack.pop_back();
  --depth_;
  Table& tb = T(t);
  if (tb.state == Table::State::kComplete) {
    if (tb.in_completion && tb.low == tb.dfs) {
      // A leader finished early (its one answer): members it left unfinished
      // are stale; a later call evaluates them again.
      for (size_t i = tb.completion_pos; i < s.completion.size(); ++i) {
        Table& x = T(s.completion[i]);
        x.in_completion = false;
        if (x.state != Table::State::kComplete) {
          x.state = Table::State::kIncomplete;
          x.epoch = 0;
        }
      }
      s.completion.resize(tb.completion_pos);
      ++epoch_;
    }
  } else {
    NoteDependency(tb.low);
  }
  return true;
}

bool Evaluation::Consume(uint32_t t, Cont k) {
  size_t i = 0;
  if (T(t).state == Table::State::kComplete) {
    const Table& tb = T(t);
    const size_t n = tb.num_answers;
    const int ar = tb.arity;
    const SymbolId* a = tb.answers.data();
    for (; i < n; ++i) {
      if (!Step()) return false;
      if (!k(a + i * ar)) return false;
    }
    return true;
  }
  while (i < T(t).num_answers) {
    if (!Step()) return false;
    const int ar = T(t).arity;
    SymbolId tuple[kMaxArity];
    std::copy(&T(t).answers[i * ar], &T(t).answers[i * ar] + ar, tuple);
    ++i;
    if (!k(tuple)) return false;
  }
  Table& tb = T(t);
  if (tb.state != Table::State::kComplete) {
    tb.min_consumed_end = std::min(tb.min_consumed_end, i);
  }
  return true;
}

void Evaluation::AddAnswer(uint32_t t, const SymbolId* tuple) {
  Table& tb = T(t);
  const int ar = tb.arity;
  if (!tb.hashed) {
    for (size_t i = 0; i < tb.num_answers; ++i) {
      if (std::memcmp(&tb.answers[i * ar], tuple, ar * sizeof(SymbolId)) == 0) return;
    }
    if (tb.num_answers < 8) {
      tb.answers.insert(tb.answers.end(), tuple, tuple + ar);
      ++tb.num_answers;
      return;
    }
    tb.hashed = true;
    for (size_t i = 0; i < tb.num_answers; ++i) {
      internal::TableKey k{t, {kNoSymbol, kNoSymbol, kNoSymbol, kNoSymbol, kNoSymbol}};
      std::copy(&tb.answers[i * ar], &tb.answers[i * ar] + ar, k.v);
      scratch_->answer_set.insert(k);
    }
  }
  internal::TableKey k{t, {kNoSymbol, kNoSymbol, kNoSymbol, kNoSymbol, kNoSymbol}};
  std::copy(tuple, tuple + ar, k.v);
  if (!scratch_->answer_set.insert(k).second) return;
  tb.answers.insert(tb.answers.end(), tuple, tuple + ar);
  ++tb.num_answers;
}

// --- Queries' helpers ---

absl::StatusOr<CRule> Evaluation::CompileQuery(
    const std::vector<polar::Literal>& body,
    const std::vector<std::string>& variable_names) {
  CRule r;
  r.num_vars = static_cast<uint32_t>(variable_names.size());
  r.var_names = variable_names;
  r.head_var.assign(r.num_vars, true);
  if (r.num_vars > 1024) {
    return absl::InvalidArgumentError("a query has more than 1024 variables");
  }
  if (body.size() > 64) {
    return absl::InvalidArgumentError("a query has more than 64 literals");
  }
  auto term = [&](const polar::Term& t, CTerm* out) -> absl::Status {
    switch (t.kind) {
      case polar::Term::Kind::kVariable:
        if (t.variable < 0 || t.variable >= static_cast<int>(r.num_vars)) {
          return absl::InvalidArgumentError("query variable index out of range");
        }
        *out = {CTerm::kVar, static_cast<uint32_t>(t.variable)};
        return absl::OkStatus();
      case polar::Term::Kind::kConstant:
        *out = {CTerm::kSym, Intern(t.constant)};
        return absl::OkStatus();
      case polar::Term::Kind::kCurrentUnixTime:
        *out = {CTerm::kTime, 0};
        return absl::OkStatus();
    }
    return absl::OkStatus();
  };
  for (const polar::Literal& l : body) {
    CLiteral c;
    c.kind = l.kind;
    c.op = l.op;
    for (const std::string& t : l.types) c.types.push_back(TypeIndex(t));
    c.location = l.location;
    if (l.kind == LKind::kCall || l.kind == LKind::kNotCall) {
      if (l.args.empty() || l.args.size() > static_cast<size_t>(kMaxArity)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%d:%d: %s takes 1 to %d arguments", l.location.line,
            l.location.column, l.predicate, kMaxArity));
      }
      c.pred = PredIndex(l.predicate, static_cast<int>(l.args.size()));
    }
    for (const polar::Term& t : l.args) {
      CTerm ct;
      absl::Status s = term(t, &ct);
      if (!s.ok()) return s;
      c.args.push_back(ct);
    }
    if (l.kind == LKind::kUnify || l.kind == LKind::kCompare ||
        l.kind == LKind::kMatches || l.kind == LKind::kIn) {
      absl::Status s = term(l.left, &c.left);
      if (!s.ok()) return s;
      if (l.kind == LKind::kUnify || l.kind == LKind::kCompare) {
        s = term(l.right, &c.right);
        if (!s.ok()) return s;
      }
    }
    if ((l.kind == LKind::kMatches || l.kind == LKind::kIn) &&
        c.left.kind != CTerm::kVar && l.kind == LKind::kIn) {
      // A constant subject of `in` is a plain membership test: fine.
    }
    r.body.push_back(std::move(c));
  }
  return r;
}

std::vector<SymbolId> Evaluation::ValuesOfType(std::string_view type) {
  absl::flat_hash_set<SymbolId> seen;
  std::vector<SymbolId> out;
  for (SymbolId s : AllValues()) {
    if (ValueOf(s).type == absl::string_view(type.data(), type.size()) &&
        seen.insert(s).second) {
      out.push_back(s);
    }
  }
  return out;
}

std::vector<SymbolId> Evaluation::AllValues() {
  absl::flat_hash_set<SymbolId> seen;
  std::vector<SymbolId> out;
  const size_t n = cp_.preds.size() + local_preds_.size();
  SymbolId pat[kMaxArity] = {kUnbound, kUnbound, kUnbound, kUnbound, kUnbound};
  for (uint32_t p = 0; p < n; ++p) {
    const int arity = Pred(p).arity;
    bool ok = ScanFacts(p, pat, [&](const SymbolId* row) {
      for (int i = 0; i < arity; ++i) {
        if (seen.insert(row[i]).second) out.push_back(row[i]);
      }
      return true;
    });
    if (!ok) break;
  }
  return out;
}

std::string Evaluation::Render(SymbolId s) const {
  if (s == kUnbound || s == kAny) return "_";
  const ValueRef v = ValueOf(s);
  if (v.type == kStringType) return absl::StrCat("\"", v.id, "\"");
  if (v.type == kIntegerType || v.type == kBooleanType) return std::string(v.id);
  return absl::StrCat(v.type, ":", v.id);
}

std::string Evaluation::RenderCall(const std::string& name, const SymbolId* args,
                                   int arity) const {
  std::string out = absl::StrCat(name, "(");
  for (int i = 0; i < arity; ++i) {
    if (i > 0) out += ", ";
    out += Render(args[i]);
  }
  return out + ")";
}

std::string Evaluation::RenderLiteral(const CRule& r, const CLiteral& lit,
                                      const SymbolId* f) {
  auto term = [&](const CTerm& t) -> std::string {
    SymbolId v = TermValue(t, f);
    if (v != kUnbound) return Render(v);
    return t.kind == CTerm::kVar && t.index < r.var_names.size()
               ? r.var_names[t.index]
               : "_";
  };
  auto args = [&]() {
    std::vector<std::string> parts;
    for (const CTerm& a : lit.args) parts.push_back(term(a));
    return absl::StrJoin(parts, ", ");
  };
  static constexpr const char* kOps[] = {"==", "!=", "<", "<=", ">", ">="};
  switch (lit.kind) {
    case LKind::kCall:
      return absl::StrCat(Pred(lit.pred).name, "(", args(), ")");
    case LKind::kNotCall:
      return absl::StrCat("not ", Pred(lit.pred).name, "(", args(), ")");
    case LKind::kUnify:
      return absl::StrCat(term(lit.left), " = ", term(lit.right));
    case LKind::kCompare:
      return absl::StrCat(term(lit.left), " ", kOps[static_cast<int>(lit.op)],
                          " ", term(lit.right));
    case LKind::kMatches:
      return absl::StrCat(term(lit.left), " matches ",
                          absl::StrJoin(lit.types, " | ", [&](std::string* out, uint32_t t) {
                            out->append(TypeName(t));
                          }));
    case LKind::kIn:
      return absl::StrCat(term(lit.left), " in [", args(), "]");
  }
  return "";
}

}  // namespace arbiter::eval
