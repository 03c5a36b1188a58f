#include "common/replica/applied_offset_db.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/testing/process.h"

namespace arbiter::replica {
namespace {

TEST_CASE("the applied offset of a replica without control.db survives reopening",
          "[unit][replica]") {
  testing::TempDir tmp;
  ReplicaDir dir(tmp.path());
  // Nothing there: 0, and Peek creates nothing.
  CHECK(*AppliedOffsetDb::Peek(dir) == 0);
  CHECK(!std::filesystem::exists(dir.AppliedOffsetPath()));
  {
    auto db = AppliedOffsetDb::Open(dir);
    REQUIRE(db.ok());
    CHECK((*db)->offset() == 0);
    REQUIRE((*db)->Set(41).ok());
    REQUIRE((*db)->Set(42).ok());
    CHECK((*db)->offset() == 42);
  }
  CHECK(*AppliedOffsetDb::Peek(dir) == 42);
  auto again = AppliedOffsetDb::Open(dir);
  REQUIRE(again.ok());
  CHECK((*again)->offset() == 42);
}

TEST_CASE("a state file without an offset counts as empty, garbage is an error",
          "[unit][replica]") {
  testing::TempDir tmp;
  ReplicaDir dir(tmp.path());
  {
    auto db = storage::Db::Open(dir.AppliedOffsetPath(), {.create = true});
    REQUIRE(db.ok());
    REQUIRE((*db)->Exec("CREATE TABLE other(x INTEGER)").ok());
  }
  CHECK(*AppliedOffsetDb::Peek(dir) == 0);

  // Replaced by garbage, with its WAL gone too (SQLite would read the old
  // pages from a WAL left behind).
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(dir.AppliedOffsetPath() + suffix);
  }
  std::ofstream(dir.AppliedOffsetPath()) << "this is not a SQLite database, not at all";
  absl::StatusOr<int64_t> peek = AppliedOffsetDb::Peek(dir);
  CHECK(!peek.ok());
  CHECK_THAT(std::string(peek.status().message()), Catch::Contains(dir.AppliedOffsetPath()));
}

}  // namespace
}  // namespace arbiter::replica
