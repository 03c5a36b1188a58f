// WalCheckpointer against a real SQLite database: the copy runs on its own
// thread and connection, the apply loop's RESTART then starts the WAL over,
// and nothing written meanwhile is lost.

#include "services/writer/wal_checkpointer.h"

#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "common/storage/sqlite.h"
#include "tests/testing/process.h"

namespace arbiter::writer {
namespace {

std::unique_ptr<storage::Db> OpenWriter(const std::string& path) {
  storage::DbOptions o;
  o.create = true;
  o.wal_autocheckpoint = 0;
  auto db = storage::Db::Open(path, o);
  REQUIRE(db.ok());
  return std::move(*db);
}

void Insert(storage::Db& db, int rows) {
  for (int i = 0; i < rows; ++i) {
    REQUIRE(db.Exec("INSERT INTO t VALUES(randomblob(4000))").ok());
  }
}

TEST_CASE("wal checkpointer: copies in the background, then the WAL starts over",
          "[unit][writer]") {
  testing::TempDir dir;
  auto db = OpenWriter(dir.File("t.db"));
  REQUIRE(db->Exec("CREATE TABLE t(b)").ok());
  WalCheckpointer checkpointer(/*checkpoint_bytes=*/64 << 10);

  Insert(*db, 5);  // ~20 KiB: below the bound
  checkpointer.AfterCommit(*db, /*long_read=*/false);
  absl::SleepFor(absl::Milliseconds(50));
  CHECK(checkpointer.copies() == 0);

  Insert(*db, 40);  // past it: handed to the thread
  const int64_t before = db->wal_bytes();
  REQUIRE(before > (64 << 10));
  checkpointer.AfterCommit(*db, false);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (checkpointer.copies() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  REQUIRE(checkpointer.copies() == 1);
  CHECK(db->wal_bytes() == before);  // the apply loop's connection did nothing yet

  // Every frame was copied and nobody reads them: the next write starts the
  // WAL over by itself.
  Insert(*db, 3);
  checkpointer.AfterCommit(*db, false);
  CHECK(db->wal_bytes() > 0);
  CHECK(db->wal_bytes() < (64 << 10));

  // A reader on an older snapshot keeps the copy from reaching the newest
  // frames: the WAL cannot start over by itself, and the apply loop's
  // RESTART finishes the job once the reader is done.
  storage::DbOptions ro;
  ro.read_only = true;
  auto reader = storage::Db::Open(dir.File("t.db"), ro);
  REQUIRE(reader.ok());
  REQUIRE((*reader)->Exec("BEGIN").ok());
  CHECK(*(*reader)->QueryInt64("SELECT count(*) FROM t") == 48);
  Insert(*db, 40);
  checkpointer.AfterCommit(*db, false);
  while (checkpointer.copies() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  REQUIRE(checkpointer.copies() == 2);
  REQUIRE((*reader)->Exec("COMMIT").ok());
  Insert(*db, 1);
  checkpointer.AfterCommit(*db, false);  // RESTART
  CHECK(db->wal_bytes() == 0);
  CHECK(*db->QueryInt64("SELECT count(*) FROM t") == 89);

  // Another connection sees everything (nothing lost in the copies).
  db.reset();
  auto again = OpenWriter(dir.File("t.db"));
  CHECK(*again->QueryInt64("SELECT count(*) FROM t") == 89);
  CHECK(*again->QueryText("PRAGMA integrity_check") == "ok");
}

}  // namespace
}  // namespace arbiter::writer
