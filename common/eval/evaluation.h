#ifndef ARBITER_COMMON_EVAL_EVALUATION_H_
#define ARBITER_COMMON_EVAL_EVALUATION_H_

// One evaluation of queries against one FactSource: the resolution machinery
// behind Engine's queries. Private to common/eval.
//
// Symbols: every value an evaluation touches is a SymbolId.
//   [0, n_src)              the FactIndex's own symbols (fast path)
//   [n_src, n_src + n_const) program constants absent from the source
//   [n_src + n_const, ...)  values first seen in this evaluation
// (the Scan path has n_src = 0). Each distinct Value has exactly one id, so
// equality of values is equality of ids.
//
// Tabling (linear tabling with SCC fixpoints): a call to a tabled predicate
// finds or creates the table of its variant (predicate + bound arguments).
// A new table is evaluated at once (facts, then rules), its answers appended
// and deduplicated. A call that meets a table still being evaluated (a loop)
// consumes the answers found so far and records the dependency (Tarjan-style
// low link). When the evaluation of a table that depends on nothing older
// ends (the leader of its strongly connected set), the set is evaluated
// again while any member gained answers after some consumer had read it; then
// every member is complete. A ground table is complete as soon as it has its
// one answer. Answers only grow, so every pass is sound and the final pass
// is complete.
//
// Not thread-safe: one per query, on one thread. Uses the thread's Scratch.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/eval/engine.h"
#include "common/eval/engine_internal.h"
#include "common/eval/fact_index.h"
#include "common/eval/overlay_fact_source.h"

namespace arbiter::eval {

// Frames and patterns: no value yet. Answers: any value (a rule holds for
// every value there).
inline constexpr SymbolId kUnbound = ~SymbolId{0};
inline constexpr SymbolId kAny = ~SymbolId{0} - 1;

namespace internal {

struct Table {
  enum class State : uint8_t { kNew, kEvaluating, kIncomplete, kComplete };
  uint32_t pred = 0;
  uint8_t arity = 0;
  bool ground = false;
  bool hashed = false;        // answers are also in Scratch::answer_set
  bool in_completion = false;
  State state = State::kNew;
  SymbolId key[kMaxArity];
  uint32_t dfs = 0, low = 0;
  uint64_t epoch = 0;
  uint32_t completion_pos = 0;
  size_t min_consumed_end = SIZE_MAX;
  size_t num_answers = 0;
  std::vector<SymbolId> answers;  // num_answers * arity
};

struct TableKey {
  uint32_t pred;
  SymbolId v[kMaxArity];
  friend bool operator==(const TableKey& a, const TableKey& b) {
    if (a.pred != b.pred) return false;
    for (int i = 0; i < kMaxArity; ++i) {
      if (a.v[i] != b.v[i]) return false;
    }
    return true;
  }
};
struct TableKeyHash {
  size_t operator()(const TableKey& k) const { return MixIds(k.v, kMaxArity, k.pred); }
};

// LIFO allocation of variable frames with stable addresses.
class FrameArena {
 public:
  struct Mark {
    size_t block, used;
  };
  FrameArena();
  SymbolId* Alloc(size_t n);
  Mark mark() const { return {block_, used_}; }
  void Release(Mark m) {
    block_ = m.block;
    used_ = m.used;
  }
  void Reset() { block_ = used_ = 0; }

 private:
  static constexpr size_t kBlock = 4096;
  std::vector<std::unique_ptr<SymbolId[]>> blocks_;
  size_t block_ = 0, used_ = 0;
};

// Per-thread memory reused across evaluations.
struct Scratch {
  // Cache: the symbol of each constant and the relation of each predicate,
  // for one (engine, source) pair.
  uint64_t engine_uid = 0;
  uint64_t source_uid = 0;  // 0: the Scan path
  std::vector<SymbolId> cmap;
  std::vector<const IndexedRelation*> rels;
  std::vector<uint32_t> tmap;  // program type -> the source's type id

  std::vector<Table> tables;
  size_t num_tables = 0;
  absl::flat_hash_map<TableKey, uint32_t, TableKeyHash> table_index;
  absl::flat_hash_set<TableKey, TableKeyHash> answer_set;  // pred = table index
  std::vector<uint32_t> stack;
  std::vector<uint32_t> completion;
  FrameArena frames;
  std::deque<Value> extras;
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, SymbolId>
      extra_index;
  std::vector<std::vector<SymbolId>> ctx_rows;  // per predicate, flat
  std::vector<uint32_t> ctx_used;

  void Reset();
};

// Records where the body of one rule instance failed (Explain).
struct FailureTracker {
  const CRule* rule = nullptr;  // the rule instance being watched:
  int depth = 0;                // ... at this nesting depth
  int best_depth = -1;              // literals satisfied before the failure
  struct Failure {
    int literal;                  // index into the rule's body
    std::string text;             // the literal as instantiated
    std::vector<SymbolId> args;   // kCall/kNotCall: the call's arguments
  };
  std::vector<Failure> failures;
};

}  // namespace internal

class Evaluation {
 public:
  using Cont = absl::FunctionRef<bool(const SymbolId* tuple)>;
  using Cont0 = absl::FunctionRef<bool()>;

  Evaluation(const Engine& engine, const FactSource& facts,
             const QueryOptions& q);
  ~Evaluation();
  Evaluation(const Evaluation&) = delete;
  Evaluation& operator=(const Evaluation&) = delete;

  // Must be called (and succeed) before anything else.
  absl::Status Init();

  const internal::CompiledProgram& program() const { return cp_; }
  const absl::Status& status() const { return status_; }
  // Starts a new step budget (one decision of a batch).
  void ResetSteps() { steps_ = 0; }

  SymbolId Intern(const Value& v);
  ValueRef ValueOf(SymbolId s) const;
  // Whether the type of s is one of `types` (indexes into
  // CompiledProgram::type_names).
  bool TypeIn(SymbolId s, const std::vector<uint32_t>& types) const {
    if (s < n_src_) {
      // Interned: compare type ids, not strings.
      const uint32_t st = mem_->type_id(s);
      const std::vector<uint32_t>& tmap = scratch_->tmap;
      for (uint32_t t : types) {
        if (t < tmap.size() ? tmap[t] == st : TypeName(t) == ValueOf(s).type) return true;
      }
      return false;
    }
    return TypeInSlow(s, types);
  }
  bool TypeInSlow(SymbolId s, const std::vector<uint32_t>& types) const;
  const std::string& TypeName(uint32_t t) const;
  // The index of a type name, registering it for this evaluation if the
  // program never tests it.
  uint32_t TypeIndex(const std::string& name);

  // The index of predicate name/arity, registering it for this evaluation if
  // the program never mentions it (then it has facts only).
  uint32_t PredIndex(const std::string& name, int arity);
  const internal::PredInfo& Pred(uint32_t p) const {
    return p < cp_.preds.size() ? cp_.preds[p] : local_preds_[p - cp_.preds.size()];
  }

  // Calls k with every answer of pred(pattern) (kUnbound = free; answers may
  // hold kAny). Returns false when k asked to stop or on error (status()).
  bool Solve(uint32_t pred, const SymbolId* pattern, Cont k);
  // Stored (and context) facts only.
  bool ScanFacts(uint32_t pred, const SymbolId* pattern, Cont k);
  // One rule: k receives the rule's frame after each solution of its body.
  bool SolveRuleFrames(const internal::CRule& r, const SymbolId* pattern,
                       absl::FunctionRef<bool(const SymbolId* frame)> k);
  // The body of `r` from `done` (a mask of solved literals) in frame f.
  bool SolveBody(const internal::CRule& r, SymbolId* f, uint64_t done,
                 Cont0 k);
  // Allocates a frame of n unbound variables, valid until the matching
  // ReleaseFrame (LIFO).
  SymbolId* AllocFrame(size_t n, internal::FrameArena::Mark* mark);
  void ReleaseFrame(internal::FrameArena::Mark mark);

  SymbolId TermValue(const internal::CTerm& t, const SymbolId* f) {
    switch (t.kind) {
      case internal::CTerm::kVar:
        return f[t.index];
      case internal::CTerm::kConst:
        return scratch_->cmap[t.index];
      case internal::CTerm::kSym:
        return t.index;
      case internal::CTerm::kTime:
        return TimeSymbol();
    }
    return kUnbound;
  }
  SymbolId TimeSymbol();
  // Compiles a query (test assertion) body, interning its constants.
  absl::StatusOr<internal::CRule> CompileQuery(
      const std::vector<polar::Literal>& body,
      const std::vector<std::string>& variable_names);

  // Every value of `type` in the facts of every predicate the policy knows
  // (and the context facts), distinct.
  std::vector<SymbolId> ValuesOfType(std::string_view type);
  // Every value in those facts (candidates for an `iff` over a test's setup).
  std::vector<SymbolId> AllValues();

  // Renders a value as in policies: "text", 3, true, Type:id.
  std::string Render(SymbolId s) const;
  std::string RenderCall(const std::string& name, const SymbolId* args,
                         int arity) const;
  std::string RenderLiteral(const internal::CRule& r,
                            const internal::CLiteral& lit, const SymbolId* f);

  void set_tracker(internal::FailureTracker* t) { tracker_ = t; }
  int depth() const { return depth_; }
  bool Fail(absl::Status s);

 private:
  bool Step() { return Steps(1); }
  bool Steps(int64_t n) {
    const int64_t before = steps_;
    steps_ += n;
    if (steps_ > budget_) return BudgetExceeded();
    if ((before >> kInterruptShift) != (steps_ >> kInterruptShift)) return CheckInterrupt();
    return true;
  }
  // Whether the caller's frame is still above the evaluation's stack floor.
  bool StackLeft() {
    return reinterpret_cast<uintptr_t>(__builtin_frame_address(0)) >= stack_floor_ ||
           StackExhausted();
  }
  static constexpr int kInterruptShift = 12;  // deadline and cancellation: every 4,096 steps
  bool BudgetExceeded();
  bool CheckInterrupt();
  bool StackExhausted();
  bool Ready(const internal::CLiteral& lit, const SymbolId* f);
  bool Stuck(const internal::CRule& r, const SymbolId* f, uint64_t done,
             Cont0 k);
  bool SolveLiteral(const internal::CLiteral& lit, SymbolId* f, Cont0 k);
  bool SolveRule(const internal::CRule& r, const SymbolId* pattern, Cont k);
  uint32_t GetTable(uint32_t pred, const SymbolId* pattern);
  bool EnsureTable(uint32_t t);
  bool EvaluateTable(uint32_t t);
  bool Consume(uint32_t t, Cont k);
  void AddAnswer(uint32_t t, const SymbolId* tuple);
  void NoteDependency(uint32_t low);
  internal::Table& T(uint32_t t) { return scratch_->tables[t]; }
  const IndexedRelation* RelationOf(uint32_t pred) const {
    return pred < cp_.preds.size() ? scratch_->rels[pred]
                                   : local_rels_[pred - cp_.preds.size()];
  }
  void AddContextRows(uint32_t pred);
  bool Compare(SymbolId a, SymbolId b, polar::CompareOp op) const;

  const Engine& engine_;
  const internal::CompiledProgram& cp_;
  const FactSource& facts_;
  const QueryOptions& q_;
  std::unique_ptr<internal::Scratch> scratch_;

  // Fast path: the interned source, else nullptr (Scan path through source_).
  const FactIndex* mem_ = nullptr;
  const FactSource* source_ = nullptr;
  std::unique_ptr<OverlayFactSource> overlay_;
  std::vector<const Fact*> context_;  // fast path: context facts to intern
  bool has_context_ = false;
  uint32_t n_src_ = 0;
  uint32_t n_const_ = 0;

  std::vector<internal::PredInfo> local_preds_;
  std::vector<const IndexedRelation*> local_rels_;
  std::vector<std::string> local_type_names_;

  absl::Status status_;
  int64_t steps_ = 0;
  int64_t budget_ = 0;
  uintptr_t stack_floor_ = 0;
  size_t stack_limit_ = 0;
  int depth_ = 0;
  int max_depth_ = 0;
  uint32_t dfs_counter_ = 0;
  uint64_t epoch_ = 1;
  uint32_t lowest_dep_ = UINT32_MAX;
  SymbolId time_sym_ = kUnbound;
  internal::FailureTracker* tracker_ = nullptr;
};

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_EVALUATION_H_
