#ifndef ARBITER_COMMON_REPLICA_APPLIED_OFFSET_DB_H_
#define ARBITER_COMMON_REPLICA_APPLIED_OFFSET_DB_H_

// The global applied offset of a replica directory that has no control.db
// (the log's materialized state): ReplicaDir::AppliedOffsetPath(), a SQLite
// file with one row `applied(id = 0, offset)`. A host generation keeps this
// value in control.db instead.
//
// The owner applies a batch with the Applier (each tenant database records
// its own offset in the same transaction as its facts) and then calls Set():
// after a crash in between, the entries above offset() are applied again and
// the Applier skips those a tenant already has.

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/replica/replica_dir.h"
#include "common/storage/sqlite.h"

namespace arbiter::replica {

// Not thread-safe (one SQLite connection).
class AppliedOffsetDb {
 public:
  // Opens the file of `dir`, creating it at offset 0 when missing.
  // REQUIRES: dir.root() exists. Errors as storage::Db::Open, naming the path.
  static absl::StatusOr<std::unique_ptr<AppliedOffsetDb>> Open(const ReplicaDir& dir);

  // The offset recorded in `dir`, without creating anything: 0 when the file
  // does not exist or holds no offset (a damaged or empty state counts as
  // empty); an error when the file exists but cannot be opened.
  static absl::StatusOr<int64_t> Peek(const ReplicaDir& dir);

  AppliedOffsetDb(const AppliedOffsetDb&) = delete;
  AppliedOffsetDb& operator=(const AppliedOffsetDb&) = delete;

  // The offset as of Open() or the last successful Set().
  int64_t offset() const { return offset_; }
  // Records `offset` durably (synchronous=FULL).
  absl::Status Set(int64_t offset);

 private:
  AppliedOffsetDb(std::unique_ptr<storage::Db> db, int64_t offset)
      : db_(std::move(db)), offset_(offset) {}

  std::unique_ptr<storage::Db> db_;
  int64_t offset_;
};

}  // namespace arbiter::replica

#endif  // ARBITER_COMMON_REPLICA_APPLIED_OFFSET_DB_H_
