#include "common/storage/internal/fact_table.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace arbiter::storage::internal {

std::string ArgColumns(int arity) {
  std::string out;
  for (int k = 1; k <= arity; ++k) {
    absl::StrAppend(&out, k > 1 ? "," : "", "t", k, ",i", k);
  }
  return out;
}

const std::string& AllArgColumns() {
  static const std::string* const kAll = new std::string(ArgColumns(kMaxArity));
  return *kAll;
}

namespace {

using ScanTable = std::array<std::array<std::string, 1u << kMaxArity>, kMaxArity + 1>;

ScanTable* BuildScanTable() {
  auto* table = new ScanTable();
  for (int arity = 1; arity <= kMaxArity; ++arity) {
    const std::string columns = ArgColumns(arity);
    for (uint32_t mask = 0; mask < (1u << arity); ++mask) {
      // The arity is a literal so the planner sees a constant; only the
      // predicate and the bound values are parameters.
      std::string sql = absl::StrCat("SELECT ", columns,
                                     " FROM facts WHERE predicate=?1 AND arity=",
                                     arity);
      int param = 2;
      for (int k = 0; k < arity; ++k) {
        if ((mask & (1u << k)) == 0) continue;
        absl::StrAppend(&sql, " AND t", k + 1, "=?", param, " AND i", k + 1,
                        "=?", param + 1);
        param += 2;
      }
      // Every index lists the remaining arguments in position order, so this
      // ORDER BY is satisfied by the index walk (no temp b-tree).
      absl::StrAppend(&sql, " ORDER BY ", columns);
      (*table)[arity][mask] = std::move(sql);
    }
  }
  return table;
}

}  // namespace

const std::string& ScanSql(int arity, uint32_t bound_mask) {
  static const ScanTable* const kTable = BuildScanTable();
  return (*kTable)[arity][bound_mask];
}

absl::Status BindArgColumns(Statement& stmt, int first_index,
                            std::span<const Value> args) {
  for (int k = 0; k < kMaxArity; ++k) {
    const bool present = k < static_cast<int>(args.size());
    ARBITER_RETURN_IF_ERROR(
        stmt.BindText(first_index + 2 * k, present ? args[k].type : ""));
    ARBITER_RETURN_IF_ERROR(
        stmt.BindText(first_index + 2 * k + 1, present ? args[k].id : ""));
  }
  return absl::OkStatus();
}

void ReadArgs(const Statement& stmt, int first_column, int arity,
              std::vector<Value>* out) {
  out->resize(arity);
  for (int k = 0; k < arity; ++k) {
    (*out)[k].type.assign(stmt.ColumnText(first_column + 2 * k));
    (*out)[k].id.assign(stmt.ColumnText(first_column + 2 * k + 1));
  }
}

}  // namespace arbiter::storage::internal
