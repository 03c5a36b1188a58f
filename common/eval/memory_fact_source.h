#ifndef ARBITER_COMMON_EVAL_MEMORY_FACT_SOURCE_H_
#define ARBITER_COMMON_EVAL_MEMORY_FACT_SOURCE_H_

// In-memory fact sources:
//   * MemoryFactSource: an immutable, interned, fully indexed set of facts.
//     Tests use it directly; the reader uses it as the per-tenant fast path
//     (DESIGN.md §8.6), built from a tenant database at one offset.
//   * OverlayFactSource: a base source plus a few extra facts (the context
//     facts of one request), visible through the plain FactSource interface.
//
// Besides FactSource::Scan, MemoryFactSource exposes its interned form
// (SymbolTable, Relation) for the engine's fast path. That path reads the same
// facts in the same order as Scan; tests hold the two paths to identical
// answers.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/value.h"
#include "common/eval/fact_source.h"

namespace arbiter::eval {

// A dense integer standing for one interned Value.
using SymbolId = uint32_t;
inline constexpr SymbolId kNoSymbol = ~SymbolId{0};

// Interned values with dense ids [0, size()), in insertion order.
// Thread-compatible; immutable once its owner is built. Not copyable (its
// index points into its own storage).
class SymbolTable {
 public:
  SymbolTable() = default;
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  // Returns the id of `v`, adding it if new.
  SymbolId Intern(const Value& v);
  // The interned type of a symbol (dense ids of the distinct type names).
  // REQUIRES: s < size().
  uint32_t type_id(SymbolId s) const { return type_ids_[s]; }
  // The id of a type name, or kNoSymbol when no value has that type.
  uint32_t FindType(std::string_view type) const {
    auto it = type_index_.find(std::string(type));
    return it == type_index_.end() ? kNoSymbol : it->second;
  }
  // Returns the id of Type:id, or kNoSymbol when absent.
  SymbolId Find(std::string_view type, std::string_view id) const {
    auto it = index_.find(std::make_pair(type, id));
    return it == index_.end() ? kNoSymbol : it->second;
  }
  SymbolId Find(const Value& v) const { return Find(v.type, v.id); }
  // REQUIRES: s < size().
  const Value& value(SymbolId s) const { return values_[s]; }
  size_t size() const { return values_.size(); }

 private:
  std::deque<Value> values_;  // stable addresses: index_ keys view into them
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, SymbolId>
      index_;
  std::vector<uint32_t> type_ids_;
  absl::flat_hash_map<std::string, uint32_t> type_index_;
};

// A cheap, well-mixed hash of a few 32-bit ids (index keys are hot).
inline size_t MixIds(const uint32_t* v, int n, uint64_t seed) {
  uint64_t h = seed ^ 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < n; ++i) {
    h = (h ^ v[i]) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  h *= 0xc4ceb9fe1a85ec53ull;
  return static_cast<size_t>(h ^ (h >> 32));
}

// All stored facts of one predicate name and arity, sorted ascending by
// arguments (Value order), with a hash index for every pattern of bound
// arguments. Immutable; owned by a MemoryFactSource.
class Relation {
 public:
  // Bit i of a mask means "argument i is bound".
  using Mask = uint32_t;

  int arity() const { return arity_; }
  size_t size() const { return size_; }
  // The interned arguments of row `row` (arity() ids). REQUIRES: row < size().
  const SymbolId* ids(size_t row) const { return &ids_[row * arity_]; }
  std::span<const Value> values(size_t row) const {
    return {&values_[row * arity_], static_cast<size_t>(arity_)};
  }
  // The rows whose arguments at the positions in `mask` equal args[i] (only
  // args[i] for i in mask are read), ascending. mask 0 returns every row.
  // One hash probe; never scans.
  std::span<const uint32_t> Seek(Mask mask, const SymbolId* args) const;

 private:
  friend class MemoryFactSource;
  struct Key {
    SymbolId v[kMaxArity];
    friend bool operator==(const Key& a, const Key& b) {
      for (int i = 0; i < kMaxArity; ++i) {
        if (a.v[i] != b.v[i]) return false;
      }
      return true;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return MixIds(k.v, kMaxArity, 0); }
  };
  struct Range {
    uint32_t begin;
    uint32_t count;
  };
  static Key MakeKey(Mask mask, const SymbolId* args);

  int arity_ = 0;
  size_t size_ = 0;
  std::vector<SymbolId> ids_;  // size_ * arity_
  std::vector<Value> values_;  // size_ * arity_
  // Per mask (1 << arity entries): postings grouped by key, and key -> range.
  std::vector<std::vector<uint32_t>> postings_;
  std::vector<absl::flat_hash_map<Key, Range, KeyHash>> index_;
};

// An immutable set of facts (duplicates dropped), interned and indexed so that
// every lookup with at least one bound argument is a hash seek. Scan reports
// matches ascending by arguments.
// Thread-compatible: immutable once built; share it as
// std::shared_ptr<const MemoryFactSource>.
class MemoryFactSource final : public FactSource {
 public:
  class Builder {
   public:
    void Add(Fact fact) { facts_.push_back(std::move(fact)); }
    // The log offset the facts reflect (the reader's tag); 0 by default.
    void set_offset(uint64_t offset) { offset_ = offset; }
    // INVALID_ARGUMENT if a fact has no arguments or more than kMaxArity, or
    // an empty predicate name.
    absl::StatusOr<std::shared_ptr<const MemoryFactSource>> Build() &&;

   private:
    friend class MemoryFactSource;
    std::vector<Fact> facts_;
    uint64_t offset_ = 0;
  };

  // Same as adding every fact to a Builder.
  static absl::StatusOr<std::shared_ptr<const MemoryFactSource>> Create(
      std::vector<Fact> facts, uint64_t offset = 0);

  MemoryFactSource(const MemoryFactSource&) = delete;
  MemoryFactSource& operator=(const MemoryFactSource&) = delete;

  absl::Status Scan(
      std::string_view predicate, Pattern pattern,
      absl::FunctionRef<bool(std::span<const Value> args)> fn) const override;

  // Number of distinct facts.
  size_t size() const { return size_; }
  // The offset given to the Builder (what the index is "evaluated at").
  uint64_t offset() const { return offset_; }

  // --- The interned form, for the engine's fast path. ---
  // A process-unique id of this instance (never reused), for caches keyed by
  // source.
  uint64_t uid() const { return uid_; }
  const SymbolTable& symbols() const { return symbols_; }
  // nullptr when no fact has this name and arity.
  const Relation* FindRelation(std::string_view predicate, int arity) const;
  // Calls fn(predicate, relation) for every relation, ordered by name then
  // arity.
  void ForEachRelation(
      absl::FunctionRef<void(std::string_view, const Relation&)> fn) const;

 private:
  MemoryFactSource();

  uint64_t uid_;
  uint64_t offset_ = 0;
  size_t size_ = 0;
  SymbolTable symbols_;
  // (predicate, arity) -> relation; values stable (unique_ptr).
  absl::flat_hash_map<std::pair<std::string, int>, std::unique_ptr<Relation>>
      relations_;
};

// A base FactSource plus extra facts (e.g. one request's context facts).
// Scan merges both in ascending order and reports a fact present in both once.
// Thread-compatible. Holds pointers: `base` and `extra` must outlive it.
class OverlayFactSource final : public FactSource {
 public:
  OverlayFactSource(const FactSource* base, std::span<const Fact> extra)
      : base_(base), extra_(extra) {}

  absl::Status Scan(
      std::string_view predicate, Pattern pattern,
      absl::FunctionRef<bool(std::span<const Value> args)> fn) const override;

  const FactSource* base() const { return base_; }
  std::span<const Fact> extra() const { return extra_; }

 private:
  const FactSource* base_;
  std::span<const Fact> extra_;
};

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_MEMORY_FACT_SOURCE_H_
