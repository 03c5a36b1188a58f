#include "common/storage/sqlite.h"

#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/storage/internal/sv.h"

namespace arbiter::storage {

using internal::Sv;

absl::Status SqliteError(int rc, std::string_view message,
                         std::string_view sql) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) {
    return absl::OkStatus();
  }
  std::string text = absl::StrCat("sqlite: ", Sv(message));
  if (!sql.empty()) absl::StrAppend(&text, " [sql: ", Sv(sql), "]");
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(text);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(text);
    default:
      return absl::InternalError(text);
  }
}

namespace {

// The message for `rc` from the connection when it has one that matches,
// else SQLite's generic text for the code.
std::string ErrorMessage(sqlite3* db, int rc) {
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    return sqlite3_errmsg(db);
  }
  return sqlite3_errstr(rc);
}

}  // namespace

// ---------------------------------------------------------------- Statement

Statement::~Statement() { sqlite3_finalize(stmt_); }

absl::Status Statement::BindInt64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  return SqliteError(rc, ErrorMessage(db_->raw(), rc), sql_);
}

absl::Status Statement::BindText(int index, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8);
  return SqliteError(rc, ErrorMessage(db_->raw(), rc), sql_);
}

absl::Status Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  return SqliteError(rc, ErrorMessage(db_->raw(), rc), sql_);
}

absl::StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  absl::Status s = SqliteError(rc, ErrorMessage(db_->raw(), rc), sql_);
  // A failed statement must be reset before it can run again.
  sqlite3_reset(stmt_);
  return s;
}

absl::Status Statement::Run() {
  ARBITER_ASSIGN_OR_RETURN(bool row, Step());
  if (row) {
    return absl::InternalError(
        absl::StrCat("sqlite: statement returned a row [sql: ", sql_, "]"));
  }
  return absl::OkStatus();
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string_view Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(text),
                          static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::Changes() const { return sqlite3_changes64(db_->raw()); }

// ---------------------------------------------------------- PooledStatement

PooledStatement::PooledStatement(PooledStatement&& other) noexcept
    : db_(other.db_), stmt_(std::move(other.stmt_)) {}

PooledStatement::~PooledStatement() {
  if (stmt_ != nullptr) db_->Release(std::move(stmt_));
}

// ----------------------------------------------------------------------- Db

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path,
                                             const DbOptions& options) {
  const bool create = options.create && !options.read_only;
  if (!create) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::NotFoundError(
          absl::StrCat("sqlite: database file ", path, " does not exist"));
    }
  }
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create) flags |= SQLITE_OPEN_CREATE;

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(rc, absl::StrCat("open ", path, ": ",
                                                  ErrorMessage(raw, rc)));
    sqlite3_close_v2(raw);  // sqlite3_open_v2 may allocate even on failure
    return s;
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  std::unique_ptr<Db> db(new Db(raw, path, options.read_only));
  db->busy_timeout_ms_ = options.busy_timeout_ms;

  auto annotate = [&](const absl::Status& s) {
    return Annotate(s, absl::StrCat("open ", path));
  };
  // Reading the schema is the first access that touches the file: it turns
  // "not a database" into DATA_LOSS here rather than at the first query.
  absl::StatusOr<int64_t> tables =
      db->QueryInt64("SELECT count(*) FROM sqlite_schema");
  if (!tables.ok()) return annotate(tables.status());
  ARBITER_RETURN_IF_ERROR(annotate(db->Exec("PRAGMA foreign_keys=ON")));

  if (options.read_only) {
    absl::StatusOr<std::string> mode = db->QueryText("PRAGMA journal_mode");
    if (!mode.ok()) return annotate(mode.status());
    if (absl::AsciiStrToLower(*mode) != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "open ", path, ": journal_mode is ", *mode, ", want wal"));
    }
    return db;
  }

  absl::StatusOr<std::string> mode = db->QueryText("PRAGMA journal_mode=WAL");
  if (!mode.ok()) return annotate(mode.status());
  if (absl::AsciiStrToLower(*mode) != "wal") {
    return absl::InternalError(absl::StrCat(
        "open ", path, ": could not switch to WAL (journal_mode is ", *mode,
        ")"));
  }
  ARBITER_RETURN_IF_ERROR(annotate(db->Exec("PRAGMA synchronous=FULL")));
  if (options.wal_autocheckpoint.has_value()) {
    ARBITER_RETURN_IF_ERROR(annotate(db->Exec(absl::StrCat(
        "PRAGMA wal_autocheckpoint=", *options.wal_autocheckpoint))));
  }
  if (options.wal_autocheckpoint == 0) {
    // Automatic checkpoints are off, so the WAL hook is free (the automatic
    // checkpoint is itself a WAL hook): count the frames for wal_bytes().
    absl::StatusOr<int64_t> page_size = db->QueryInt64("PRAGMA page_size");
    if (!page_size.ok()) return annotate(page_size.status());
    db->page_size_ = *page_size;
    sqlite3_wal_hook(
        raw,
        [](void* self, sqlite3*, const char*, int frames) {
          static_cast<Db*>(self)->wal_frames_.store(frames, std::memory_order_relaxed);
          return SQLITE_OK;
        },
        db.get());
  }
  if (options.persist_wal) {
    int persist = 1;
    rc = sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    if (rc != SQLITE_OK) {
      return SqliteError(rc, absl::StrCat("open ", path,
                                          ": SQLITE_FCNTL_PERSIST_WAL: ",
                                          ErrorMessage(raw, rc)));
    }
  }
  return db;
}

Db::~Db() {
  pool_.clear();  // finalize every pooled statement before closing
  sqlite3_close_v2(db_);
}

absl::Status Db::Exec(std::string_view sql) {
  std::string owned(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string message = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return SqliteError(rc, message, sql);
}

absl::StatusOr<std::unique_ptr<Statement>> Db::PrepareUncached(
    std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, ErrorMessage(db_, rc), sql);
  }
  if (stmt == nullptr) {
    return absl::InternalError(
        absl::StrCat("sqlite: empty statement [sql: ", Sv(sql), "]"));
  }
  return std::unique_ptr<Statement>(new Statement(this, stmt, std::string(sql)));
}

absl::StatusOr<PooledStatement> Db::Prepare(std::string_view sql) {
  auto it = pool_.find(sql);
  if (it != pool_.end() && !it->second.empty()) {
    std::unique_ptr<Statement> stmt = std::move(it->second.back());
    it->second.pop_back();
    return PooledStatement(this, std::move(stmt));
  }
  ARBITER_ASSIGN_OR_RETURN(std::unique_ptr<Statement> stmt,
                           PrepareUncached(sql));
  return PooledStatement(this, std::move(stmt));
}

void Db::Release(std::unique_ptr<Statement> stmt) {
  stmt->Reset();
  std::vector<std::unique_ptr<Statement>>& idle = pool_[stmt->sql_];
  // A deep recursion may have prepared many copies; keep a few.
  if (idle.size() < 4) idle.push_back(std::move(stmt));
}

absl::StatusOr<int64_t> Db::QueryInt64(std::string_view sql) {
  ARBITER_ASSIGN_OR_RETURN(PooledStatement stmt, Prepare(sql));
  ARBITER_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("sqlite: query returned no row [sql: ", Sv(sql), "]"));
  }
  return stmt->ColumnInt64(0);
}

absl::StatusOr<std::string> Db::QueryText(std::string_view sql) {
  ARBITER_ASSIGN_OR_RETURN(PooledStatement stmt, Prepare(sql));
  ARBITER_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("sqlite: query returned no row [sql: ", Sv(sql), "]"));
  }
  return std::string(stmt->ColumnText(0));
}

bool Db::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

absl::Status Db::Checkpoint(std::string_view mode, int busy_timeout_ms) {
  std::string sql = absl::StrCat("PRAGMA wal_checkpoint(", Sv(mode), ")");
  ARBITER_ASSIGN_OR_RETURN(std::unique_ptr<Statement> stmt,
                           PrepareUncached(sql));
  if (busy_timeout_ms >= 0) sqlite3_busy_timeout(db_, busy_timeout_ms);
  absl::StatusOr<bool> stepped = stmt->Step();
  if (busy_timeout_ms >= 0) sqlite3_busy_timeout(db_, busy_timeout_ms_);
  ARBITER_ASSIGN_OR_RETURN(bool row, std::move(stepped));
  // After a complete RESTART or TRUNCATE the next write starts the WAL over.
  if (row && stmt->ColumnInt64(0) == 0 && (mode == "RESTART" || mode == "TRUNCATE")) {
    wal_frames_.store(0, std::memory_order_relaxed);
  }
  // Columns: busy (1 if it could not complete), WAL frames, frames moved.
  if (row && stmt->ColumnInt64(0) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "sqlite: checkpoint ", Sv(mode), " of ", path_, " was blocked by readers"));
  }
  return absl::OkStatus();
}

// -------------------------------------------------------------- Transaction

absl::StatusOr<Transaction> Transaction::Begin(Db* db, Mode mode) {
  if (db->InTransaction()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sqlite: a transaction is already open on ", db->path()));
  }
  ARBITER_RETURN_IF_ERROR(
      db->Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN"));
  Transaction txn(db);
  if (mode == Mode::kRead) {
    // Any read of the database file starts the read transaction (pins the
    // WAL snapshot); sqlite_schema always exists.
    absl::StatusOr<int64_t> n =
        db->QueryInt64("SELECT count(*) FROM sqlite_schema");
    if (!n.ok()) return n.status();  // ~Transaction rolls back
  }
  return txn;
}

Transaction::Transaction(Transaction&& other) noexcept : db_(other.db_) {
  other.db_ = nullptr;
}

Transaction::~Transaction() {
  if (db_ != nullptr && db_->InTransaction()) {
    // Nothing useful to do with a failure here: SQLite rolls back on close.
    (void)db_->Exec("ROLLBACK");
  }
}

absl::Status Transaction::Commit() {
  if (db_ == nullptr) {
    return absl::FailedPreconditionError("sqlite: transaction already finished");
  }
  Db* db = db_;
  db_ = nullptr;
  absl::Status s = db->Exec("COMMIT");
  if (!s.ok() && db->InTransaction()) (void)db->Exec("ROLLBACK");
  return s;
}

absl::Status Transaction::Rollback() {
  if (db_ == nullptr) {
    return absl::FailedPreconditionError("sqlite: transaction already finished");
  }
  Db* db = db_;
  db_ = nullptr;
  if (!db->InTransaction()) return absl::OkStatus();
  return db->Exec("ROLLBACK");
}

// ------------------------------------------------------------ CreateDatabase

namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

absl::Status ErrnoError(std::string_view what, const std::string& path,
                        int err) {
  return absl::InternalError(
      absl::StrCat(Sv(what), " ", path, ": ", std::strerror(err)));
}

absl::Status RemoveIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("unlink", path, errno);
  }
  return absl::OkStatus();
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace


absl::Status CreateDatabase(const std::string& path,
                            absl::FunctionRef<absl::Status(Db* db)> init) {
  if (FileExists(path)) {
    return absl::AlreadyExistsError(
        absl::StrCat("database ", path, " already exists"));
  }
  const std::string tmp = absl::StrCat(path, ".tmp-", ::getpid());
  auto remove_tmp = [&]() -> absl::Status {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      ARBITER_RETURN_IF_ERROR(RemoveIfExists(tmp + suffix));
    }
    return absl::OkStatus();
  };
  ARBITER_RETURN_IF_ERROR(remove_tmp());

  absl::Status s = [&]() -> absl::Status {
    DbOptions options;
    options.create = true;
    options.persist_wal = true;
    ARBITER_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(tmp, options));
    {
      ARBITER_ASSIGN_OR_RETURN(
          Transaction txn, Transaction::Begin(db.get(), Transaction::Mode::kImmediate));
      ARBITER_RETURN_IF_ERROR(init(db.get()));
      ARBITER_RETURN_IF_ERROR(txn.Commit());
    }
    ARBITER_RETURN_IF_ERROR(db->Checkpoint("TRUNCATE"));
    db.reset();  // close; the -wal file persists, empty
    ARBITER_RETURN_IF_ERROR(SyncPath(tmp));
    // The -shm index is rebuilt by the next opener; it must not outlive the
    // database it described.
    ARBITER_RETURN_IF_ERROR(RemoveIfExists(tmp + "-shm"));
    // A -wal or -shm without its database belongs to nobody (a crash between
    // the renames below, or a deleted database): SQLite would otherwise try
    // to recover the new file from it.
    ARBITER_RETURN_IF_ERROR(RemoveIfExists(path + "-wal"));
    ARBITER_RETURN_IF_ERROR(RemoveIfExists(path + "-shm"));
    if (FileExists(tmp + "-wal") &&
        std::rename((tmp + "-wal").c_str(), (path + "-wal").c_str()) != 0) {
      return ErrnoError("rename", tmp + "-wal", errno);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return ErrnoError("rename", tmp, errno);
    }
    return SyncPath(DirName(path));
  }();
  if (!s.ok()) {
    (void)remove_tmp();
    return Annotate(s, absl::StrCat("create ", path));
  }
  return absl::OkStatus();
}

}  // namespace arbiter::storage
