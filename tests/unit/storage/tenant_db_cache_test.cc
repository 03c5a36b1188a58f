#include "common/storage/tenant_db_cache.h"

#include <string>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "tests/unit/storage/test_util.h"

namespace arbiter::storage {
namespace {

TEST_CASE("tenant db cache: at most `capacity` open, least recently used closed first",
          "[unit][storage]") {
  testing::TempDir dir;
  auto path = [&](int i) { return dir.File(absl::StrCat("t", i, ".db")); };
  for (int i = 0; i < 4; ++i) {
    ARBITER_REQUIRE_OK(TenantDb::Create(path(i), {absl::StrCat("t", i), "c", 1}));
  }
  TenantDbCache cache(2);
  auto get = [&](int i) {
    auto db = cache.Get(absl::StrCat("t", i), path(i), {});
    REQUIRE(db.ok());
    return *db;
  };
  TenantDb* t0 = get(0);
  get(1);
  CHECK(get(0) == t0);  // open: the same connection, now the most recent
  get(2);               // closes t1, the least recently used
  CHECK(cache.size() == 2);
  CHECK(cache.contains("t0"));
  CHECK_FALSE(cache.contains("t1"));
  CHECK(cache.contains("t2"));
  CHECK((*get(1)->Meta()).tenant == "t1");  // reopened when needed
  CHECK_FALSE(cache.contains("t0"));
  cache.Erase("t1");
  CHECK(cache.size() == 1);
  cache.Clear();
  CHECK(cache.size() == 0);
  CHECK(cache.Get("t9", dir.File("missing.db"), {}).status().code() ==
        absl::StatusCode::kNotFound);
  CHECK(cache.size() == 0);
}

}  // namespace
}  // namespace arbiter::storage
