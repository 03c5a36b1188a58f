#include "common/replica/applier.h"

#include <catch2/catch.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "tests/testing/process.h"
#include "tests/unit/replica/test_entries.h"

namespace arbiter::replica {
namespace {

using testing::CreateEntry;
using testing::PolicyEntry;
using testing::WriteEntry;

std::set<std::string> Ids(storage::TenantDb* db) {
  std::set<std::string> out;
  REQUIRE(db->ForEachFact([&](const Fact& f) {
    out.insert(f.args[0].id);
    return true;
  }).ok());
  return out;
}

TEST_CASE("entries are applied per tenant with the offset, idempotently",
          "[unit][replica]") {
  testing::TempDir dir;
  auto applier = Applier::Open({.replica_dir = dir.path(), .cluster_id = "c"});
  REQUIRE(applier.ok());
  std::vector<v1::LogEntry> batch = {
      CreateEntry(1, "acme"), CreateEntry(2, "beta"), PolicyEntry(3, "acme", "actor User {}"),
      WriteEntry(4, "acme", {"a", "b", "c"}), WriteEntry(5, "beta", {"x"}),
      WriteEntry(6, "acme", {"-b", "d"})};
  REQUIRE((*applier)->ApplyBatch(batch).ok());
  uint64_t payload_bytes = 0;
  for (const auto& e : batch) payload_bytes += e.payload().size();
  // 3 + 1 inserts, then a delete and an insert.
  CHECK((*applier)->totals().entries == 6);
  CHECK((*applier)->totals().facts_changed == 6);
  CHECK((*applier)->totals().payload_bytes == payload_bytes);
  auto acme = (*applier)->Tenant("acme");
  REQUIRE(acme.ok());
  CHECK(Ids(*acme) == std::set<std::string>{"a", "c", "d"});
  CHECK(*(*acme)->AppliedOffset() == 6);
  auto policy = (*acme)->Policy();
  REQUIRE(policy.ok());
  REQUIRE(policy->has_value());
  CHECK((*policy)->version == 3);
  auto beta = (*applier)->Tenant("beta");
  CHECK(*(*beta)->AppliedOffset() == 5);
  CHECK((*(*beta)->Meta()).cluster_id == "c");

  // Re-applying (a restart replaying from an older global offset) changes
  // nothing: every entry is at or below the tenant's applied offset.
  REQUIRE((*applier)->ApplyBatch(batch).ok());
  CHECK(Ids(*acme) == std::set<std::string>{"a", "c", "d"});
  CHECK((*applier)->totals().entries == 6);  // skipped entries are not counted
  CHECK((*applier)->totals().facts_changed == 6);
  auto changes = (*acme)->ChangesSince(0, 100);
  REQUIRE(changes.ok());
  CHECK(changes->size() == 5);  // 3 inserts, 1 delete, 1 insert

  // A fresh applier over the same files (after a crash) skips them too.
  auto again = Applier::Open({.replica_dir = dir.path(), .cluster_id = "c"});
  REQUIRE((*again)->ApplyBatch({WriteEntry(6, "acme", {"zzz"}), WriteEntry(7, "acme", {"e"})}).ok());
  CHECK(Ids(*(*again)->Tenant("acme")) == std::set<std::string>{"a", "c", "d", "e"});
  CHECK((*again)->totals().entries == 1);
  CHECK((*again)->totals().facts_changed == 1);
  // A fact already stored and a delete that matches nothing change nothing.
  REQUIRE((*again)->Apply(WriteEntry(8, "acme", {"a", "-nothing"})).ok());
  CHECK((*again)->totals().entries == 2);
  CHECK((*again)->totals().facts_changed == 1);
  CHECK((*again)->TenantPath("acme") == dir.File("tenants/acme.db"));
}

// Descriptors independent of the tenant count (#11 item 7): a bounded set of
// open connections, the rest reopened when their tenant comes back.
TEST_CASE("at most max_open_tenants connections stay open", "[unit][replica]") {
  testing::TempDir dir;
  auto applier =
      Applier::Open({.replica_dir = dir.path(), .cluster_id = "c", .max_open_tenants = 4});
  REQUIRE(applier.ok());
  uint64_t offset = 0;
  std::vector<v1::LogEntry> batch;
  for (int t = 0; t < 20; ++t) batch.push_back(CreateEntry(++offset, absl::StrCat("t", t)));
  REQUIRE((*applier)->ApplyBatch(batch).ok());
  CHECK((*applier)->open_tenants() <= 4);
  for (int round = 0; round < 3; ++round) {
    batch.clear();
    for (int t = 0; t < 20; ++t) {
      batch.push_back(WriteEntry(++offset, absl::StrCat("t", t), {absl::StrCat("r", round)}));
    }
    REQUIRE((*applier)->ApplyBatch(batch).ok());
    CHECK((*applier)->open_tenants() <= 4);
  }
  for (int t = 0; t < 20; ++t) {
    auto db = (*applier)->Tenant(absl::StrCat("t", t));
    REQUIRE(db.ok());
    CHECK(Ids(*db) == std::set<std::string>{"r0", "r1", "r2"});
  }
  CHECK((*applier)->open_tenants() == 4);
}

TEST_CASE("damaged or orphan entries are refused before anything is written",
          "[unit][replica]") {
  testing::TempDir dir;
  auto applier = Applier::Open({.replica_dir = dir.path()});
  REQUIRE(applier.ok());
  REQUIRE((*applier)->Apply(CreateEntry(1, "acme")).ok());
  v1::LogEntry bad = WriteEntry(2, "acme", {"a"});
  bad.set_payload_crc32c(bad.payload_crc32c() ^ 1);
  CHECK((*applier)->ApplyBatch({WriteEntry(2, "acme", {"a"}), bad}).code() ==
        absl::StatusCode::kDataLoss);
  CHECK(Ids(*(*applier)->Tenant("acme")).empty());
  CHECK((*applier)->Apply(WriteEntry(3, "ghost", {"a"})).code() ==
        absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace arbiter::replica
