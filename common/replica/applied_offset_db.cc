#include "common/replica/applied_offset_db.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace arbiter::replica {

absl::StatusOr<std::unique_ptr<AppliedOffsetDb>> AppliedOffsetDb::Open(const ReplicaDir& dir) {
  const std::string path = dir.AppliedOffsetPath();
  ARBITER_ASSIGN_OR_RETURN(auto db, storage::Db::Open(path, {.create = true}));
  ARBITER_RETURN_IF_ERROR(Annotate(
      db->Exec("CREATE TABLE IF NOT EXISTS applied(id INTEGER PRIMARY KEY CHECK (id = 0), "
               "offset INTEGER NOT NULL);"
               "INSERT OR IGNORE INTO applied(id, offset) VALUES (0, 0);"),
      path));
  absl::StatusOr<int64_t> offset = db->QueryInt64("SELECT offset FROM applied WHERE id = 0");
  if (!offset.ok()) return Annotate(offset.status(), path);
  return std::unique_ptr<AppliedOffsetDb>(new AppliedOffsetDb(std::move(db), *offset));
}

absl::StatusOr<int64_t> AppliedOffsetDb::Peek(const ReplicaDir& dir) {
  const std::string path = dir.AppliedOffsetPath();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  ARBITER_ASSIGN_OR_RETURN(auto db, storage::Db::Open(path, {}));
  absl::StatusOr<int64_t> offset = db->QueryInt64("SELECT offset FROM applied WHERE id = 0");
  if (offset.ok()) return *offset;
  // A database without the table (or the row) has applied nothing; one that
  // is not a database must not pass for empty.
  if (offset.status().code() == absl::StatusCode::kDataLoss) {
    return Annotate(offset.status(), path);
  }
  return 0;
}

absl::Status AppliedOffsetDb::Set(int64_t offset) {
  ARBITER_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("UPDATE applied SET offset = ? WHERE id = 0"));
  ARBITER_RETURN_IF_ERROR(stmt->BindInt64(1, offset));
  ARBITER_RETURN_IF_ERROR(Annotate(stmt->Run(), db_->path()));
  offset_ = offset;
  return absl::OkStatus();
}

}  // namespace arbiter::replica
