#include "common/eval/overlay_fact_source.h"

#include <algorithm>
#include <compare>
#include <vector>

namespace arbiter::eval {
namespace {

// True when `args` agrees with every bound entry of `pattern`.
bool Matches(std::span<const Value> args, Pattern pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i].has_value() && *pattern[i] != args[i]) return false;
  }
  return true;
}

}  // namespace

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
