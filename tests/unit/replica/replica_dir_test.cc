#include "common/replica/replica_dir.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/testing/process.h"

namespace arbiter::replica {
namespace {

TEST_CASE("a replica directory spells every path", "[unit][replica]") {
  ReplicaDir dir("/data/gen-3");
  CHECK(dir.root() == "/data/gen-3");
  CHECK(dir.TenantsDir() == "/data/gen-3/tenants");
  CHECK(dir.TenantPath("acme") == "/data/gen-3/tenants/acme.db");
  CHECK(dir.AppliedOffsetPath() == "/data/gen-3/materializer.db");
  CHECK(ReplicaDir::TenantRelativePath("acme") == "tenants/acme.db");
  CHECK(dir.root() + "/" + ReplicaDir::TenantRelativePath("b") == dir.TenantPath("b"));
}

TEST_CASE("ListTenants names the tenant databases only, sorted", "[unit][replica]") {
  testing::TempDir tmp;
  ReplicaDir dir(tmp.File("state"));
  auto none = dir.ListTenants();
  REQUIRE(none.ok());
  CHECK(none->empty());  // no tenants/ yet

  std::filesystem::create_directories(dir.TenantsDir());
  for (const char* f : {"beta.db", "acme.db", "acme.db-wal", "acme.db-shm", "gamma.db.tmp-42",
                        "notes.txt"}) {
    std::ofstream(dir.TenantsDir() + "/" + f) << "x";
  }
  auto names = dir.ListTenants();
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"acme", "beta"});
}

}  // namespace
}  // namespace arbiter::replica
