#include "common/storage/sqlite.h"

#include <fstream>
#include <filesystem>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "tests/unit/storage/test_util.h"

namespace arbiter::storage {
namespace {

using testing::TempDir;

DbOptions Writer() {
  DbOptions o;
  o.create = true;
  return o;
}

DbOptions Reader() {
  DbOptions o;
  o.read_only = true;
  return o;
}

std::unique_ptr<Db> MustOpen(const std::string& path, const DbOptions& o) {
  absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(path, o);
  ARBITER_REQUIRE_OK(db);
  return *std::move(db);
}

TEST_CASE("sqlite: error codes map to status codes", "[unit][storage]") {
  CHECK(SqliteError(0, "x").ok());
  CHECK(absl::IsDataLoss(SqliteError(11, "corrupt")));     // SQLITE_CORRUPT
  CHECK(absl::IsDataLoss(SqliteError(26, "not a db")));    // SQLITE_NOTADB
  CHECK(absl::IsUnavailable(SqliteError(5, "busy")));      // SQLITE_BUSY
  CHECK(absl::IsUnavailable(SqliteError(5 | (2 << 8), "busy snapshot")));
  CHECK(absl::IsInternal(SqliteError(1, "error")));
  absl::Status s = SqliteError(1, "no such table: x", "SELECT * FROM x");
  CHECK(s.message() == "sqlite: no such table: x [sql: SELECT * FROM x]");
}

TEST_CASE("sqlite: open sets WAL, FULL sync, foreign keys, busy timeout",
          "[unit][storage]") {
  TempDir dir;
  auto db = MustOpen(dir.File("a.db"), Writer());
  CHECK(*db->QueryText("PRAGMA journal_mode") == "wal");
  CHECK(*db->QueryInt64("PRAGMA synchronous") == 2);  // FULL
  CHECK(*db->QueryInt64("PRAGMA foreign_keys") == 1);
  CHECK(*db->QueryInt64("PRAGMA busy_timeout") == 5000);

  auto reader = MustOpen(dir.File("a.db"), Reader());
  CHECK(*reader->QueryInt64("PRAGMA busy_timeout") == 5000);
  CHECK(*reader->QueryInt64("PRAGMA foreign_keys") == 1);
}

TEST_CASE("sqlite: open errors", "[unit][storage]") {
  TempDir dir;
  ARBITER_REQUIRE_CODE(Db::Open(dir.File("missing.db"), Reader()),
                       absl::StatusCode::kNotFound);
  DbOptions no_create;
  ARBITER_REQUIRE_CODE(Db::Open(dir.File("missing.db"), no_create),
                       absl::StatusCode::kNotFound);
  CHECK_FALSE(std::filesystem::exists(dir.File("missing.db")));

  {
    std::ofstream junk(dir.File("junk.db"));
    junk << std::string(8192, 'x');
  }
  ARBITER_REQUIRE_CODE(Db::Open(dir.File("junk.db"), Writer()),
                       absl::StatusCode::kDataLoss);
  ARBITER_REQUIRE_CODE(Db::Open(dir.File("junk.db"), Reader()),
                       absl::StatusCode::kDataLoss);
}

TEST_CASE("sqlite: read-only open refuses a non-WAL database",
          "[unit][storage]") {
  TempDir dir;
  {
    auto db = MustOpen(dir.File("a.db"), Writer());
    ARBITER_REQUIRE_OK(db->Exec("PRAGMA journal_mode=DELETE"));
  }
  ARBITER_REQUIRE_CODE(Db::Open(dir.File("a.db"), Reader()),
                       absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("sqlite: statements bind, step and report errors with SQL",
          "[unit][storage]") {
  TempDir dir;
  auto db = MustOpen(dir.File("a.db"), Writer());
  ARBITER_REQUIRE_OK(db->Exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"));
  {
    auto ins = db->Prepare("INSERT INTO t VALUES(?, ?)");
    ARBITER_REQUIRE_OK(ins);
    ARBITER_REQUIRE_OK((*ins)->BindInt64(1, 1));
    ARBITER_REQUIRE_OK((*ins)->BindText(2, std::string_view("a\0b", 3)));
    ARBITER_REQUIRE_OK((*ins)->Run());
    CHECK((*ins)->Changes() == 1);
    (*ins)->Reset();
    ARBITER_REQUIRE_OK((*ins)->BindInt64(1, 2));
    ARBITER_REQUIRE_OK((*ins)->BindNull(2));
    ARBITER_REQUIRE_OK((*ins)->Run());
    ARBITER_REQUIRE_CODE((*ins)->BindInt64(3, 0), absl::StatusCode::kInternal);
  }
  auto sel = db->Prepare("SELECT k, v FROM t ORDER BY k");
  ARBITER_REQUIRE_OK(sel);
  CHECK((*sel)->ColumnCount() == 2);
  auto row = (*sel)->Step();
  ARBITER_REQUIRE_OK(row);
  REQUIRE(*row);
  CHECK((*sel)->ColumnInt64(0) == 1);
  CHECK((*sel)->ColumnText(1) == std::string_view("a\0b", 3));
  row = (*sel)->Step();
  REQUIRE(*row);
  CHECK((*sel)->ColumnIsNull(1));
  row = (*sel)->Step();
  ARBITER_REQUIRE_OK(row);
  CHECK_FALSE(*row);

  absl::StatusOr<PooledStatement> bad = db->Prepare("SELECT nope FROM t");
  ARBITER_REQUIRE_CODE(bad, absl::StatusCode::kInternal);
  CHECK(bad.status().message().find("no such column: nope") != std::string::npos);
  CHECK(bad.status().message().find("[sql: SELECT nope FROM t]") !=
        std::string::npos);

  ARBITER_REQUIRE_OK(db->Exec("CREATE TABLE u(k INTEGER PRIMARY KEY)"));
  ARBITER_REQUIRE_OK(db->Exec("INSERT INTO u VALUES(1)"));
  absl::Status dup = db->Exec("INSERT INTO u VALUES(1)");
  ARBITER_REQUIRE_CODE(dup, absl::StatusCode::kInternal);
  CHECK(dup.message().find("UNIQUE constraint failed") != std::string::npos);
}

TEST_CASE("sqlite: the statement pool reuses idle statements and never hands "
          "out a busy one",
          "[unit][storage]") {
  TempDir dir;
  auto db = MustOpen(dir.File("a.db"), Writer());
  ARBITER_REQUIRE_OK(db->Exec(
      "CREATE TABLE t(k INTEGER PRIMARY KEY); INSERT INTO t VALUES(1),(2),(3)"));
  const std::string sql = "SELECT k FROM t WHERE k >= ? ORDER BY k";
  Statement* first = nullptr;
  {
    auto outer = db->Prepare(sql);
    ARBITER_REQUIRE_OK(outer);
    first = outer->get();
    ARBITER_REQUIRE_OK((*outer)->BindInt64(1, 1));
    REQUIRE(*(*outer)->Step());
    {
      // Nested use of the same SQL while `outer` is mid-iteration.
      auto inner = db->Prepare(sql);
      ARBITER_REQUIRE_OK(inner);
      CHECK(inner->get() != first);
      ARBITER_REQUIRE_OK((*inner)->BindInt64(1, 3));
      REQUIRE(*(*inner)->Step());
      CHECK((*inner)->ColumnInt64(0) == 3);
    }
    CHECK((*outer)->ColumnInt64(0) == 1);
    REQUIRE(*(*outer)->Step());
    CHECK((*outer)->ColumnInt64(0) == 2);
  }
  // Returned statements come back reset with their bindings cleared.
  auto again = db->Prepare(sql);
  ARBITER_REQUIRE_OK(again);
  auto row = (*again)->Step();
  ARBITER_REQUIRE_OK(row);
  CHECK_FALSE(*row);  // k >= NULL matches nothing
}

TEST_CASE("sqlite: transactions commit, roll back, and do not nest",
          "[unit][storage]") {
  TempDir dir;
  auto db = MustOpen(dir.File("a.db"), Writer());
  ARBITER_REQUIRE_OK(db->Exec("CREATE TABLE t(k INTEGER PRIMARY KEY)"));
  {
    auto txn = Transaction::Begin(db.get(), Transaction::Mode::kImmediate);
    ARBITER_REQUIRE_OK(txn);
    CHECK(db->InTransaction());
    ARBITER_REQUIRE_CODE(Transaction::Begin(db.get(), Transaction::Mode::kDeferred),
                         absl::StatusCode::kFailedPrecondition);
    ARBITER_REQUIRE_OK(db->Exec("INSERT INTO t VALUES(1)"));
    // destroyed without Commit: rolled back
  }
  CHECK_FALSE(db->InTransaction());
  CHECK(*db->QueryInt64("SELECT count(*) FROM t") == 0);

  {
    auto txn = Transaction::Begin(db.get(), Transaction::Mode::kImmediate);
    ARBITER_REQUIRE_OK(txn);
    ARBITER_REQUIRE_OK(db->Exec("INSERT INTO t VALUES(2)"));
    ARBITER_REQUIRE_OK(txn->Rollback());
    CHECK_FALSE(txn->active());
    ARBITER_REQUIRE_CODE(txn->Commit(), absl::StatusCode::kFailedPrecondition);
  }
  CHECK(*db->QueryInt64("SELECT count(*) FROM t") == 0);

  {
    auto txn = Transaction::Begin(db.get(), Transaction::Mode::kDeferred);
    ARBITER_REQUIRE_OK(txn);
    ARBITER_REQUIRE_OK(db->Exec("INSERT INTO t VALUES(3)"));
    Transaction moved = *std::move(txn);
    ARBITER_REQUIRE_OK(moved.Commit());
  }
  CHECK(*db->QueryInt64("SELECT count(*) FROM t") == 1);
}

TEST_CASE("sqlite: a second writer gets UNAVAILABLE past the busy timeout",
          "[unit][storage]") {
  TempDir dir;
  auto a = MustOpen(dir.File("a.db"), Writer());
  DbOptions impatient = Writer();
  impatient.busy_timeout_ms = 10;
  auto b = MustOpen(dir.File("a.db"), impatient);
  auto txn = Transaction::Begin(a.get(), Transaction::Mode::kImmediate);
  ARBITER_REQUIRE_OK(txn);
  ARBITER_REQUIRE_CODE(Transaction::Begin(b.get(), Transaction::Mode::kImmediate),
                       absl::StatusCode::kUnavailable);
  CHECK_FALSE(b->InTransaction());
}

TEST_CASE("sqlite: a read transaction pins its snapshot, read-only "
          "connections see committed data only",
          "[unit][storage]") {
  TempDir dir;
  auto w = MustOpen(dir.File("a.db"), Writer());
  ARBITER_REQUIRE_OK(w->Exec("CREATE TABLE t(k INTEGER PRIMARY KEY)"));
  ARBITER_REQUIRE_OK(w->Exec("INSERT INTO t VALUES(1)"));
  auto r = MustOpen(dir.File("a.db"), Reader());

  auto wtxn = Transaction::Begin(w.get(), Transaction::Mode::kImmediate);
  ARBITER_REQUIRE_OK(wtxn);
  ARBITER_REQUIRE_OK(w->Exec("INSERT INTO t VALUES(2)"));
  CHECK(*r->QueryInt64("SELECT count(*) FROM t") == 1);  // uncommitted: unseen

  auto rtxn = Transaction::Begin(r.get(), Transaction::Mode::kRead);
  ARBITER_REQUIRE_OK(rtxn);
  ARBITER_REQUIRE_OK(wtxn->Commit());
  // Committed after the read transaction began: still unseen inside it.
  CHECK(*r->QueryInt64("SELECT count(*) FROM t") == 1);
  ARBITER_REQUIRE_OK(rtxn->Commit());
  CHECK(*r->QueryInt64("SELECT count(*) FROM t") == 2);

  absl::Status write = r->Exec("INSERT INTO t VALUES(3)");
  CHECK_FALSE(write.ok());
}

TEST_CASE("sqlite: CreateDatabase builds the file aside and renames it in",
          "[unit][storage]") {
  TempDir dir;
  const std::string path = dir.File("new.db");
  // Orphans of a deleted database with the same name must not be replayed.
  {
    std::ofstream wal(path + "-wal");
    wal << "stale";
  }
  ARBITER_REQUIRE_OK(CreateDatabase(path, [](Db* db) {
    return db->Exec("CREATE TABLE t(k); INSERT INTO t VALUES(42)");
  }));
  CHECK(std::filesystem::exists(path));
  CHECK(std::filesystem::exists(path + "-wal"));  // persisted, empty
  CHECK(std::filesystem::file_size(path + "-wal") == 0);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  }
  auto r = MustOpen(path, Reader());
  CHECK(*r->QueryInt64("SELECT k FROM t") == 42);

  ARBITER_REQUIRE_CODE(
      CreateDatabase(path, [](Db*) { return absl::OkStatus(); }),
      absl::StatusCode::kAlreadyExists);

  // A failing init leaves nothing behind.
  const std::string other = dir.File("other.db");
  ARBITER_REQUIRE_CODE(CreateDatabase(other,
                                      [](Db*) {
                                        return absl::InvalidArgumentError("no");
                                      }),
                       absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists(other));
  int files = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  CHECK(files == 3);  // new.db, new.db-wal, new.db-shm (reader open)
}

TEST_CASE("sqlite: the writer's WAL persists after close, and checkpoint works",
          "[unit][storage]") {
  TempDir dir;
  const std::string path = dir.File("a.db");
  {
    DbOptions o = Writer();
    o.wal_autocheckpoint = 0;
    auto w = MustOpen(path, o);
    CHECK(*w->QueryInt64("PRAGMA wal_autocheckpoint") == 0);
    ARBITER_REQUIRE_OK(w->Exec("CREATE TABLE t(k); INSERT INTO t VALUES(1)"));
    CHECK(std::filesystem::file_size(path + "-wal") > 0);
    ARBITER_REQUIRE_OK(w->Checkpoint("TRUNCATE"));
    CHECK(std::filesystem::file_size(path + "-wal") == 0);
  }
  CHECK(std::filesystem::exists(path + "-wal"));
}

TEST_CASE("sqlite: wal_bytes counts the frames since the WAL started over, not its file",
          "[unit][storage]") {
  TempDir dir;
  const std::string path = dir.File("a.db");
  DbOptions o = Writer();
  o.wal_autocheckpoint = 0;
  auto w = MustOpen(path, o);
  CHECK(w->wal_bytes() == 0);
  ARBITER_REQUIRE_OK(w->Exec("CREATE TABLE t(k)"));
  for (int i = 0; i < 20; ++i) {
    ARBITER_REQUIRE_OK(w->Exec("INSERT INTO t VALUES(randomblob(8000))"));
  }
  const int64_t before = w->wal_bytes();
  CHECK(before >= 20 * 8000);
  const auto file_before = std::filesystem::file_size(path + "-wal");
  ARBITER_REQUIRE_OK(w->Checkpoint("RESTART"));
  CHECK(w->wal_bytes() == 0);
  ARBITER_REQUIRE_OK(w->Exec("INSERT INTO t VALUES(1)"));
  CHECK(w->wal_bytes() > 0);
  CHECK(w->wal_bytes() < before);
  // The file did not shrink: its size says nothing about the work to do.
  CHECK(std::filesystem::file_size(path + "-wal") == file_before);

  // A reader inside a transaction blocks a RESTART; a bounded wait says so.
  DbOptions ro;
  ro.read_only = true;
  auto r = MustOpen(path, ro);
  ARBITER_REQUIRE_OK(r->Exec("BEGIN"));
  CHECK(*r->QueryInt64("SELECT count(*) FROM t") == 21);
  ARBITER_REQUIRE_OK(w->Exec("INSERT INTO t VALUES(2)"));
  const absl::Time start = absl::Now();
  CHECK(w->Checkpoint("RESTART", /*busy_timeout_ms=*/50).code() ==
        absl::StatusCode::kUnavailable);
  CHECK(absl::Now() - start < absl::Seconds(2));
  ARBITER_REQUIRE_OK(r->Exec("COMMIT"));
  ARBITER_REQUIRE_OK(w->Checkpoint("RESTART", 50));
}

}  // namespace
}  // namespace arbiter::storage
