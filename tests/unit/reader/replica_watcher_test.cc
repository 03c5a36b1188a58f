// The reader's replica loop against real SQLite files written the way the
// writer writes them: index advancing from `changes`, policy hot reload,
// generation changes, waiters, freshness, and the host-drain state machine.

#include "services/reader/replica_watcher.h"

#include <filesystem>
#include <memory>

#include <catch2/catch.hpp>

#include "common/api/api.h"
#include "common/host/data_dir.h"
#include "common/host/reader_registry.h"
#include "common/replica/replica_dir.h"
#include "common/storage/control_db.h"
#include "common/storage/sqlite.h"
#include "common/replica/change_set.h"
#include "common/storage/tenant_db.h"
#include "common/eval/segment.h"
#include "services/reader/read_requests.h"
#include "tests/testing/process.h"

namespace arbiter::reader {
namespace {

using storage::BootTime;

#define REQUIRE_OK(expr)                          \
  do {                                            \
    absl::Status _s = (expr);                     \
    INFO(_s.ToString());                          \
    REQUIRE(_s.ok());                             \
  } while (0)

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
constexpr char kPolicyNoEdit[] = R"(
actor User {}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["read", "edit"];
  "read" if "viewer";
  "viewer" if "editor";
}
)";

Fact Role(const std::string& user, const std::string& role, const std::string& doc) {
  return Fact{"has_role", {{"User", user}, {kStringType, role}, {"Doc", doc}}};
}

// Plays the host's writer: control.db plus tenant databases of generation N.
class FakeWriter {
 public:
  FakeWriter() : dir_(tmp_.File("host")) {
    std::filesystem::create_directories(dir_.root());
    REQUIRE_OK(storage::ControlDb::Create(dir_.ControlDbPath()));
    auto c = storage::ControlDb::Open(dir_.ControlDbPath(), {});
    REQUIRE(c.ok());
    control_ = std::move(*c);
    REQUIRE_OK(control_->SetClusterIdentity("cluster-1", 1));
  }

  void NewGeneration(int64_t gen, int64_t offset) {
    std::filesystem::create_directories(replica::ReplicaDir(dir_.GenerationDir(gen)).TenantsDir());
    const std::string rel = replica::ReplicaDir::TenantRelativePath("acme");
    REQUIRE_OK(storage::TenantDb::Create(dir_.TenantPath(gen, rel),
                                         {"acme", "cluster-1", offset}));
    auto t = storage::TenantDb::Open(dir_.TenantPath(gen, rel), {});
    REQUIRE(t.ok());
    tenant_ = std::move(*t);
    storage::TenantEntry e{"acme", rel, offset};
    REQUIRE_OK(control_->SetGeneration(gen, {&e, 1}, offset));
    REQUIRE_OK(control_->SetReplicationState(storage::ReplicationState::kLive));
  }

  // One applied entry at `offset`: inserts, deletes (exact), policy.
  void Apply(int64_t offset, std::vector<Fact> inserts, std::vector<Fact> deletes = {},
             const char* policy = nullptr, BootTime fresh = {"boot", 0}) {
    {
      auto txn = storage::Transaction::Begin(tenant_->db(),
                                             storage::Transaction::Mode::kImmediate);
      REQUIRE(txn.ok());
      for (const Fact& f : inserts) REQUIRE(tenant_->InsertFact(offset, f).ok());
      for (const Fact& f : deletes) {
        std::vector<std::optional<Value>> p(f.args.begin(), f.args.end());
        REQUIRE(tenant_->DeletePattern(offset, f.predicate, p).ok());
      }
      if (policy != nullptr) REQUIRE_OK(tenant_->SetPolicy(policy, offset));
      REQUIRE_OK(tenant_->SetAppliedOffset(offset));
      REQUIRE_OK(txn->Commit());
    }
    storage::AppliedUpdate u;
    u.applied_offset = offset;
    u.head_offset = offset;
    u.fresh_as_of = fresh;
    u.tenant_offsets = {{"acme", offset}};
    REQUIRE_OK(control_->UpdateApplied(u));
  }

  // Writes the tenant's base index from its database and names it.
  void NameBase(int64_t applied, BootTime fresh) {
    auto base = replica::BuildBaseFromDb(*tenant_);
    REQUIRE(base.ok());
    storage::TenantIndex index;
    index.base = replica::ReplicaDir::IndexRelativePath("acme", "base", (*base)->offset(), 1,
                                                        ++files_);
    index.base_offset = (*base)->offset();
    const replica::ReplicaDir gen(dir_.GenerationDir(1));
    std::filesystem::create_directories(gen.TenantIndexDir("acme"));
    REQUIRE_OK(eval::WriteSegmentFile(gen.Path(index.base), **base));
    storage::AppliedUpdate u;
    u.applied_offset = applied;
    u.head_offset = applied;
    u.fresh_as_of = fresh;
    u.indexes = {{"acme", index}};
    REQUIRE_OK(control_->UpdateApplied(u));
  }

  void Heartbeat(int64_t applied, BootTime fresh) {
    storage::AppliedUpdate u;
    u.applied_offset = applied;
    u.head_offset = applied;
    u.fresh_as_of = fresh;
    REQUIRE_OK(control_->UpdateApplied(u));
  }

  storage::ControlDb& control() { return *control_; }
  const host::DataDir& dir() const { return dir_; }

 private:
  testing::TempDir tmp_;
  host::DataDir dir_;
  std::unique_ptr<storage::ControlDb> control_;
  std::unique_ptr<storage::TenantDb> tenant_;
  uint64_t files_ = 0;
};

struct Fixture {
  explicit Fixture(int64_t max_top_changes = 20000) : max_top_changes(max_top_changes) {}
  int64_t max_top_changes;
  FakeWriter w;
  storage::FakeBootClock clock{"boot", 0};
  FreshnessGate gate{absl::Milliseconds(500), &clock};
  ConsistencyWaiters waiters;
  std::vector<bool> health;
  int64_t in_flight = 0;
  ReplicaWatcher watcher{
      WatcherOptions{.data_dir = w.dir().root(),
                     .max_top_changes = max_top_changes,
                     .drain_grace = absl::Milliseconds(50)},
      &gate, &waiters, nullptr,
      ReplicaWatcher::Hooks{.set_serving = [this](bool s) { health.push_back(s); },
                            .in_flight = [this] { return in_flight; }}};

  absl::StatusOr<bool> Authorize(const std::string& user, const std::string& action,
                                 const std::string& doc) {
    v1::AuthorizeRequest r;
    r.set_tenant("acme");
    r.mutable_actor()->set_type("User");
    r.mutable_actor()->set_id(user);
    r.set_action(action);
    r.mutable_resource()->set_type("Doc");
    r.mutable_resource()->set_id(doc);
    auto plan = Validate(r);
    if (!plan.ok()) return plan.status();
    auto view = watcher.view();
    if (auto a = gate.Admit(*view); !a.ok()) return a.status();
    const TenantView* t = view->Find("acme");
    if (t == nullptr) return absl::NotFoundError("acme");
    if (auto c = gate.Check(*view, *t); !c.ok()) return c.status();
    v1::AuthorizeResponse resp;
    absl::Status s =
        Execute(ExecContext{*view, *t->snapshot, *plan, t->complete_offset}, r, &resp);
    if (!s.ok()) return s;
    return resp.allowed();
  }
};

TEST_CASE("watcher builds the index, advances it from changes, reloads policy",
          "[unit][reader]") {
  Fixture f;
  f.watcher.PollOnce();
  CHECK(absl::IsUnavailable(f.Authorize("a", "read", "d").status()));  // gen 0
  f.w.NewGeneration(1, 1);
  f.w.Apply(2, {Role("alice", "viewer", "d1")});
  f.watcher.PollOnce();
  auto v = f.watcher.view();
  CHECK(v->applied_offset == 2);
  CHECK(v->cluster_id == "cluster-1");
  // No policy yet: FAILED_PRECONDITION.
  CHECK(absl::IsFailedPrecondition(f.Authorize("alice", "read", "d1").status()));
  CHECK(f.health == std::vector<bool>{false, true});  // gen 0, then live

  f.w.Apply(3, {Role("bob", "editor", "d1")}, {}, kPolicy);
  f.watcher.PollOnce();
  CHECK(f.watcher.view()->Find("acme")->snapshot->policy_version == 3);
  CHECK(*f.Authorize("alice", "read", "d1"));
  CHECK_FALSE(*f.Authorize("alice", "edit", "d1"));
  CHECK(*f.Authorize("bob", "edit", "d1"));

  // Revoke and hot-reload a policy in later entries.
  f.w.Apply(4, {}, {Role("alice", "viewer", "d1")});
  f.watcher.PollOnce();
  CHECK_FALSE(*f.Authorize("alice", "read", "d1"));
  f.w.Apply(5, {}, {}, kPolicyNoEdit);
  f.watcher.PollOnce();
  CHECK_FALSE(*f.Authorize("bob", "edit", "d1"));
  CHECK(*f.Authorize("bob", "read", "d1"));
  CHECK(f.watcher.view()->Find("acme")->snapshot->policy_version == 5);
  CHECK(f.watcher.view()->Find("acme")->snapshot->tenant_offset == 5);

  // The view an old request holds is unchanged (immutable snapshots).
  auto old = f.watcher.view();
  f.w.Apply(6, {Role("carol", "viewer", "d1")});
  f.watcher.PollOnce();
  CHECK(old->applied_offset == 5);
  CHECK(old->Find("acme")->snapshot->facts->size() == 1);
  CHECK(f.watcher.view()->Find("acme")->snapshot->facts->size() == 2);
}

TEST_CASE("watcher releases waiters only once a view at their offset is published",
          "[unit][reader]") {
  Fixture f;
  f.w.NewGeneration(1, 1);
  f.w.Apply(2, {}, {}, kPolicy);
  f.watcher.PollOnce();
  int64_t seen = -1;
  f.waiters.Add("acme", 3, absl::Now() + absl::Hours(1), [&](absl::Status s) {
    REQUIRE(s.ok());
    seen = f.watcher.view()->applied_offset;
  });
  CHECK(seen == -1);
  f.w.Apply(3, {Role("alice", "viewer", "d1")});
  f.watcher.PollOnce();
  CHECK(seen == 3);
}

TEST_CASE("a tenant whose index lags past --max_top_changes is held, alone, until a newer file",
          "[unit][reader]") {
  Fixture f(/*max_top_changes=*/100);
  f.w.NewGeneration(1, 1);
  f.w.Apply(2, {}, {}, kPolicy, f.clock.Now());
  f.watcher.PollOnce();
  std::vector<Fact> many;
  for (int i = 0; i < 150; ++i) many.push_back(Role("u" + std::to_string(i), "viewer", "d1"));
  f.w.Apply(3, many, {}, nullptr, f.clock.Now());  // one advance: read in full
  f.watcher.PollOnce();
  CHECK(*f.Authorize("u149", "read", "d1"));
  CHECK(f.watcher.view()->Find("acme")->complete_offset == 3);

  // Over the bound: the view stays at 3, with 3's freshness, while the host
  // stays fresh.
  f.clock.Advance(absl::Milliseconds(300));
  f.w.Apply(4, {Role("alice", "viewer", "d1")}, {}, nullptr, f.clock.Now());
  f.watcher.PollOnce();
  const TenantView* t = f.watcher.view()->Find("acme");
  CHECK(t->complete_offset == 3);
  CHECK(t->snapshot->tenant_offset == 3);
  CHECK_FALSE(*f.Authorize("alice", "read", "d1"));
  f.clock.Advance(absl::Milliseconds(300));
  f.w.Heartbeat(4, f.clock.Now());
  f.watcher.PollOnce();
  CHECK(f.health.back() == true);  // the host serves
  auto stale = f.Authorize("alice", "read", "d1");
  REQUIRE_FALSE(stale.ok());
  CHECK(absl::IsUnavailable(stale.status()));
  CHECK(stale.status().message() == "tenant replica stale by 600 ms (max 500 ms)");

  // The writer names a base holding everything: the tenant advances.
  f.w.NameBase(4, f.clock.Now());
  f.watcher.PollOnce();
  CHECK(f.watcher.view()->Find("acme")->complete_offset == 4);
  CHECK(*f.Authorize("alice", "read", "d1"));
  CHECK(*f.Authorize("u0", "read", "d1"));
}

TEST_CASE("a consistency token past int64 is FAILED_PRECONDITION, never satisfied",
          "[unit][reader]") {
  v1::AuthorizeRequest r;
  r.set_tenant("acme");
  r.mutable_actor()->set_type("User");
  r.mutable_actor()->set_id("alice");
  r.set_action("read");
  r.mutable_resource()->set_type("Doc");
  r.mutable_resource()->set_id("d1");
  r.mutable_consistency()->set_at_least(
      api::EncodeConsistencyToken("cluster-1", uint64_t{1} << 63));
  auto plan = Validate(r);
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(plan.status().message() ==
        "consistency.at_least: consistency token offset 9223372036854775808 is out of "
        "range (at most 9223372036854775807)");
}

TEST_CASE("watcher goes NOT_SERVING when stale and back by itself", "[unit][reader]") {
  Fixture f;
  f.w.NewGeneration(1, 1);
  f.w.Apply(2, {}, {}, kPolicy, BootTime{"boot", 0});
  f.watcher.PollOnce();
  REQUIRE(f.health == std::vector<bool>{true});
  f.clock.Advance(absl::Milliseconds(600));
  f.watcher.PollOnce();
  CHECK(f.health == std::vector<bool>{true, false});
  auto s = f.Authorize("a", "read", "d");
  CHECK(s.status().message() == "replica stale by 600 ms (max 500 ms)");
  f.w.Heartbeat(2, f.clock.Now());
  f.watcher.PollOnce();
  CHECK(f.health == std::vector<bool>{true, false, true});
  CHECK(f.Authorize("a", "read", "d").ok());
  // Writer not live.
  REQUIRE_OK(f.w.control().SetReplicationState(storage::ReplicationState::kReplaying));
  f.watcher.PollOnce();
  CHECK(f.health.back() == false);
  CHECK(f.Authorize("a", "read", "d").status().message() ==
        "writer not live (REPLAYING)");
}

TEST_CASE("watcher reopens on a new generation", "[unit][reader]") {
  Fixture f;
  f.w.NewGeneration(1, 1);
  f.w.Apply(2, {Role("alice", "viewer", "d1")}, {}, kPolicy);
  f.watcher.PollOnce();
  CHECK(*f.Authorize("alice", "read", "d1"));
  f.w.NewGeneration(2, 10);  // restored elsewhere: empty tenant at 10
  f.w.Apply(11, {Role("bob", "viewer", "d1")}, {}, kPolicy, BootTime{"boot", 0});
  f.watcher.PollOnce();
  CHECK(f.watcher.view()->generation == 2);
  CHECK_FALSE(*f.Authorize("alice", "read", "d1"));
  CHECK(*f.Authorize("bob", "read", "d1"));
}

TEST_CASE("host drain: draining answers, then DRAINED after the grace and in-flight",
          "[unit][reader]") {
  Fixture f;
  f.w.NewGeneration(1, 1);
  f.w.Apply(2, {}, {}, kPolicy);
  f.watcher.PollOnce();
  bool failed = false;
  f.waiters.Add("acme", 100, absl::Now() + absl::Hours(1),
                [&](absl::Status s) { failed = absl::IsUnavailable(s); });
  REQUIRE_OK(f.w.control().SetDrainState(storage::DrainState::kDraining));
  f.watcher.PollOnce();
  CHECK(f.gate.drain_state() == ReaderDrainState::kDraining);
  CHECK(f.health.back() == false);
  CHECK(f.Authorize("a", "read", "d").ok());  // still answering
  f.in_flight = 1;
  absl::SleepFor(absl::Milliseconds(60));
  f.watcher.PollOnce();
  CHECK(failed);  // the pending wait got UNAVAILABLE at the end of the grace
  CHECK(f.gate.drain_state() == ReaderDrainState::kDraining);  // in flight
  f.in_flight = 0;
  f.watcher.PollOnce();
  CHECK(f.gate.drain_state() == ReaderDrainState::kDrained);
  CHECK(f.Authorize("a", "read", "d").status().message() == "host draining");
  // Undrain: ACTIVE and serving again.
  REQUIRE_OK(f.w.control().SetDrainState(storage::DrainState::kActive));
  f.watcher.PollOnce();
  CHECK(f.gate.drain_state() == ReaderDrainState::kActive);
  CHECK(f.health.back() == true);
  CHECK(f.Authorize("a", "read", "d").ok());
}

}  // namespace
}  // namespace arbiter::reader
