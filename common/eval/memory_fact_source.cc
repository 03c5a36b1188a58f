#include "common/eval/memory_fact_source.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <numeric>

#include "absl/strings/str_format.h"

namespace arbiter::eval {
namespace {

std::atomic<uint64_t> next_uid{1};

// True when `args` agrees with every bound entry of `pattern`.
bool Matches(std::span<const Value> args, Pattern pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i].has_value() && *pattern[i] != args[i]) return false;
  }
  return true;
}

}  // namespace

SymbolId SymbolTable::Intern(const Value& v) {
  auto it = index_.find(std::make_pair(std::string_view(v.type),
                                       std::string_view(v.id)));
  if (it != index_.end()) return it->second;
  SymbolId id = static_cast<SymbolId>(values_.size());
  const Value& stored = values_.emplace_back(v);
  auto t = type_index_.try_emplace(v.type, static_cast<uint32_t>(type_index_.size()));
  type_ids_.push_back(t.first->second);
  index_.emplace(std::make_pair(std::string_view(stored.type),
                                std::string_view(stored.id)),
                 id);
  return id;
}

Relation::Key Relation::MakeKey(Mask mask, const SymbolId* args) {
  Key k;
  for (int i = 0; i < kMaxArity; ++i) {
    k.v[i] = (mask & (1u << i)) ? args[i] : kNoSymbol;
  }
  return k;
}

std::span<const uint32_t> Relation::Seek(Mask mask,
                                         const SymbolId* args) const {
  if (mask == 0) return postings_[0];
  const auto& index = index_[mask];
  auto it = index.find(MakeKey(mask, args));
  if (it == index.end()) return {};
  return {postings_[mask].data() + it->second.begin, it->second.count};
}

MemoryFactSource::MemoryFactSource() : uid_(next_uid.fetch_add(1)) {}

absl::StatusOr<std::shared_ptr<const MemoryFactSource>>
MemoryFactSource::Create(std::vector<Fact> facts, uint64_t offset) {
  Builder b;
  b.facts_ = std::move(facts);
  b.offset_ = offset;
  return std::move(b).Build();
}

absl::StatusOr<std::shared_ptr<const MemoryFactSource>>
MemoryFactSource::Builder::Build() && {
  for (const Fact& f : facts_) {
    if (f.predicate.empty()) {
      return absl::InvalidArgumentError("fact has an empty predicate name");
    }
    if (f.args.empty() || f.args.size() > static_cast<size_t>(kMaxArity)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "fact %s has %d arguments; a fact takes 1 to %d", ToString(f),
          f.args.size(), kMaxArity));
    }
  }
  // Sorting by (predicate, args) gives every relation its rows in ascending
  // argument order and makes duplicates adjacent.
  std::sort(facts_.begin(), facts_.end(), [](const Fact& a, const Fact& b) {
    if (a.predicate != b.predicate) return a.predicate < b.predicate;
    if (a.args.size() != b.args.size()) return a.args.size() < b.args.size();
    return a.args < b.args;
  });
  facts_.erase(std::unique(facts_.begin(), facts_.end()), facts_.end());

  std::shared_ptr<MemoryFactSource> src(new MemoryFactSource());
  src->size_ = facts_.size();
  src->offset_ = offset_;
  size_t i = 0;
  while (i < facts_.size()) {
    size_t j = i;
    const int arity = static_cast<int>(facts_[i].args.size());
    while (j < facts_.size() && facts_[j].predicate == facts_[i].predicate &&
           facts_[j].args.size() == facts_[i].args.size()) {
      ++j;
    }
    auto rel = std::make_unique<Relation>();
    rel->arity_ = arity;
    rel->size_ = j - i;
    rel->ids_.reserve(rel->size_ * arity);
    rel->values_.reserve(rel->size_ * arity);
    for (size_t r = i; r < j; ++r) {
      for (Value& v : facts_[r].args) {
        rel->ids_.push_back(src->symbols_.Intern(v));
        rel->values_.push_back(std::move(v));
      }
    }
    const uint32_t masks = 1u << arity;
    rel->postings_.resize(masks);
    rel->index_.resize(masks);
    std::vector<uint32_t> rows(rel->size_);
    std::iota(rows.begin(), rows.end(), 0);
    rel->postings_[0] = rows;
    for (uint32_t mask = 1; mask < masks; ++mask) {
      std::vector<uint32_t>& post = rel->postings_[mask];
      post = rows;
      auto key_less = [&](uint32_t a, uint32_t b) {
        const SymbolId* ra = rel->ids(a);
        const SymbolId* rb = rel->ids(b);
        for (int k = 0; k < arity; ++k) {
          if (!(mask & (1u << k))) continue;
          if (ra[k] != rb[k]) return ra[k] < rb[k];
        }
        return false;
      };
      // Stable: rows of one key stay in ascending argument order.
      std::stable_sort(post.begin(), post.end(), key_less);
      auto& index = rel->index_[mask];
      size_t p = 0;
      while (p < post.size()) {
        size_t q = p + 1;
        while (q < post.size() && !key_less(post[p], post[q])) ++q;
        index.emplace(Relation::MakeKey(mask, rel->ids(post[p])),
                      Relation::Range{static_cast<uint32_t>(p),
                                      static_cast<uint32_t>(q - p)});
        p = q;
      }
    }
    src->relations_.emplace(std::make_pair(facts_[i].predicate, arity),
                            std::move(rel));
    i = j;
  }
  facts_.clear();
  return std::shared_ptr<const MemoryFactSource>(std::move(src));
}

const Relation* MemoryFactSource::FindRelation(std::string_view predicate,
                                               int arity) const {
  auto it = relations_.find(std::make_pair(std::string(predicate), arity));
  return it == relations_.end() ? nullptr : it->second.get();
}

void MemoryFactSource::ForEachRelation(
    absl::FunctionRef<void(std::string_view, const Relation&)> fn) const {
  std::vector<std::pair<const std::pair<std::string, int>*, const Relation*>>
      all;
  for (const auto& [key, rel] : relations_) all.push_back({&key, rel.get()});
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (const auto& [key, rel] : all) fn(key->first, *rel);
}

absl::Status MemoryFactSource::Scan(
    std::string_view predicate, Pattern pattern,
    absl::FunctionRef<bool(std::span<const Value> args)> fn) const {
  if (pattern.empty() || pattern.size() > static_cast<size_t>(kMaxArity)) {
    return absl::OkStatus();
  }
  const Relation* rel =
      FindRelation(predicate, static_cast<int>(pattern.size()));
  if (rel == nullptr) return absl::OkStatus();
  SymbolId args[kMaxArity];
  Relation::Mask mask = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (!pattern[i].has_value()) continue;
    args[i] = symbols_.Find(*pattern[i]);
    if (args[i] == kNoSymbol) return absl::OkStatus();  // value never stored
    mask |= 1u << i;
  }
  for (uint32_t row : rel->Seek(mask, args)) {
    if (!fn(rel->values(row))) break;
  }
  return absl::OkStatus();
}

absl::Status OverlayFactSource::Scan(
    std::string_view predicate, Pattern pattern,
    absl::FunctionRef<bool(std::span<const Value> args)> fn) const {
  // The matching extra facts, ascending and distinct.
  std::vector<const Fact*> extra;
  for (const Fact& f : extra_) {
    if (f.predicate == predicate && f.args.size() == pattern.size() &&
        Matches(f.args, pattern)) {
      extra.push_back(&f);
    }
  }
  std::sort(extra.begin(), extra.end(),
            [](const Fact* a, const Fact* b) { return a->args < b->args; });
  extra.erase(std::unique(extra.begin(), extra.end(),
                          [](const Fact* a, const Fact* b) {
                            return a->args == b->args;
                          }),
              extra.end());
  size_t next = 0;
  bool stopped = false;
  absl::Status s = base_->Scan(
      predicate, pattern, [&](std::span<const Value> args) {
        while (next < extra.size()) {
          const std::vector<Value>& e = extra[next]->args;
          auto cmp = std::lexicographical_compare_three_way(
              e.begin(), e.end(), args.begin(), args.end());
          if (cmp > 0) break;
          ++next;
          if (cmp == 0) break;  // same fact: reported once, below
          if (!fn(e)) {
            stopped = true;
            return false;
          }
        }
        if (!fn(args)) {
          stopped = true;
          return false;
        }
        return true;
      });
  if (!s.ok()) return s;
  while (!stopped && next < extra.size()) {
    if (!fn(extra[next++]->args)) break;
  }
  return absl::OkStatus();
}

}  // namespace arbiter::eval
