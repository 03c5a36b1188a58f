#ifndef ARBITER_TESTS_UNIT_EVAL_INDEX_CHECKS_H_
#define ARBITER_TESTS_UNIT_EVAL_INDEX_CHECKS_H_

// Checks shared by the index tests (eval, storage, replica): a FactIndex,
// however layered, must answer every lookup exactly as a reference does.
//   * FactIndex::Scan returns the reference's rows, in its (ascending) order;
//   * IndexedRelation::ForEach returns the same rows as a multiset (layer by
//     layer, so in no global order, but each live fact exactly once);
//   * size() is the number of live facts.
// The patterns probed: every mask of every relation, bound to the values of
// the `probe` facts of that shape (live and deleted ones), plus a value no
// fact holds.

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "common/base/value.h"
#include "common/eval/fact_index.h"
#include "common/eval/fact_source.h"

namespace arbiter::eval::testing {

using PatternVec = std::vector<std::optional<Value>>;
using Rows = std::vector<std::vector<Value>>;

inline Rows ScanRows(const FactSource& src, const std::string& predicate,
                     const PatternVec& pattern) {
  Rows out;
  absl::Status s = src.Scan(predicate, pattern, [&](std::span<const Value> args) {
    out.emplace_back(args.begin(), args.end());
    return true;
  });
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

// The rows IndexedRelation::ForEach visits for `pattern`, sorted.
inline Rows ForEachRows(const FactIndex& index, const std::string& predicate,
                        const PatternVec& pattern) {
  Rows out;
  const int arity = static_cast<int>(pattern.size());
  const IndexedRelation* rel = index.FindRelation(predicate, arity);
  if (rel == nullptr) return out;
  REQUIRE(rel->arity() == arity);
  SymbolId args[kMaxArity] = {};
  Mask mask = 0;
  for (int i = 0; i < arity; ++i) {
    if (!pattern[i].has_value()) continue;
    args[i] = index.Find(*pattern[i]);
    if (args[i] == kNoSymbol) return out;  // a value no layer knows
    mask |= 1u << i;
  }
  rel->ForEach(mask, args, [&](const SymbolId* ids) {
    std::vector<Value> row;
    for (int i = 0; i < arity; ++i) row.push_back(index.value(ids[i]).ToValue());
    out.push_back(std::move(row));
    return true;
  });
  std::sort(out.begin(), out.end());
  return out;
}

// The ascending, duplicate-free rows of `live` matching the pattern.
inline Rows ExpectedRows(const std::vector<Fact>& live, const std::string& predicate,
                         const PatternVec& pattern) {
  std::set<std::vector<Value>> out;
  for (const Fact& f : live) {
    if (f.predicate != predicate || f.args.size() != pattern.size()) continue;
    bool match = true;
    for (size_t k = 0; k < pattern.size() && match; ++k) {
      match = !pattern[k].has_value() || *pattern[k] == f.args[k];
    }
    if (match) out.insert(f.args);
  }
  return {out.begin(), out.end()};
}

// Every (predicate, pattern) to probe: all masks of every shape among the
// probe facts and the index's relations, bound from the probe facts.
inline std::set<std::pair<std::string, PatternVec>> ProbePatterns(
    const FactIndex& index, const std::vector<Fact>& probe) {
  std::set<std::pair<std::string, size_t>> shapes;
  for (const Fact& f : probe) shapes.insert({f.predicate, f.args.size()});
  index.ForEachRelation([&](std::string_view name, const IndexedRelation& rel) {
    shapes.insert({std::string(name), static_cast<size_t>(rel.arity())});
  });
  std::set<std::pair<std::string, PatternVec>> out;
  for (const auto& [predicate, arity] : shapes) {
    out.insert({predicate, PatternVec(arity)});
    for (uint32_t mask = 1; mask < (1u << arity); ++mask) {
      for (const Fact& f : probe) {
        if (f.predicate != predicate || f.args.size() != arity) continue;
        PatternVec p(arity);
        for (size_t k = 0; k < arity; ++k) {
          if (mask & (1u << k)) p[k] = f.args[k];
        }
        out.insert({predicate, p});
      }
      PatternVec absent(arity);
      for (size_t k = 0; k < arity; ++k) {
        if (mask & (1u << k)) absent[k] = Value{"Nobody", "x"};
      }
      out.insert({predicate, absent});
    }
  }
  return out;
}

// `expected(predicate, pattern)` gives the reference rows, ascending.
// Returns the number of patterns compared.
inline int CheckIndexAnswers(
    const FactIndex& index, const std::vector<Fact>& probe,
    const std::function<Rows(const std::string&, const PatternVec&)>& expected) {
  int compared = 0;
  // Not a structured binding: the lambda below captures `pattern`, which
  // clang 14 (the sanitizer build) does not allow for bindings.
  for (const auto& probe_pattern : ProbePatterns(index, probe)) {
    const std::string& predicate = probe_pattern.first;
    const PatternVec& pattern = probe_pattern.second;
    const Rows want = expected(predicate, pattern);
    INFO("pattern " << predicate << "/" << pattern.size() << " ["
                    << [&] {
                         std::string s;
                         for (const auto& v : pattern) {
                           s += v.has_value() ? ToString(*v) : std::string("_");
                           s += " ";
                         }
                         return s;
                       }()
                    << "] at index offset " << index.offset());
    REQUIRE(ScanRows(index, predicate, pattern) == want);
    REQUIRE(ForEachRows(index, predicate, pattern) == want);
    ++compared;
  }
  return compared;
}

// Against a model: `live` is the set of live facts (no duplicates).
inline int CheckIndexHolds(const FactIndex& index, const std::vector<Fact>& live,
                           const std::vector<Fact>& probe) {
  INFO("index offset " << index.offset());
  REQUIRE(index.size() == live.size());
  for (const Fact& f : live) REQUIRE(index.Contains(f));
  std::set<Fact> live_set(live.begin(), live.end());
  for (const Fact& f : probe) {
    INFO(ToString(f));
    REQUIRE(index.Contains(f) == live_set.contains(f));
  }
  return CheckIndexAnswers(index, probe, [&](const std::string& p, const PatternVec& pat) {
    return ExpectedRows(live, p, pat);
  });
}

}  // namespace arbiter::eval::testing

#endif  // ARBITER_TESTS_UNIT_EVAL_INDEX_CHECKS_H_
