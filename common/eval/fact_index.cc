#include "common/eval/fact_index.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace arbiter::eval {
namespace {

std::atomic<uint64_t> next_uid{1};

}  // namespace

bool IndexedRelation::DeletedAbove(int layer, const SymbolId* ids) const {
  const uint64_t hash = KeyHash((1u << arity_) - 1, ids, arity_);
  for (int u = layer + 1; u < num_layers_; ++u) {
    if ((layers_[layer].tombstones_above & (1u << u)) &&
        layers_[u].rel->Deletes(ids, hash)) {
      return true;
    }
  }
  return false;
}

bool IndexedRelation::Contains(const SymbolId* ids) const {
  const Mask full = (1u << arity_) - 1;
  bool found = false;
  ForEach(full, ids, [&](const SymbolId*) {
    found = true;
    return false;
  });
  return found;
}

FactIndex::FactIndex() : uid_(next_uid.fetch_add(1)) {}

absl::StatusOr<std::shared_ptr<const FactIndex>> FactIndex::Create(
    std::vector<Fact> facts, int64_t offset) {
  SegmentBuilder b;
  b.set_offset(offset);
  for (const Fact& f : facts) ARBITER_RETURN_IF_ERROR(b.Put(f));
  facts.clear();
  ARBITER_ASSIGN_OR_RETURN(SegmentBytes bytes, b.Finish());
  ARBITER_ASSIGN_OR_RETURN(
      std::shared_ptr<const Segment> seg,
      Segment::FromBytes(std::move(bytes), Segment::Check::kBuilt, "in memory"));
  return Stack({std::move(seg)});
}

absl::StatusOr<std::shared_ptr<const FactIndex>> FactIndex::Stack(
    std::vector<std::shared_ptr<const Segment>> layers) {
  if (layers.empty() || layers.size() > static_cast<size_t>(kMaxLayers)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "an index stack has 1 to ", kMaxLayers, " layers, not ", layers.size()));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    const Segment& s = *layers[i];
    if (i == 0) {
      if (s.kind() != Segment::Kind::kBase || s.symbol_base() != 0 || s.type_base() != 0) {
        return absl::FailedPreconditionError(
            "the bottom layer of an index stack must be a base segment");
      }
      continue;
    }
    const Segment& below = *layers[i - 1];
    if (s.kind() != Segment::Kind::kUpper || s.parent_id() != below.id() ||
        s.symbol_base() != below.symbol_end() || s.type_base() != below.type_end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "index layer ", i, " (offset ", s.offset(),
          ") was not built on the layers below it (offset ", below.offset(), ")"));
    }
  }
  std::shared_ptr<FactIndex> index(new FactIndex());
  index->layers_ = std::move(layers);
  int64_t size = 0;
  for (size_t l = 0; l < index->layers_.size(); ++l) {
    const Segment& s = *index->layers_[l];
    size += s.fact_delta();
    for (uint32_t t = s.type_base(); t < s.type_end(); ++t) {
      index->types_.emplace(s.type_name(t), t);
    }
    for (const SegmentRelation& rel : s.relations()) {
      IndexedRelation& ir =
          index->relations_[std::make_pair(std::string(rel.name), rel.arity)];
      ir.arity_ = rel.arity;
      ir.num_layers_ = static_cast<int>(index->layers_.size());
      ir.layers_[l].rel = &rel;
      if (rel.num_tombstones > 0) {
        for (size_t below = 0; below < l; ++below) {
          ir.layers_[below].tombstones_above |= 1u << l;
        }
      }
    }
  }
  for (auto& [key, ir] : index->relations_) {
    for (int l = 0; l < ir.num_layers_; ++l) {
      ir.layers_[l].symbol_end = index->layers_[l]->symbol_end();
    }
  }
  index->size_ = static_cast<size_t>(std::max<int64_t>(size, 0));
  return std::shared_ptr<const FactIndex>(std::move(index));
}

size_t FactIndex::byte_size() const {
  size_t n = 0;
  for (const auto& l : layers_) n += l->byte_size();
  return n;
}

SymbolId FactIndex::Find(absl::string_view type, absl::string_view id) const {
  const uint32_t t = FindType(type);
  if (t == kNoSymbol) return kNoSymbol;
  const uint64_t hash = Segment::HashSymbol(t, id);
  for (const auto& l : layers_) {
    SymbolId s = l->FindSymbolHashed(t, id, hash);
    if (s != kNoSymbol) return s;
  }
  return kNoSymbol;
}

ValueRef FactIndex::value(SymbolId s) const {
  const Segment& l = LayerOf(s);
  const uint32_t t = l.type_of(s);
  for (const auto& layer : layers_) {
    if (t < layer->type_end()) return ValueRef{layer->type_name(t), l.id_of(s)};
  }
  return ValueRef{{}, l.id_of(s)};  // unreachable for a valid stack
}

const IndexedRelation* FactIndex::FindRelation(std::string_view predicate,
                                               int arity) const {
  auto it = relations_.find(std::make_pair(std::string(predicate), arity));
  return it == relations_.end() ? nullptr : &it->second;
}

void FactIndex::ForEachRelation(
    absl::FunctionRef<void(std::string_view, const IndexedRelation&)> fn) const {
  std::vector<std::pair<const std::pair<std::string, int>*, const IndexedRelation*>> all;
  for (const auto& [key, rel] : relations_) all.push_back({&key, &rel});
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (const auto& [key, rel] : all) fn(key->first, *rel);
}

bool FactIndex::Contains(std::string_view predicate,
                         std::span<const ValueRef> args) const {
  if (args.empty() || args.size() > static_cast<size_t>(kMaxArity)) return false;
  const IndexedRelation* rel = FindRelation(predicate, static_cast<int>(args.size()));
  if (rel == nullptr) return false;
  SymbolId ids[kMaxArity];
  for (size_t i = 0; i < args.size(); ++i) {
    ids[i] = Find(args[i].type, args[i].id);
    if (ids[i] == kNoSymbol) return false;
  }
  return rel->Contains(ids);
}

bool FactIndex::Contains(const Fact& fact) const {
  std::vector<ValueRef> refs;
  refs.reserve(fact.args.size());
  for (const Value& v : fact.args) refs.push_back(ValueRef{v.type, v.id});
  return Contains(fact.predicate, refs);
}

absl::Status FactIndex::Scan(
    std::string_view predicate, Pattern pattern,
    absl::FunctionRef<bool(std::span<const Value> args)> fn) const {
  if (pattern.empty() || pattern.size() > static_cast<size_t>(kMaxArity)) {
    return absl::OkStatus();
  }
  const int arity = static_cast<int>(pattern.size());
  const IndexedRelation* rel = FindRelation(predicate, arity);
  if (rel == nullptr) return absl::OkStatus();
  SymbolId args[kMaxArity];
  Mask mask = 0;
  for (int i = 0; i < arity; ++i) {
    if (!pattern[i].has_value()) continue;
    args[i] = Find(*pattern[i]);
    if (args[i] == kNoSymbol) return absl::OkStatus();  // value never stored
    mask |= 1u << i;
  }
  // The base's matches come in Value order (its ids follow Value order);
  // upper layers are small and ordered by id: gather and sort their
  // matches, then merge the two (a fact lives in one layer only), skipping
  // rows a layer above deletes.
  auto less = [&](const SymbolId* a, const SymbolId* b) {
    for (int k = 0; k < arity; ++k) {
      if (a[k] == b[k]) continue;
      return Compare(value(a[k]), value(b[k])) < 0;
    }
    return false;
  };
  std::vector<const SymbolId*> upper;
  rel->ForEachLayer(mask, args, /*from_layer=*/1, [&](const SymbolId* ids) {
    upper.push_back(ids);
    return true;
  });
  std::sort(upper.begin(), upper.end(), less);
  std::vector<Value> row(arity);
  auto emit = [&](const SymbolId* ids) {
    for (int k = 0; k < arity; ++k) {
      ValueRef v = value(ids[k]);
      row[k].type.assign(v.type.data(), v.type.size());
      row[k].id.assign(v.id.data(), v.id.size());
    }
    return fn(row);
  };
  size_t next = 0;
  bool go = rel->ForEachLayer(mask, args, 0, [&](const SymbolId* ids) {
    while (next < upper.size() && less(upper[next], ids)) {
      if (!emit(upper[next++])) return false;
    }
    return emit(ids);
  }, /*to_layer=*/1);
  while (go && next < upper.size()) go = emit(upper[next++]);
  return absl::OkStatus();
}

}  // namespace arbiter::eval
