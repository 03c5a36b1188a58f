#ifndef ARBITER_COMMON_STORAGE_SQLITE_H_
#define ARBITER_COMMON_STORAGE_SQLITE_H_

// A small RAII layer over the SQLite C API (3.40): a connection (Db), prepared
// statements (Statement, pooled per Db), and transactions (Transaction).
//
// Errors become absl::Status carrying SQLite's message and the SQL text:
//   SQLITE_CORRUPT, SQLITE_NOTADB -> DATA_LOSS
//   SQLITE_BUSY, SQLITE_LOCKED    -> UNAVAILABLE
//   a missing file opened without `create` -> NOT_FOUND
//   everything else               -> INTERNAL
//
// Threading: a Db is one SQLite connection opened with SQLITE_OPEN_NOMUTEX.
// Nothing here is thread-safe: a Db, its statements and its transactions must
// be used by one thread at a time (open one Db per thread instead).

#include <cstdint>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace arbiter::storage {

// Maps a SQLite result code (primary or extended) to a Status with
// `message` and, when not empty, the SQL text. OK for SQLITE_OK/ROW/DONE.
absl::Status SqliteError(int rc, std::string_view message,
                         std::string_view sql = {});

struct DbOptions {
  // SQLITE_OPEN_READONLY. A read-only connection still needs the directory
  // to be writable when the -shm file must be created (WAL mode).
  bool read_only = false;
  // SQLITE_OPEN_CREATE (ignored when read_only). Without it a missing file
  // is NOT_FOUND.
  bool create = false;
  // sqlite3_busy_timeout, set on every connection (DESIGN §8.10).
  int busy_timeout_ms = 5000;
  // Writers only: PRAGMA wal_autocheckpoint=<pages>; 0 turns automatic
  // checkpoints off (the writer checkpoints itself, DESIGN §8.10).
  // std::nullopt keeps SQLite's default (1000 pages).
  std::optional<int> wal_autocheckpoint;
  // Writers only: SQLITE_FCNTL_PERSIST_WAL, so the -wal file outlives the
  // last connection and read-only openers always find it (DESIGN §8.8).
  bool persist_wal = true;
};

class Db;

// A prepared statement. Not thread-safe. Column getters are valid only after
// Step() returned true, until the next Step()/Reset(). Text returned by
// ColumnText() is owned by SQLite and valid until then as well.
class Statement {
 public:
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  // INTERNAL when the index is out of range.
  absl::Status BindInt64(int index, int64_t value);
  absl::Status BindText(int index, std::string_view value);
  absl::Status BindNull(int index);

  // Advances: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DELETE) to
  // completion. INTERNAL if it returns a row.
  absl::Status Run();

  int ColumnCount() const;
  bool ColumnIsNull(int column) const;  // 0-based
  int64_t ColumnInt64(int column) const;
  std::string_view ColumnText(int column) const;

  // Resets to the start and clears every binding.
  void Reset();

  std::string_view sql() const { return sql_; }
  // The connection's sqlite3_changes() after the last completed step.
  int64_t Changes() const;

 private:
  friend class Db;
  Statement(Db* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}

  Db* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

// A statement borrowed from a Db's pool; returned (reset, bindings cleared)
// when the handle is destroyed. Nested use of the same SQL (e.g. a recursive
// Scan from inside a Scan callback) gets a second statement, never the busy
// one. REQUIRES: destroyed before its Db.
class PooledStatement {
 public:
  PooledStatement(PooledStatement&& other) noexcept;
  PooledStatement& operator=(PooledStatement&&) = delete;
  PooledStatement(const PooledStatement&) = delete;
  ~PooledStatement();

  Statement* operator->() const { return stmt_.get(); }
  Statement& operator*() const { return *stmt_; }
  Statement* get() const { return stmt_.get(); }

 private:
  friend class Db;
  PooledStatement(Db* db, std::unique_ptr<Statement> stmt)
      : db_(db), stmt_(std::move(stmt)) {}
  Db* db_;
  std::unique_ptr<Statement> stmt_;
};

// One SQLite connection. Not thread-safe (see the file comment).
class Db {
 public:
  // Opens `path`. Every connection gets busy_timeout and foreign_keys=ON.
  // A writable connection is switched to WAL with synchronous=FULL (and the
  // autocheckpoint / persist-WAL options); a read-only one must find the
  // file already in WAL mode (FAILED_PRECONDITION otherwise).
  // NOT_FOUND when the file does not exist and !create (or read_only);
  // DATA_LOSS when it is not a database; UNAVAILABLE when locked past the
  // busy timeout; INTERNAL otherwise.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path,
                                                  const DbOptions& options);

  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements that return no rows we care about.
  absl::Status Exec(std::string_view sql);

  // A statement from the pool for `sql` (prepared on first use).
  absl::StatusOr<PooledStatement> Prepare(std::string_view sql);
  // A fresh statement owned by the caller; REQUIRES: destroyed before *this.
  absl::StatusOr<std::unique_ptr<Statement>> PrepareUncached(
      std::string_view sql);

  // Runs a query returning one INTEGER column of one row; NOT_FOUND when it
  // returns no row. Handy for PRAGMAs and counts.
  absl::StatusOr<int64_t> QueryInt64(std::string_view sql);
  absl::StatusOr<std::string> QueryText(std::string_view sql);

  // True while a transaction is open (sqlite3_get_autocommit() == 0).
  bool InTransaction() const;

  // PRAGMA wal_checkpoint(<mode>), mode one of PASSIVE, FULL, RESTART,
  // TRUNCATE. UNAVAILABLE when SQLite reports it could not complete (busy).
  // `busy_timeout_ms` >= 0 bounds the wait for readers (and other
  // checkpointers) for this call only; -1 keeps the connection's.
  absl::Status Checkpoint(std::string_view mode, int busy_timeout_ms = -1);

  // With automatic checkpoints off (DbOptions::wal_autocheckpoint = 0): the
  // bytes of WAL frames after this connection's last commit, i.e. what the
  // next checkpoint has to copy at most (the WAL file itself keeps its
  // size when it starts over). 0 otherwise.
  int64_t wal_bytes() const {
    return wal_frames_.load(std::memory_order_relaxed) * page_size_;
  }

  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  sqlite3* raw() const { return db_; }

 private:
  friend class PooledStatement;
  Db(sqlite3* db, std::string path, bool read_only)
      : db_(db), path_(std::move(path)), read_only_(read_only) {}
  void Release(std::unique_ptr<Statement> stmt);

  sqlite3* db_;
  std::string path_;
  bool read_only_;
  int busy_timeout_ms_ = 5000;
  int64_t page_size_ = 0;
  std::atomic<int64_t> wal_frames_{0};
  // Idle prepared statements by SQL text. Declared after db_ but destroyed
  // explicitly in ~Db() before sqlite3_close().
  std::map<std::string, std::vector<std::unique_ptr<Statement>>, std::less<>>
      pool_;
};

// A transaction on one Db; rolls back in the destructor unless committed.
// Movable, not copyable. Not thread-safe. Transactions do not nest: Begin
// on a Db already in a transaction is FAILED_PRECONDITION.
class Transaction {
 public:
  enum class Mode {
    // BEGIN (DEFERRED): the read snapshot starts at the first read.
    kDeferred,
    // BEGIN, then a read of sqlite_schema: the snapshot is pinned when Begin
    // returns, so everything read later sees one committed state.
    kRead,
    // BEGIN IMMEDIATE: takes the write lock now (UNAVAILABLE if another
    // writer holds it past the busy timeout).
    kImmediate,
  };

  static absl::StatusOr<Transaction> Begin(Db* db, Mode mode);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  // COMMIT. On failure the transaction is rolled back (if SQLite left it
  // open) and the error returned. FAILED_PRECONDITION if already finished.
  absl::Status Commit();
  // ROLLBACK now. FAILED_PRECONDITION if already finished.
  absl::Status Rollback();

  bool active() const { return db_ != nullptr; }

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;  // nullptr once committed, rolled back or moved from
};

// Creates a new database at `path` the DESIGN §8.8 way, so that no process
// ever opens a half-initialized file:
//   1. open `<path>.tmp-<pid>` (leftovers of an earlier attempt are removed),
//      WAL mode, synchronous=FULL, SQLITE_FCNTL_PERSIST_WAL;
//   2. run `init` inside one BEGIN IMMEDIATE transaction and commit;
//   3. checkpoint(TRUNCATE), close, fsync the file;
//   4. remove orphaned `<path>-wal`/`-shm` (no database owns them), rename the
//      (empty, persisted) `-wal` and then the database into place;
//   5. fsync the directory.
// ALREADY_EXISTS when `path` exists; REQUIRES: the parent directory exists.
// Errors from `init` are returned unchanged (and nothing is left at `path`).
absl::Status CreateDatabase(const std::string& path,
                            absl::FunctionRef<absl::Status(Db* db)> init);


}  // namespace arbiter::storage

#endif  // ARBITER_COMMON_STORAGE_SQLITE_H_
