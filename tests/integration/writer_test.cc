// arbiter-writer against a real arbiter-log: bootstrap (restore, replay,
// live), restart from disk, kill -9 at any stage, a log that goes away and
// comes back, interrupted snapshot fetches, refusing wrong data, and host
// drain with reader registration files.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/host/data_dir.h"
#include "common/host/reader_registry.h"
#include "common/replica/replica_dir.h"
#include "common/storage/boot_clock.h"
#include "common/storage/control_db.h"
#include "common/storage/sqlite.h"
#include "common/storage/tenant_db.h"
#include "tests/testing/cluster.h"
#include "tests/testing/host.h"
#include "tests/testing/http.h"

namespace arbiter::testing {
namespace {

constexpr char kPolicy[] = R"(
actor User {}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["read", "edit"];
  "read" if "viewer";
  "edit" if "editor";
  "viewer" if "editor";
}
)";

// The facts a tenant must hold, kept by the test as it writes.
using Model = std::set<Fact>;

Fact Role(int user, const char* role, int doc) {
  return Fact{"has_role",
              {Value{"User", absl::StrCat("u", user)}, Value{"String", role},
               Value{"Doc", absl::StrCat("d", doc)}}};
}

void AddInsert(v1::WriteRequest& req, const Fact& f) {
  v1::Fact* pf = req.add_operations()->mutable_insert();
  pf->set_predicate(f.predicate);
  for (const auto& a : f.args) {
    v1::Value* v = pf->add_args();
    v->set_type(a.type);
    v->set_id(a.id);
  }
}

// Writes `batches` batches of a few facts each, and occasionally a wildcard
// delete of one user's roles; mirrors every change in `model`. Returns the
// last offset.
uint64_t WriteLoad(Cluster& c, const std::string& tenant, int batches, uint32_t seed,
                   Model& model) {
  std::mt19937 rng(seed);
  uint64_t last = 0;
  for (int b = 0; b < batches; ++b) {
    v1::WriteRequest req;
    req.set_tenant(tenant);
    if (b % 10 == 9) {
      int user = static_cast<int>(rng() % 50);
      auto* p = req.add_operations()->mutable_delete_pattern();
      p->set_predicate("has_role");
      p->add_args()->set_type("User");
      p->mutable_args(0)->set_id(absl::StrCat("u", user));
      p->add_args();                      // any role
      p->add_args()->set_type("Doc");     // any Doc
      std::erase_if(model, [&](const Fact& f) {
        return f.args[0].id == absl::StrCat("u", user);
      });
    } else {
      for (int i = 0; i < 3; ++i) {
        Fact f = Role(static_cast<int>(rng() % 50), rng() % 2 ? "viewer" : "editor",
                      static_cast<int>(rng() % 20));
        AddInsert(req, f);
        model.insert(f);
      }
    }
    auto offset = c.Write(req);
    REQUIRE(offset.ok());
    last = *offset;
  }
  return last;
}

// The facts in the host's replica of `tenant` (current generation).
std::set<Fact> ReplicaFacts(const Cluster& c, const std::string& tenant) {
  absl::StatusOr<std::set<Fact>> facts = testing::ReplicaFacts(c.host_data_dir(), tenant);
  INFO(facts.status().ToString());
  REQUIRE(facts.ok());
  return *std::move(facts);
}

std::unique_ptr<Cluster> StartCluster(std::vector<std::string> writer_flags = {},
                                      std::vector<std::string> log_flags = {}) {
  auto c = Cluster::Start({.start_writer = false,
                           .log_flags = std::move(log_flags),
                           .writer_flags = std::move(writer_flags)});
  REQUIRE(c.ok());
  return std::move(*c);
}

void SetUpTenant(Cluster& c, const std::string& tenant) {
  REQUIRE(c.CreateTenant(tenant).ok());
  REQUIRE(c.SetPolicy(tenant, kPolicy).ok());
}

TEST_CASE("a new host replays the log, reaches LIVE and holds exactly its facts",
          "[integration][writer]") {
  auto c = StartCluster();
  SetUpTenant(*c, "acme");
  SetUpTenant(*c, "globex");
  Model acme, globex;
  WriteLoad(*c, "acme", 60, 1, acme);
  uint64_t head = WriteLoad(*c, "globex", 40, 2, globex);

  REQUIRE(c->StartWriter().ok());
  auto status = c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head);
  REQUIRE(status.ok());
  CHECK(status->generation() == 1);
  // By name: the reserved "_system" (the keys: offsets 1 and 2), then acme.
  REQUIRE(status->tenants_size() == 3);
  CHECK(status->tenants(0).name() == "_system");
  CHECK(status->tenants(1).name() == "acme");
  CHECK(status->tenants(1).policy_version() == 4);  // CreateTenant 3, SetPolicy 4
  CHECK(ReplicaFacts(*c, "acme") == acme);
  CHECK(ReplicaFacts(*c, "globex") == globex);

  // Live: a new write shows up without a restart.
  uint64_t more = WriteLoad(*c, "acme", 5, 3, acme);
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, more).ok());
  CHECK(ReplicaFacts(*c, "acme") == acme);

  // A restart resumes from disk: same generation, no restore.
  REQUIRE(c->StopWriter(SIGTERM).ok());
  REQUIRE(c->StartWriter().ok());
  status = c->WaitForWriter(v1::REPLICATION_STATE_LIVE, more);
  REQUIRE(status.ok());
  CHECK(status->generation() == 1);
  CHECK(ReplicaFacts(*c, "acme") == acme);
}

TEST_CASE("a new host starts from a snapshot, then replays the rest",
          "[integration][writer]") {
  auto c = StartCluster({}, {"--snapshot_every_entries=200"});
  SetUpTenant(*c, "acme");
  Model acme;
  WriteLoad(*c, "acme", 400, 4, acme);
  // Wait until the log has cut a snapshot.
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  uint64_t snapshot_offset = 0;
  while (absl::Now() < deadline && snapshot_offset == 0) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::ListSnapshotsResponse resp;
    if (c->log().ListSnapshots(&ctx, v1::ListSnapshotsRequest(), &resp).ok() &&
        resp.snapshots_size() > 0) {
      snapshot_offset = resp.snapshots(0).offset();
    } else {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  REQUIRE(snapshot_offset > 0);
  uint64_t head = WriteLoad(*c, "acme", 1000, 5, acme);

  REQUIRE(c->StartWriter().ok());
  auto status = c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head);
  REQUIRE(status.ok());
  CHECK(ReplicaFacts(*c, "acme") == acme);
  // It restored (the log line says so) rather than replaying from offset 1.
  CHECK_THAT(c->writer_process()->LogTail(100000), Catch::Contains("RESTORING snapshot"));
  // And its metrics say how much it fetched: all of the snapshot.
  auto port = c->MetricsPort("writer");
  REQUIRE(port.ok());
  auto metrics = HttpGet(*port, "/metrics");
  REQUIRE(metrics.ok());
  INFO(*metrics);
  CHECK_THAT(*metrics, Catch::Contains("arbiter_host_restore_progress_ratio 1\n"));
  CHECK_THAT(*metrics, !Catch::Contains("arbiter_host_restore_bytes_total 0\n"));
  CHECK_THAT(*metrics, Catch::Contains("arbiter_host_restore_bytes_total "));
}

TEST_CASE("kill -9 during replay and during live apply loses and repeats nothing",
          "[integration][writer]") {
  auto c = StartCluster();
  SetUpTenant(*c, "acme");
  Model acme;
  uint64_t head = WriteLoad(*c, "acme", 300, 6, acme);
  std::mt19937 rng(7);

  // During replay, at seeded random moments.
  for (int round = 0; round < 3; ++round) {
    REQUIRE(c->StartWriter({"--max_batch_entries=5"}).ok());
    absl::SleepFor(absl::Milliseconds(rng() % 400));
    REQUIRE(c->StopWriter(SIGKILL).ok());
  }
  // At the named points between the tenant commit and control.db.
  uint32_t seed = 100;
  for (const char* point : {"apply_after_tenant_commit", "apply_after_control_commit"}) {
    head = WriteLoad(*c, "acme", 5, seed++, acme);  // something left to apply
    REQUIRE(c->StartWriter({absl::StrCat("--crash_at=", point)}).ok());
    auto exit = c->writer_process()->Wait(absl::Seconds(60));
    REQUIRE(exit.ok());
    CHECK(exit->code == 3);
    REQUIRE(c->StopWriter(SIGKILL).ok());
  }
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  CHECK(ReplicaFacts(*c, "acme") == acme);

  // During live apply.
  for (int round = 0; round < 2; ++round) {
    head = WriteLoad(*c, "acme", 30, 8 + round, acme);
    REQUIRE(c->StopWriter(SIGKILL).ok());
    head = WriteLoad(*c, "acme", 30, 20 + round, acme);
    REQUIRE(c->StartWriter().ok());
    REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  }
  CHECK(ReplicaFacts(*c, "acme") == acme);

  // Never applied twice: one change row per effective change. A fresh host
  // replaying the same log records exactly the same change rows.
  auto replica_changes = [&](const std::string& data_dir) {
    host::DataDir dir(data_dir);
    auto control = storage::ControlDb::Open(dir.ControlDbPath(), {.read_only = true});
    REQUIRE(control.ok());
    auto state = (*control)->Read();
    REQUIRE(state.ok());
    auto db = storage::TenantDb::Open(
        dir.TenantPath(state->current_generation,
                       replica::ReplicaDir::TenantRelativePath("acme")),
        {.read_only = true});
    REQUIRE(db.ok());
    auto changes = (*db)->ChangesSince(0, 1'000'000);
    REQUIRE(changes.ok());
    return *changes;
  };
  auto crashed = replica_changes(c->host_data_dir());
  REQUIRE(c->StopWriter(SIGTERM).ok());
  std::filesystem::rename(c->host_data_dir(), c->host_data_dir() + ".crashed");
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  CHECK(replica_changes(c->host_data_dir()) == crashed);
}

TEST_CASE("the log goes away and comes back: the writer catches up by itself",
          "[integration][writer]") {
  auto c = StartCluster({"--live_exit=1s"});
  SetUpTenant(*c, "acme");
  Model acme;
  uint64_t head = WriteLoad(*c, "acme", 10, 9, acme);
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());

  REQUIRE(c->StopLog(SIGKILL).ok());
  // Freshness stops advancing: the host leaves LIVE.
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_REPLAYING, head).ok());

  REQUIRE(c->StartLog().ok());
  head = WriteLoad(*c, "acme", 10, 10, acme);
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  CHECK(ReplicaFacts(*c, "acme") == acme);
}

TEST_CASE("an interrupted snapshot fetch is retried cleanly", "[integration][writer]") {
  auto c = StartCluster({}, {"--snapshot_every_entries=50"});
  SetUpTenant(*c, "acme");
  Model acme;
  uint64_t head = WriteLoad(*c, "acme", 200, 11, acme);
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  bool have_snapshot = false;
  while (!have_snapshot && absl::Now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::ListSnapshotsResponse resp;
    have_snapshot = c->log().ListSnapshots(&ctx, {}, &resp).ok() && resp.snapshots_size() > 0;
    if (!have_snapshot) absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(have_snapshot);

  REQUIRE(c->StartWriter({"--crash_at=restore_mid_download"}).ok());
  auto exit = c->writer_process()->Wait(absl::Seconds(60));
  REQUIRE(exit.ok());
  CHECK(exit->code == 3);
  REQUIRE(c->StopWriter(SIGKILL).ok());
  // Nothing half-installed: no generation is current.
  {
    auto control = storage::ControlDb::Open(
        host::DataDir(c->host_data_dir()).ControlDbPath(), {.read_only = true});
    REQUIRE(control.ok());
    CHECK((*control)->Read()->current_generation == 0);
  }
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  CHECK(ReplicaFacts(*c, "acme") == acme);
}

TEST_CASE("a damaged tenant file is never served: the host re-restores",
          "[integration][writer]") {
  auto c = StartCluster();
  SetUpTenant(*c, "acme");
  Model acme;
  uint64_t head = WriteLoad(*c, "acme", 20, 12, acme);
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  REQUIRE(c->StopWriter(SIGTERM).ok());

  std::string path = host::DataDir(c->host_data_dir())
                         .TenantPath(1, replica::ReplicaDir::TenantRelativePath("acme"));
  SECTION("missing") { REQUIRE(std::filesystem::remove(path)); }
  SECTION("corrupt") {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("this is not a SQLite database header", 36);
  }
  REQUIRE(c->StartWriter().ok());
  auto status = c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head);
  REQUIRE(status.ok());
  CHECK(status->generation() == 2);
  CHECK(ReplicaFacts(*c, "acme") == acme);
}

// #11 item 5: the same damage while the writer runs (it keeps its own open
// handle, so only its periodic check or an apply error can notice).
TEST_CASE("a tenant file damaged under a live writer: it re-restores by itself",
          "[integration][writer]") {
  auto c = StartCluster({"--tenant_check_interval=500ms"});
  SetUpTenant(*c, "acme");
  SetUpTenant(*c, "globex");
  Model acme, globex;
  uint64_t head = WriteLoad(*c, "acme", 10, 21, acme);
  head = std::max(head, WriteLoad(*c, "globex", 10, 22, globex));
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  const std::string path = host::DataDir(c->host_data_dir())
                               .TenantPath(1, replica::ReplicaDir::TenantRelativePath("acme"));
  SECTION("deleted") { REQUIRE(std::filesystem::remove(path)); }
  SECTION("overwritten") {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("this is not a SQLite database header", 36);
  }
  // No restart: the writer finds it and restores a new generation.
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  v1::GetStatusResponse status;
  while (absl::Now() < deadline) {
    auto s = c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head, absl::Seconds(5));
    if (s.ok() && s->generation() == 2) {
      status = *s;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  REQUIRE(status.generation() == 2);
  CHECK(ReplicaFacts(*c, "acme") == acme);
  CHECK(ReplicaFacts(*c, "globex") == globex);
  CHECK_THAT(c->writer_process()->LogTail(100000), Catch::Contains("re-restoring"));
}

// The facts of `tenant` in the log's own materialized state.
std::set<Fact> LogFacts(const Cluster& c, const std::string& tenant) {
  auto db = storage::TenantDb::Open(
      replica::ReplicaDir(c.log_data_dir() + "/state").TenantPath(tenant), {.read_only = true});
  std::set<Fact> facts;
  if (!db.ok()) return facts;
  (void)(*db)->ForEachFact([&](const Fact& f) {
    facts.insert(f);
    return true;
  });
  return facts;
}

// #11 item 4: a log that lost the tail of its history (its WAL, say) and
// handed the same offsets to new writes. A host that had applied the lost
// entries must notice, through the chain of every entry, and re-restore
// instead of following a history that is no longer the log's.
TEST_CASE("a host whose history the log lost re-restores instead of diverging",
          "[integration][writer]") {
  // No snapshot may cover the lost offsets.
  auto c = StartCluster({}, {"--snapshot_every_entries=0", "--snapshot_every_facts=0",
                             "--snapshot_every_bytes=0", "--snapshot_interval=24h",
                             "--snapshot_quiet=0"});
  SetUpTenant(*c, "acme");
  Model model;
  const uint64_t kept = WriteLoad(*c, "acme", 10, 31, model);
  const uint64_t head = WriteLoad(*c, "acme", 10, 32, model);
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  c->writer_process()->Signal(SIGSTOP);

  // The log loses every entry after `kept`.
  REQUIRE(c->StopLog(SIGTERM).ok());
  {
    auto db = storage::Db::Open(c->log_data_dir() + "/log.db", {});
    REQUIRE(db.ok());
    REQUIRE((*db)->Exec(absl::StrCat("DELETE FROM entries WHERE offset > ", kept,
                                     "; DELETE FROM requests WHERE offset > ", kept))
                .ok());
  }
  bool new_epoch = false;
  SECTION("the log notices: its state is ahead of its store") { new_epoch = true; }
  SECTION("the log cannot notice: its state is gone too") {
    std::filesystem::remove_all(c->log_data_dir() + "/state");
  }
  REQUIRE(c->StartLog().ok());
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    v1::GetHeadResponse h;
    REQUIRE(c->log().GetHead(&ctx, v1::GetHeadRequest(), &h).ok());
    CHECK(h.epoch() == (new_epoch ? 2u : 1u));
  }
  // New, different writes take the lost offsets and go past the host's.
  Model other;
  const uint64_t new_head = WriteLoad(*c, "acme", 15, 33, other);
  REQUIRE(new_head > head);

  c->writer_process()->Signal(SIGCONT);
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  v1::GetStatusResponse status;
  while (absl::Now() < deadline) {
    auto s = c->WaitForWriter(v1::REPLICATION_STATE_LIVE, new_head, absl::Seconds(5));
    if (s.ok() && s->generation() >= 2) {
      status = *s;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(status.generation() == 2);
  CHECK_THAT(c->writer_process()->LogTail(200000),
             Catch::Contains(new_epoch ? "re-restoring"
                                       : "does not continue the history this host applied"));
  // The host now holds what the log holds.
  deadline = absl::Now() + absl::Seconds(30);
  while (LogFacts(*c, "acme") != ReplicaFacts(*c, "acme") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(LogFacts(*c, "acme") == ReplicaFacts(*c, "acme"));
}

TEST_CASE("a data directory of another cluster is refused with what to do",
          "[integration][writer]") {
  auto c = StartCluster();
  SetUpTenant(*c, "acme");
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, 2).ok());
  REQUIRE(c->StopWriter(SIGTERM).ok());

  // A different log (another cluster id) on the same port.
  REQUIRE(c->StopLog(SIGTERM).ok());
  std::filesystem::rename(c->log_data_dir(), c->log_data_dir() + ".old");
  REQUIRE(c->StartLog().ok());

  REQUIRE(c->StartWriter().ok());
  auto exit = c->writer_process()->Wait(absl::Seconds(60));
  REQUIRE(exit.ok());
  CHECK(exit->code == 1);
  CHECK_THAT(c->writer_process()->LogTail(), Catch::Contains("holds cluster"));
  CHECK_THAT(c->writer_process()->LogTail(), Catch::Contains("--log_address"));
}

TEST_CASE("host drain waits for every registered reader", "[integration][writer]") {
  auto c = StartCluster();
  SetUpTenant(*c, "acme");
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, 2).ok());

  auto clock = storage::SystemBootClock::Create();
  REQUIRE(clock.ok());
  std::string readers_dir = host::DataDir(c->host_data_dir()).ReadersDir();
  auto register_reader = [&](const std::string& id, v1::DrainState state,
                             absl::Duration lease) {
    v1::ReaderRegistration r;
    r.set_id(id);
    r.set_address("127.0.0.1:1");
    storage::BootTime now = (*clock)->Now();
    r.set_boot_id(now.boot_id);
    r.set_drain_state(state);
    r.set_lease_until_boottime_ns(now.boottime_ns + absl::ToInt64Nanoseconds(lease));
    REQUIRE(host::WriteReaderRegistration(readers_dir, r).ok());
  };
  auto status = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::GetStatusResponse resp;
    REQUIRE(c->writer_admin().GetStatus(&ctx, {}, &resp).ok());
    return resp;
  };
  auto wait_drain = [&](v1::DrainState want) {
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (status().drain_state() != want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return status().drain_state() == want;
  };

  register_reader("fake-a", v1::DRAIN_STATE_ACTIVE, absl::Hours(1));
  register_reader("fake-b", v1::DRAIN_STATE_ACTIVE, absl::Hours(1));
  CHECK(status().readers_size() == 2);

  grpc::ClientContext ctx;
  v1::DrainResponse drained;
  REQUIRE(c->writer_admin().Drain(&ctx, {}, &drained).ok());
  CHECK(drained.drain_state() == v1::DRAIN_STATE_DRAINING);
  register_reader("fake-a", v1::DRAIN_STATE_DRAINED, absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(300));  // several monitor ticks
  CHECK(status().drain_state() == v1::DRAIN_STATE_DRAINING);  // b is active
  // b dies (kill -9): its lease runs out and it counts as drained.
  register_reader("fake-b", v1::DRAIN_STATE_ACTIVE, absl::Milliseconds(200));
  CHECK(wait_drain(v1::DRAIN_STATE_DRAINED));
  auto s = status();
  REQUIRE(s.readers_size() == 2);
  CHECK(s.readers(0).drain_state() == v1::DRAIN_STATE_DRAINED);
  CHECK(s.readers(1).drain_state() == v1::DRAIN_STATE_DRAINED);
  CHECK(s.readers(1).lease_remaining_ms() <= 0);

  grpc::ClientContext ctx2;
  v1::UndrainResponse undrained;
  REQUIRE(c->writer_admin().Undrain(&ctx2, {}, &undrained).ok());
  CHECK(status().drain_state() == v1::DRAIN_STATE_ACTIVE);
}

}  // namespace
}  // namespace arbiter::testing
