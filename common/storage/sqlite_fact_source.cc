#include "common/storage/sqlite_fact_source.h"

#include <cstdint>
#include <vector>

#include "common/base/status_macros.h"
#include "common/storage/internal/fact_table.h"

namespace arbiter::storage {

absl::Status SqliteFactSource::Scan(
    std::string_view predicate, eval::Pattern pattern,
    absl::FunctionRef<bool(std::span<const Value> args)> fn) const {
  const int arity = static_cast<int>(pattern.size());
  if (arity < 1 || arity > kMaxArity) return absl::OkStatus();
  uint32_t mask = 0;
  for (int k = 0; k < arity; ++k) {
    if (pattern[k].has_value()) mask |= 1u << k;
  }
  ARBITER_ASSIGN_OR_RETURN(PooledStatement stmt,
                           db_->Prepare(internal::ScanSql(arity, mask)));
  ARBITER_RETURN_IF_ERROR(stmt->BindText(1, predicate));
  int param = 2;
  for (int k = 0; k < arity; ++k) {
    if (!pattern[k].has_value()) continue;
    ARBITER_RETURN_IF_ERROR(stmt->BindText(param++, pattern[k]->type));
    ARBITER_RETURN_IF_ERROR(stmt->BindText(param++, pattern[k]->id));
  }
  std::vector<Value> args;
  while (true) {
    ARBITER_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    internal::ReadArgs(*stmt, 0, arity, &args);
    if (!fn(args)) break;
  }
  return absl::OkStatus();
}

}  // namespace arbiter::storage
