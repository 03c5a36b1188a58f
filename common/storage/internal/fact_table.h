#ifndef ARBITER_COMMON_STORAGE_INTERNAL_FACT_TABLE_H_
#define ARBITER_COMMON_STORAGE_INTERNAL_FACT_TABLE_H_

// The SQL shape of stored facts, shared by TenantDb and SqliteFactSource.
// Not part of the storage API. See tenant_db.cc for the schema and why.
//
// A fact occupies the columns (predicate, arity, t1, i1, ..., t5, i5): the
// type and id of argument k in tK/iK, and '' in the columns past its arity
// (valid values never have an empty type or id).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/base/value.h"
#include "common/storage/sqlite.h"

namespace arbiter::storage::internal {

// "t1,i1,t2,i2,...,tN,iN" for the first `arity` arguments.
std::string ArgColumns(int arity);

// "t1,i1,...,t5,i5": every argument column.
const std::string& AllArgColumns();

// The Scan query for `arity` (1..kMaxArity) with argument k (0-based) bound
// when bit k of `bound_mask` is set. Parameters: ?1 = predicate, then one
// (type, id) pair per bound argument in position order. Returns the arity's
// argument columns in ascending order. The strings are built once.
const std::string& ScanSql(int arity, uint32_t bound_mask);

// Binds the 2 * kMaxArity argument columns of `args` (padded with '') to
// parameters first_index .. first_index + 9.
absl::Status BindArgColumns(Statement& stmt, int first_index,
                            std::span<const Value> args);

// Reads `arity` arguments from columns first_column.. into `out` (resized;
// the strings' storage is reused).
void ReadArgs(const Statement& stmt, int first_column, int arity,
              std::vector<Value>* out);

}  // namespace arbiter::storage::internal

#endif  // ARBITER_COMMON_STORAGE_INTERNAL_FACT_TABLE_H_
