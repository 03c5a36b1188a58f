#ifndef ARBITER_COMMON_STORAGE_SQLITE_FACT_SOURCE_H_
#define ARBITER_COMMON_STORAGE_SQLITE_FACT_SOURCE_H_

// eval::FactSource over a tenant database (the schema of tenant_db.h).

#include <span>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/base/value.h"
#include "common/eval/fact_source.h"
#include "common/storage/sqlite.h"

namespace arbiter::storage {

// Answers Scan() with one indexed query per call (statements cached in the
// Db's pool by (arity, bound-positions mask); every shape is an index SEARCH,
// see the EXPLAIN QUERY PLAN test).
//
// Consistency: SQLite gives each statement its own snapshot unless a
// transaction is open. The caller opens a read transaction on the connection
// (Transaction::Begin(db, Transaction::Mode::kRead)) before evaluating and
// ends it after, so every Scan of one answer sees one applied offset; keep it
// short (DESIGN §8.10: a long read transaction pins the WAL).
//
// NOT thread-safe, unlike most FactSources: Scan() uses the one connection
// of `db`. Use one SqliteFactSource (and one Db) per thread. Re-entrant:
// `fn` may call Scan() again (nested scans use separate statements).
class SqliteFactSource : public eval::FactSource {
 public:
  // `db` is not owned and must outlive this object.
  explicit SqliteFactSource(Db* db) : db_(db) {}

  // As eval::FactSource::Scan. Arity 0 or > kMaxArity matches nothing.
  // DATA_LOSS on corruption, UNAVAILABLE when locked past the busy timeout,
  // INTERNAL otherwise.
  absl::Status Scan(
      std::string_view predicate, eval::Pattern pattern,
      absl::FunctionRef<bool(std::span<const Value> args)> fn) const override;

 private:
  Db* db_;
};

}  // namespace arbiter::storage

#endif  // ARBITER_COMMON_STORAGE_SQLITE_FACT_SOURCE_H_
