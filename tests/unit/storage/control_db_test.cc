#include "common/storage/control_db.h"

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/storage/test_util.h"

namespace arbiter::storage {
namespace {

using testing::TempDir;

struct Fixture {
  Fixture() {
    path = dir.File("control.db");
    ARBITER_REQUIRE_OK(ControlDb::Create(path));
    auto opened = ControlDb::Open(path, DbOptions{});
    ARBITER_REQUIRE_OK(opened);
    db = *std::move(opened);
  }
  ControlState Read() {
    auto state = db->Read();
    ARBITER_REQUIRE_OK(state);
    return *std::move(state);
  }
  TempDir dir;
  std::string path;
  std::unique_ptr<ControlDb> db;
};

TEST_CASE("control db: a new database starts RESTORING, ACTIVE, empty",
          "[unit][storage]") {
  Fixture fx;
  ControlState s = fx.Read();
  CHECK(s.schema_major == kControlSchemaMajor);
  CHECK(s.schema_minor == kControlSchemaMinor);
  CHECK(s.cluster_id.empty());
  CHECK(s.epoch == 0);
  CHECK(s.current_generation == 0);
  CHECK(s.applied_offset == 0);
  CHECK(s.head_offset == 0);
  CHECK(s.fresh_as_of == BootTime{});
  CHECK(s.replication_state == ReplicationState::kRestoring);
  CHECK(s.drain_state == DrainState::kActive);
  CHECK(s.tenants.empty());
  ARBITER_REQUIRE_CODE(ControlDb::Create(fx.path), absl::StatusCode::kAlreadyExists);
  ARBITER_REQUIRE_CODE(ControlDb::Open(fx.dir.File("none.db"), DbOptions{}),
                       absl::StatusCode::kNotFound);
}

TEST_CASE("control db: state names round-trip", "[unit][storage]") {
  for (auto s : {ReplicationState::kRestoring, ReplicationState::kReplaying,
                 ReplicationState::kLive}) {
    CHECK(*ParseReplicationState(ToString(s)) == s);
  }
  for (auto s : {DrainState::kActive, DrainState::kDraining, DrainState::kDrained}) {
    CHECK(*ParseDrainState(ToString(s)) == s);
  }
  CHECK(ToString(ReplicationState::kLive) == "LIVE");
  CHECK(ToString(DrainState::kDraining) == "DRAINING");
  ARBITER_REQUIRE_CODE(ParseReplicationState("live"), absl::StatusCode::kInvalidArgument);
  ARBITER_REQUIRE_CODE(ParseDrainState(""), absl::StatusCode::kInvalidArgument);
}

TEST_CASE("control db: the apply loop's update is one transaction",
          "[unit][storage]") {
  Fixture fx;
  ARBITER_REQUIRE_OK(fx.db->SetGeneration(
      1, std::vector<TenantEntry>{{"acme", "tenants/acme.db", 5},
                                  {"beta", "tenants/beta.db", 3}},
      5));
  AppliedUpdate u;
  u.applied_offset = 9;
  u.head_offset = 9;
  u.fresh_as_of = BootTime{"boot-1", 1'000};
  u.tenant_offsets = {{"acme", 9}};
  ARBITER_REQUIRE_OK(fx.db->UpdateApplied(u));
  ControlState s = fx.Read();
  CHECK(s.applied_offset == 9);
  CHECK(s.head_offset == 9);
  CHECK(s.fresh_as_of == BootTime{"boot-1", 1'000});
  CHECK(s.tenants == std::vector<TenantEntry>{{"acme", "tenants/acme.db", 9},
                                              {"beta", "tenants/beta.db", 3}});

  SECTION("no fresh_as_of keeps the stored one; the head never goes back") {
    AppliedUpdate v;
    v.applied_offset = 10;
    v.head_offset = 4;
    ARBITER_REQUIRE_OK(fx.db->UpdateApplied(v));
    ControlState t = fx.Read();
    CHECK(t.applied_offset == 10);
    CHECK(t.head_offset == 9);
    CHECK(t.fresh_as_of == BootTime{"boot-1", 1'000});
  }
  SECTION("an unknown tenant fails the whole update") {
    AppliedUpdate v;
    v.applied_offset = 12;
    v.head_offset = 20;
    v.fresh_as_of = BootTime{"boot-1", 2'000};
    v.tenant_offsets = {{"beta", 12}, {"ghost", 12}};
    ARBITER_REQUIRE_CODE(fx.db->UpdateApplied(v), absl::StatusCode::kNotFound);
    ControlState t = fx.Read();
    CHECK(t.applied_offset == 9);
    CHECK(t.head_offset == 9);
    CHECK(t.fresh_as_of.boottime_ns == 1'000);
    CHECK(t.tenants[1].applied_offset == 3);
  }
  SECTION("the applied offset never goes back") {
    AppliedUpdate v;
    v.applied_offset = 8;
    ARBITER_REQUIRE_CODE(fx.db->UpdateApplied(v), absl::StatusCode::kFailedPrecondition);
  }
}

TEST_CASE("control db: states, identity, registry and generations",
          "[unit][storage]") {
  Fixture fx;
  ARBITER_REQUIRE_OK(fx.db->SetReplicationState(ReplicationState::kReplaying));
  ARBITER_REQUIRE_OK(fx.db->SetDrainState(DrainState::kDraining));
  ARBITER_REQUIRE_OK(fx.db->SetClusterIdentity("c-1", 2));
  ARBITER_REQUIRE_OK(fx.db->SetClusterIdentity("c-1", 3));
  ARBITER_REQUIRE_CODE(fx.db->SetClusterIdentity("c-2", 3),
                       absl::StatusCode::kFailedPrecondition);
  ARBITER_REQUIRE_CODE(fx.db->SetClusterIdentity("c-1", 1),
                       absl::StatusCode::kFailedPrecondition);
  ARBITER_REQUIRE_OK(fx.db->RegisterTenant({"acme", "tenants/acme.db", 4}));
  ARBITER_REQUIRE_CODE(fx.db->RegisterTenant({"acme", "tenants/x.db", 4}),
                       absl::StatusCode::kAlreadyExists);
  ControlState s = fx.Read();
  CHECK(s.replication_state == ReplicationState::kReplaying);
  CHECK(s.drain_state == DrainState::kDraining);
  CHECK(s.cluster_id == "c-1");
  CHECK(s.epoch == 3);
  CHECK(s.tenants == std::vector<TenantEntry>{{"acme", "tenants/acme.db", 4}});

  // A new generation replaces the registry and is not fresh until proved.
  AppliedUpdate fresh;
  fresh.applied_offset = 4;
  fresh.fresh_as_of = BootTime{"boot-1", 123};
  ARBITER_REQUIRE_OK(fx.db->UpdateApplied(fresh));
  CHECK(fx.Read().fresh_as_of == BootTime{"boot-1", 123});
  ARBITER_REQUIRE_OK(fx.db->SetGeneration(
      2, std::vector<TenantEntry>{{"zed", "tenants/zed.db", 50}}, 50));
  s = fx.Read();
  CHECK(s.current_generation == 2);
  CHECK(s.applied_offset == 50);
  CHECK(s.tenants == std::vector<TenantEntry>{{"zed", "tenants/zed.db", 50}});
  CHECK(s.fresh_as_of == BootTime{});
  ARBITER_REQUIRE_CODE(fx.db->SetGeneration(2, {}, 60),
                       absl::StatusCode::kFailedPrecondition);
  ARBITER_REQUIRE_CODE(
      fx.db->SetGeneration(3,
                           std::vector<TenantEntry>{{"a", "tenants/a.db", 1},
                                                    {"a", "tenants/a.db", 1}},
                           60),
      absl::StatusCode::kInvalidArgument);
  CHECK(fx.Read().current_generation == 2);  // rolled back
}

TEST_CASE("control db: a read-only opener reads and cannot write",
          "[unit][storage]") {
  Fixture fx;
  DbOptions ro;
  ro.read_only = true;
  auto reader = ControlDb::Open(fx.path, ro);
  ARBITER_REQUIRE_OK(reader);
  ARBITER_REQUIRE_OK(fx.db->SetReplicationState(ReplicationState::kLive));
  auto s = (*reader)->Read();
  ARBITER_REQUIRE_OK(s);
  CHECK(s->replication_state == ReplicationState::kLive);
  ARBITER_REQUIRE_CODE((*reader)->SetDrainState(DrainState::kDrained),
                       absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("control db: Read joins a transaction the caller holds",
          "[unit][storage]") {
  Fixture fx;
  auto txn = Transaction::Begin(fx.db->db(), Transaction::Mode::kRead);
  ARBITER_REQUIRE_OK(txn);
  ARBITER_REQUIRE_OK(fx.db->Read());
  CHECK(fx.db->db()->InTransaction());
  ARBITER_REQUIRE_OK(txn->Commit());
}

TEST_CASE("control db: open refuses a newer major schema", "[unit][storage]") {
  Fixture fx;
  ARBITER_REQUIRE_OK(fx.db->db()->Exec("UPDATE control SET schema_major = 2"));
  fx.db.reset();
  DbOptions ro;
  ro.read_only = true;
  ARBITER_REQUIRE_CODE(ControlDb::Open(fx.path, ro),
                       absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace arbiter::storage
