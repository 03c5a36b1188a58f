#ifndef ARBITER_COMMON_STORAGE_TENANT_DB_H_
#define ARBITER_COMMON_STORAGE_TENANT_DB_H_

// One tenant's database (`<generation dir>/tenants/<tenant>.db`): its facts,
// its policy, the last log offset applied to it, and the `changes` table that
// lets a reader advance an in-memory index (DESIGN §4, §8.6). Used by the
// log's materializer, the writer's applier and the reader. The schema and why
// it looks the way it does: docs/STORAGE.md and tenant_db.cc.
//
// Offsets are log offsets (uint64 on the wire) stored as SQLite INTEGER:
// REQUIRES offsets < 2^63. Offset 0 means "nothing": the log's first entry is 1.

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/value.h"
#include "common/eval/fact_source.h"
#include "common/storage/sqlite.h"

namespace arbiter::storage {

// The schema this code writes. Open() refuses a file whose major version
// differs (newer: written by newer code; older: migrations happen by building
// a new generation, DESIGN §8.12); any minor version of our major is read.
inline constexpr int kTenantSchemaMajor = 1;
inline constexpr int kTenantSchemaMinor = 0;

// What a new tenant database starts with.
struct TenantDbInit {
  std::string tenant;      // the tenant name (validated by the caller)
  std::string cluster_id;  // DESIGN §8.1; may be empty when not yet known
  int64_t applied_offset = 0;  // e.g. the offset of its CreateTenant entry
};

// The single `meta` row.
struct TenantMeta {
  int schema_major = 0;
  int schema_minor = 0;
  std::string tenant;
  std::string cluster_id;
  int64_t applied_offset = 0;
  std::string policy_source;   // '' when no policy was ever set
  int64_t policy_version = 0;  // offset of the SetPolicy entry; 0 = none
  // Every change row with offset >= changes_floor is present (PruneChanges
  // raises it).
  int64_t changes_floor = 0;
};

struct PolicyRecord {
  std::string source;
  int64_t version = 0;  // the offset of its SetPolicy entry

  friend bool operator==(const PolicyRecord&, const PolicyRecord&) = default;
};

enum class ChangeOp { kInsert, kDelete };

// One row of `changes`: `fact` was inserted or deleted by the entry at
// `offset`. Within an offset, `seq` increases in apply order (it may have
// gaps).
struct Change {
  int64_t offset = 0;
  int64_t seq = 0;
  ChangeOp op = ChangeOp::kInsert;
  Fact fact;

  friend bool operator==(const Change&, const Change&) = default;
};

// A tenant database on one connection. Not thread-safe (one Db inside).
//
// Writes REQUIRE a transaction open on db() (Transaction::Begin(db(),
// kImmediate)); they return FAILED_PRECONDITION otherwise, and on a
// read-only connection. The caller commits: everything written in one
// transaction, including SetAppliedOffset, becomes visible at once.
// Reads work inside or outside a transaction.
class TenantDb {
 public:
  // Creates a new database at `path` with the schema and `init` in its meta
  // row, by CreateDatabase() (temporary file, WAL, rename, fsync dir).
  // ALREADY_EXISTS if `path` exists. REQUIRES: the parent directory exists.
  static absl::Status Create(const std::string& path, const TenantDbInit& init);

  // Opens an existing database (options.create is ignored). NOT_FOUND if it
  // does not exist; FAILED_PRECONDITION when it is not a tenant database or
  // its schema major version is not kTenantSchemaMajor; DATA_LOSS when
  // corrupt; see Db::Open for the rest.
  static absl::StatusOr<std::unique_ptr<TenantDb>> Open(const std::string& path,
                                                        DbOptions options);

  TenantDb(const TenantDb&) = delete;
  TenantDb& operator=(const TenantDb&) = delete;

  // The connection, e.g. for transactions or a SqliteFactSource.
  Db* db() const { return db_.get(); }

  // ---- writes (REQUIRE an open transaction) ----

  // Stores `fact` and records an insert change at `offset`. Returns true if
  // it was stored, false if it was already there (then nothing is written,
  // no change row). INVALID_ARGUMENT for arity outside 1..kMaxArity or an
  // empty predicate, type or id.
  absl::StatusOr<bool> InsertFact(int64_t offset, const Fact& fact);

  // Deletes every fact named `predicate` with arity pattern.size() matching
  // `pattern`, recording one delete change per fact at `offset` (in
  // ascending fact order). Returns how many were deleted (0 is OK).
  // Each pattern entry is, as in arbiter.v1.FactPattern:
  //   * std::nullopt or Value{"", ""}: any value (wildcard);
  //   * Value{type, ""}: any value of that type (typed wildcard) — valid ids
  //     are never empty, so this is unambiguous;
  //   * Value{type, id}: exactly that value.
  // INVALID_ARGUMENT for arity outside 1..kMaxArity, an empty predicate, or
  // a Value with an id but no type.
  absl::StatusOr<int64_t> DeletePattern(int64_t offset,
                                        std::string_view predicate,
                                        eval::Pattern pattern);

  // Records the last log offset applied to this tenant. FAILED_PRECONDITION
  // if it is lower than the stored one (equal is a no-op).
  absl::Status SetAppliedOffset(int64_t offset);

  // Stores the tenant's policy; `version` is the offset of its SetPolicy
  // entry (> 0).
  absl::Status SetPolicy(std::string_view source, int64_t version);

  // Sets meta.cluster_id (e.g. once known after a restore).
  absl::Status SetClusterId(std::string_view cluster_id);

  // Deletes change rows with offset < below_offset and raises changes_floor
  // to below_offset (never lowers it). Returns the number of rows deleted.
  absl::StatusOr<int64_t> PruneChanges(int64_t below_offset);

  // ---- reads ----

  absl::StatusOr<TenantMeta> Meta();
  absl::StatusOr<int64_t> AppliedOffset();
  // std::nullopt when no policy was ever set.
  absl::StatusOr<std::optional<PolicyRecord>> Policy();

  // Up to `limit` changes with (offset, seq) > (after_offset, after_seq), in
  // (offset, seq) order. With the default after_seq this is "every change of
  // the entries after after_offset"; to page, pass the last change's offset
  // and seq. OUT_OF_RANGE when changes after after_offset were pruned
  // (after_offset + 1 < changes_floor): rebuild from the facts instead.
  // INVALID_ARGUMENT when limit <= 0.
  absl::StatusOr<std::vector<Change>> ChangesSince(
      int64_t after_offset, int64_t limit,
      int64_t after_seq = std::numeric_limits<int64_t>::max());

  // Calls `fn` for every stored fact, ordered by (predicate, arity, args);
  // stops when `fn` returns false. For building an in-memory index; run it
  // inside a read transaction together with AppliedOffset().
  absl::Status ForEachFact(absl::FunctionRef<bool(const Fact&)> fn);

  // The number of stored facts.
  absl::StatusOr<int64_t> CountFacts();

 private:
  explicit TenantDb(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  absl::Status CheckWritable() const;
  absl::StatusOr<int64_t> NextSeq(int64_t offset);
  absl::Status AddChange(int64_t offset, ChangeOp op, std::string_view predicate,
                         std::span<const Value> args);

  std::unique_ptr<Db> db_;
  // The next seq for one offset, so a bulk apply does not query MAX(seq) per
  // fact. After a rollback it may be ahead of the table: seq only has to
  // increase, so gaps are harmless.
  std::optional<std::pair<int64_t, int64_t>> next_seq_;
};

}  // namespace arbiter::storage

#endif  // ARBITER_COMMON_STORAGE_TENANT_DB_H_
