#include "common/replica/snapshot_install.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "common/base/sha256.h"
#include "common/replica/applied_offset_db.h"
#include "common/replica/applier.h"
#include "tests/testing/process.h"
#include "tests/unit/replica/test_entries.h"

namespace arbiter::replica {
namespace {

namespace fs = std::filesystem;
using testing::CreateEntry;
using testing::WriteEntry;

// A snapshot-shaped directory <tmp>/snap: tenants acme {a, b} and beta {x}
// at offset 5, and its manifest (files named as WriteSnapshot names them).
struct Source {
  std::string dir;
  v1::SnapshotManifest manifest;
};

Source MakeSource(const testing::TempDir& tmp) {
  Source src{tmp.File("snap"), {}};
  {
    auto applier = Applier::Open({.replica_dir = src.dir, .cluster_id = "c"});
    REQUIRE(applier.ok());
    REQUIRE((*applier)
                ->ApplyBatch({CreateEntry(1, "acme"), CreateEntry(2, "beta"),
                              WriteEntry(3, "acme", {"a"}), WriteEntry(4, "beta", {"x"}),
                              WriteEntry(5, "acme", {"b"})})
                .ok());
    REQUIRE((*applier)->Tenant("acme").ok());
    REQUIRE((*(*applier)->Tenant("acme"))->db()->Checkpoint("TRUNCATE").ok());
    REQUIRE((*(*applier)->Tenant("beta"))->db()->Checkpoint("TRUNCATE").ok());
  }
  src.manifest.set_snapshot_id("snap-00000000000000000005");
  src.manifest.set_cluster_id("c");
  src.manifest.set_offset(5);
  for (auto [name, applied] : {std::pair<std::string, uint64_t>{"acme", 5}, {"beta", 4}}) {
    const std::string rel = ReplicaDir::TenantRelativePath(name);
    const std::string path = src.dir + "/" + rel;
    auto* f = src.manifest.add_files();
    f->set_name(rel);
    f->set_size_bytes(fs::file_size(path));
    f->set_sha256(*Sha256File(path));
    auto* t = src.manifest.add_tenants();
    t->set_name(name);
    t->set_file(rel);
    t->set_applied_offset(applied);
  }
  return src;
}

std::set<std::string> Ids(const std::string& path) {
  auto db = storage::TenantDb::Open(path, {.read_only = true});
  REQUIRE(db.ok());
  std::set<std::string> out;
  REQUIRE((*db)->ForEachFact([&](const Fact& f) {
    out.insert(f.args[0].id);
    return true;
  }).ok());
  return out;
}

InstallOptions Options(const testing::TempDir& tmp) {
  return {.staging_dir = tmp.File("staging"), .target_dir = tmp.File("target")};
}

int renames_seen = 0;

TEST_CASE("a snapshot is verified and renamed into place", "[unit][replica]") {
  testing::TempDir tmp;
  Source src = MakeSource(tmp);
  InstallOptions options = Options(tmp);
  options.record_applied_offset = true;
  options.before_rename = +[] { ++renames_seen; };
  // Leftovers of a crashed attempt are wiped.
  fs::create_directories(tmp.File("staging/tenants"));
  std::ofstream(tmp.File("staging/tenants/junk.db")) << "junk";
  fs::create_directories(tmp.File("target"));
  std::ofstream(tmp.File("target/old")) << "old";

  auto install = SnapshotInstall::Begin(src.manifest, options);
  REQUIRE(install.ok());
  CHECK(!fs::exists(tmp.File("target")));
  CHECK(!fs::exists(tmp.File("staging/tenants/junk.db")));
  REQUIRE(install->CopyFrom(src.dir).ok());
  renames_seen = 0;
  auto installed = install->Commit();
  REQUIRE(installed.ok());
  CHECK(renames_seen == 1);
  CHECK(installed->offset == 5);
  CHECK(installed->tenants == std::vector<storage::TenantEntry>{{"acme", "tenants/acme.db", 5},
                                                                {"beta", "tenants/beta.db", 4}});
  CHECK(!fs::exists(tmp.File("staging")));
  ReplicaDir target(tmp.File("target"));
  CHECK(*target.ListTenants() == std::vector<std::string>{"acme", "beta"});
  CHECK(Ids(target.TenantPath("acme")) == std::set<std::string>{"a", "b"});  // opens read-only
  CHECK(Ids(target.TenantPath("beta")) == std::set<std::string>{"x"});
  CHECK(*AppliedOffsetDb::Peek(target) == 5);
}

TEST_CASE("without record_applied_offset no materializer.db is written", "[unit][replica]") {
  testing::TempDir tmp;
  Source src = MakeSource(tmp);
  auto install = SnapshotInstall::Begin(src.manifest, Options(tmp));
  REQUIRE(install.ok());
  // As a downloader does: each file to its staged path.
  for (const auto& f : src.manifest.files()) {
    auto path = install->StagedPath(f);
    REQUIRE(path.ok());
    CHECK(*path == tmp.File("staging/" + f.name()));
    fs::copy_file(src.dir + "/" + f.name(), *path);
  }
  REQUIRE(install->Commit().ok());
  CHECK(!fs::exists(ReplicaDir(tmp.File("target")).AppliedOffsetPath()));
}

TEST_CASE("an empty manifest installs an empty replica", "[unit][replica]") {
  testing::TempDir tmp;
  auto install = SnapshotInstall::Begin(v1::SnapshotManifest(), Options(tmp));
  REQUIRE(install.ok());
  auto installed = install->Commit();
  REQUIRE(installed.ok());
  CHECK(installed->offset == 0);
  CHECK(installed->tenants.empty());
  ReplicaDir target(tmp.File("target"));
  CHECK(fs::is_directory(target.TenantsDir()));
  CHECK(target.ListTenants()->empty());
}

TEST_CASE("a tenant file under another name is moved to the tenant's path", "[unit][replica]") {
  testing::TempDir tmp;
  Source src = MakeSource(tmp);
  fs::rename(src.dir + "/tenants/acme.db", src.dir + "/tenants/0001.db");
  src.manifest.mutable_files(0)->set_name("tenants/0001.db");
  src.manifest.mutable_tenants(0)->set_file("tenants/0001.db");
  auto install = SnapshotInstall::Begin(src.manifest, Options(tmp));
  REQUIRE(install.ok());
  REQUIRE(install->CopyFrom(src.dir).ok());
  auto installed = install->Commit();
  REQUIRE(installed.ok());
  CHECK(installed->tenants[0].path == "tenants/acme.db");
  CHECK(Ids(tmp.File("target/tenants/acme.db")) == std::set<std::string>{"a", "b"});
  CHECK(!fs::exists(tmp.File("target/tenants/0001.db")));
}

TEST_CASE("damaged snapshots are refused and nothing is installed", "[unit][replica]") {
  testing::TempDir tmp;
  Source src = MakeSource(tmp);
  v1::SnapshotManifest m = src.manifest;
  std::string expect;  // in the message
  absl::StatusCode code = absl::StatusCode::kDataLoss;
  bool copy = true;
  std::function<void()> damage_staged = [] {};

  SECTION("a file whose SHA-256 differs") {
    damage_staged = [&] {
      std::fstream f(tmp.File("staging/tenants/beta.db"),
                     std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(200);
      f.put('!');
    };
    expect = tmp.File("staging/tenants/beta.db") + ": SHA-256";
  }
  SECTION("a file of another size") {
    m.mutable_files(1)->set_size_bytes(m.files(1).size_bytes() + 1);
    expect = "the manifest says";
  }
  SECTION("a missing file") {
    copy = false;
    expect = tmp.File("staging/tenants/acme.db");
  }
  SECTION("a tenant file that holds another tenant") {
    m.mutable_tenants(0)->set_file("tenants/beta.db");
    expect = "holds tenant \"beta\", expected \"acme\"";
  }
  SECTION("a tenant file the manifest does not list") {
    m.mutable_tenants(0)->set_file("tenants/gone.db");
    expect = "does not list";
  }
  SECTION("a bad tenant name") {
    m.mutable_tenants(0)->set_name("../../etc");
    expect = "bad tenant name";
  }
  SECTION("a file that is not a tenant database") {
    std::ofstream(src.dir + "/tenants/acme.db", std::ios::trunc) << "not sqlite";
    m.mutable_files(0)->set_size_bytes(fs::file_size(src.dir + "/tenants/acme.db"));
    m.mutable_files(0)->set_sha256(*Sha256File(src.dir + "/tenants/acme.db"));
    expect = tmp.File("staging/tenants/acme.db");
    code = absl::StatusCode::kUnknown;  // whatever SQLite says, naming the file
  }
  auto install = SnapshotInstall::Begin(m, Options(tmp));
  REQUIRE(install.ok());
  if (copy) REQUIRE(install->CopyFrom(src.dir).ok());
  damage_staged();
  auto installed = install->Commit();
  REQUIRE(!installed.ok());
  INFO(installed.status());
  if (code != absl::StatusCode::kUnknown) CHECK(installed.status().code() == code);
  CHECK_THAT(std::string(installed.status().message()), Catch::Contains(expect));
  CHECK(!fs::exists(tmp.File("target")));
}

TEST_CASE("file names that leave the staging directory are refused", "[unit][replica]") {
  testing::TempDir tmp;
  Source src = MakeSource(tmp);
  auto install = SnapshotInstall::Begin(src.manifest, Options(tmp));
  REQUIRE(install.ok());
  for (const char* name : {"", "/etc/passwd", "../x.db", "tenants/../../x.db"}) {
    v1::SnapshotFile f;
    f.set_name(name);
    CHECK(install->StagedPath(f).status().code() == absl::StatusCode::kDataLoss);
  }
}

}  // namespace
}  // namespace arbiter::replica
