#ifndef ARBITER_COMMON_EVAL_FACT_INDEX_H_
#define ARBITER_COMMON_EVAL_FACT_INDEX_H_

// The engine's fast-path fact source: a stack of immutable Segments
// (segment.h) seen as one interned, fully indexed set of facts.
//
//   FactIndex::Create(facts)        one in-memory base layer (tests, policy
//                                   tests, anything small)
//   FactIndex::Stack({base, delta, tail})
//                                   what a reader serves from: a base and a
//                                   delta mapped from the host's index files,
//                                   plus a small in-memory tail (DESIGN.md
//                                   §8.6, §9.4; docs/ARCHITECTURE.md)
//
// A fact is in the index when some layer has it as a row and no layer above
// that one deletes it (a tombstone). Layers never repeat a fact a lower layer
// holds, so each live fact is reported once. Each layer's symbols continue
// the ids of the layers below, so a SymbolId means the same value in every
// layer of a stack.
//
// Besides FactSource::Scan (ascending by arguments, merged across layers),
// it exposes the interned form for the engine: symbols, and per relation an
// IndexedRelation whose ForEach visits matching rows layer by layer (so not
// in one global order). Tests hold the two paths to identical answers.
//
// Thread-compatible: immutable once built; share it as
// std::shared_ptr<const FactIndex>.

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/value.h"
#include "common/eval/fact_source.h"
#include "common/eval/segment.h"

namespace arbiter::eval {

// The most layers a stack may have.
inline constexpr int kMaxLayers = 4;

// One relation (predicate, arity) across the layers of a FactIndex.
class IndexedRelation {
 public:
  int arity() const { return arity_; }

  // Calls fn(ids) (arity() ids, valid while the index lives) for every live
  // fact whose arguments at the positions of `mask` equal args[i]. Returns
  // false as soon as fn does. Hash probes only, one per layer holding rows of
  // this relation; a row is checked against the tombstones of the layers
  // above it only when one of them deletes facts of this relation.
  template <typename Fn>
  bool ForEach(Mask mask, const SymbolId* args, Fn&& fn) const {
    return ForEachLayer(mask, args, 0, std::forward<Fn>(fn));
  }
  // The same over layers [from_layer, to_layer) only.
  template <typename Fn>
  bool ForEachLayer(Mask mask, const SymbolId* args, int from_layer, Fn&& fn,
                    int to_layer = kMaxLayers) const {
    // The highest bound value: no layer below the one that introduced it
    // can hold a row with it.
    SymbolId top = 0;
    for (int i = 0; i < arity_; ++i) {
      if (mask & (1u << i)) top = std::max(top, args[i]);
    }
    const uint64_t hash = mask == 0 ? 0 : KeyHash(mask, args, arity_);
    for (int l = from_layer; l < std::min(num_layers_, to_layer); ++l) {
      const Layer& layer = layers_[l];
      if (layer.rel == nullptr || layer.rel->num_rows == 0 || top >= layer.symbol_end) {
        continue;
      }
      const RowRange rows = mask == 0 ? RowRange{nullptr, 0, layer.rel->num_rows}
                                      : layer.rel->SeekHashed(mask, args, hash);
      for (uint32_t i = 0; i < rows.count; ++i) {
        const SymbolId* ids = layer.rel->ids(rows.row(i));
        if (layer.tombstones_above != 0 && DeletedAbove(l, ids)) continue;
        if (!fn(ids)) return false;
      }
    }
    return true;
  }

  // Whether the fact `ids` (arity() ids) is live.
  bool Contains(const SymbolId* ids) const;

 private:
  friend class FactIndex;
  struct Layer {
    const SegmentRelation* rel = nullptr;  // null: the layer has none
    SymbolId symbol_end = 0;
    // Bit u: layer u (> this one) deletes facts of this relation.
    uint32_t tombstones_above = 0;
  };
  bool DeletedAbove(int layer, const SymbolId* ids) const;

  int arity_ = 0;
  int num_layers_ = 0;
  Layer layers_[kMaxLayers];
};

class FactIndex final : public FactSource {
 public:
  // One in-memory base layer holding `facts` (duplicates dropped), tagged
  // with `offset`. INVALID_ARGUMENT for a fact with no arguments or more than
  // kMaxArity, an empty predicate, or an argument with an empty type or id.
  static absl::StatusOr<std::shared_ptr<const FactIndex>> Create(
      std::vector<Fact> facts, int64_t offset = 0);

  // The stack of `layers`, bottom first: layers[0] a base, each further one
  // an upper segment built over the stack of the layers before it (its
  // parent id and symbol and type ranges must continue the one below).
  // FAILED_PRECONDITION when they do not fit, or for more than kMaxLayers.
  static absl::StatusOr<std::shared_ptr<const FactIndex>> Stack(
      std::vector<std::shared_ptr<const Segment>> layers);

  FactIndex(const FactIndex&) = delete;
  FactIndex& operator=(const FactIndex&) = delete;

  absl::Status Scan(
      std::string_view predicate, Pattern pattern,
      absl::FunctionRef<bool(std::span<const Value> args)> fn) const override;

  // Number of live facts.
  size_t size() const { return size_; }
  // The offset of the top layer (what the index is "evaluated at").
  int64_t offset() const { return layers_.back()->offset(); }
  const std::vector<std::shared_ptr<const Segment>>& layers() const {
    return layers_;
  }
  // Bytes of every layer (mapped or on the heap).
  size_t byte_size() const;
  // The id a layer built on this whole stack must name as its parent.
  uint64_t top_id() const { return layers_.back()->id(); }

  // --- The interned form, for the engine's fast path. ---
  // A process-unique id of this instance (never reused), for caches keyed by
  // source.
  uint64_t uid() const { return uid_; }
  // Symbols are [0, num_symbols()).
  size_t num_symbols() const { return layers_.back()->symbol_end(); }
  SymbolId Find(absl::string_view type, absl::string_view id) const;
  SymbolId Find(const Value& v) const { return Find(v.type, v.id); }
  // The id of a type name, or kNoSymbol when no value has that type.
  uint32_t FindType(absl::string_view type) const {
    auto it = types_.find(type);
    return it == types_.end() ? kNoSymbol : it->second;
  }
  // REQUIRES: s < num_symbols().
  ValueRef value(SymbolId s) const;
  uint32_t type_id(SymbolId s) const { return LayerOf(s).type_of(s); }
  // nullptr when no layer has a fact of this name and arity.
  const IndexedRelation* FindRelation(std::string_view predicate,
                                      int arity) const;
  // Calls fn(predicate, relation) for every relation, ordered by name then
  // arity.
  void ForEachRelation(
      absl::FunctionRef<void(std::string_view, const IndexedRelation&)> fn) const;
  // Whether `fact` is live (false when a value of it is unknown).
  bool Contains(const Fact& fact) const;
  bool Contains(std::string_view predicate, std::span<const ValueRef> args) const;

 private:
  FactIndex();
  const Segment& LayerOf(SymbolId s) const {
    const Segment* l = layers_[0].get();
    if (s < l->symbol_end()) return *l;
    for (size_t i = 1; i < layers_.size(); ++i) {
      if (s < layers_[i]->symbol_end()) return *layers_[i];
    }
    return *layers_.back();
  }

  uint64_t uid_;
  size_t size_ = 0;
  std::vector<std::shared_ptr<const Segment>> layers_;
  // (predicate, arity) -> relation.
  absl::flat_hash_map<std::pair<std::string, int>, IndexedRelation> relations_;
  // Every type name of every layer -> its id; names view into the layers.
  absl::flat_hash_map<absl::string_view, uint32_t> types_;
};

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_FACT_INDEX_H_
