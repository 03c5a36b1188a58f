// ReaderService.Watch against a real log, writer and two readers: the
// changes a client receives, resumed from its last token across a cancelled
// stream (inside an entry), another reader, a reader restart and a new
// generation of the host, are exactly the log's own change history, none
// lost and none twice; heartbeats while idle; a stale host ends the stream
// with UNAVAILABLE; bad requests are refused naming the field.

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/api/api.h"
#include "common/host/data_dir.h"
#include "common/replica/replica_dir.h"
#include "common/storage/tenant_db.h"
#include "tests/testing/cluster.h"

namespace arbiter::testing {
namespace {

constexpr char kPolicy[] = R"(
actor User {}
resource Doc {
  roles = ["viewer"];
  permissions = ["read"];
  "read" if "viewer";
}
)";

v1::Fact Viewer(const std::string& user, const std::string& doc) {
  return api::ToProto(Fact{"has_role", {{"User", user}, {"String", "viewer"}, {"Doc", doc}}});
}

// One change as compared: "offset I|D fact".
std::string Key(uint64_t offset, bool insert, const Fact& f) {
  return absl::StrCat(offset, insert ? " I " : " D ", ToString(f));
}

struct Stream {
  std::vector<std::string> changes;
  std::string token;
  uint64_t offset = 0;
  int messages = 0;
  int heartbeats = 0;
  int inside_entry = 0;  // messages whose token has watch_skip > 0
};

// Reads a Watch stream from `after` until `stop` says so (then cancels; the
// result is OK) or the stream ends (its status).
grpc::Status Follow(v1::ReaderService::Stub& reader, const std::string& tenant,
                    const std::string& after, Stream* out,
                    const std::function<bool(const v1::WatchResponse&)>& stop,
                    uint32_t heartbeat_ms = 200, absl::Duration timeout = absl::Seconds(120)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(timeout));
  v1::WatchRequest req;
  req.set_tenant(tenant);
  req.set_after_token(after);
  req.set_heartbeat_interval_ms(heartbeat_ms);
  auto stream = reader.Watch(&ctx, req);
  v1::WatchResponse msg;
  bool stopped = false;
  while (stream->Read(&msg)) {
    ++out->messages;
    if (msg.changes().empty()) ++out->heartbeats;
    for (const v1::FactChange& c : msg.changes()) {
      out->changes.push_back(Key(c.offset(), c.operation() == v1::FactChange::OPERATION_INSERT,
                                 api::FromProto(c.fact())));
    }
    out->token = msg.token();
    out->offset = msg.offset();
    auto t = api::DecodeConsistencyToken(msg.token());
    if (t.ok() && t->watch_skip() > 0) ++out->inside_entry;
    if (stop(msg)) {
      stopped = true;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s = stream->Finish();
  return stopped ? grpc::Status::OK : s;
}

// The log's own change history of `tenant` (its materialized state), once
// it has applied `head`.
std::vector<std::string> LogChanges(const Cluster& c, const std::string& tenant, uint64_t head) {
  const std::string path =
      replica::ReplicaDir(c.log_data_dir() + "/state").TenantPath(tenant);
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    auto db = storage::TenantDb::Open(path, {.read_only = true});
    REQUIRE(db.ok());
    auto applied = (*db)->AppliedOffset();
    REQUIRE(applied.ok());
    if (*applied >= static_cast<int64_t>(head)) {
      auto rows = (*db)->ChangesSince(0, 1'000'000);
      REQUIRE(rows.ok());
      std::vector<std::string> out;
      for (const auto& r : *rows) {
        if (r.offset > static_cast<int64_t>(head)) break;
        out.push_back(Key(r.offset, r.op == storage::ChangeOp::kInsert, r.fact));
      }
      return out;
    }
    REQUIRE(absl::Now() < deadline);
    absl::SleepFor(absl::Milliseconds(50));
  }
}

uint64_t WriteOps(Cluster& c, const std::string& tenant, const std::vector<v1::Fact>& inserts,
                  const std::vector<v1::FactPattern>& deletes = {}) {
  v1::WriteRequest req;
  req.set_tenant(tenant);
  for (const auto& f : inserts) *req.add_operations()->mutable_insert() = f;
  for (const auto& p : deletes) *req.add_operations()->mutable_delete_pattern() = p;
  auto offset = c.Write(req);
  INFO(offset.status().ToString());
  REQUIRE(offset.ok());
  return *offset;
}

// Batch i: three new viewers, and the removal of batch i-2's first one.
uint64_t SmallBatches(Cluster& c, int from, int to) {
  uint64_t head = 0;
  for (int i = from; i < to; ++i) {
    std::vector<v1::Fact> ins;
    for (int j = 0; j < 3; ++j) ins.push_back(Viewer(absl::StrCat("u", i, "_", j), "d"));
    std::vector<v1::FactPattern> del;
    if (i >= 2) {
      v1::Fact old = Viewer(absl::StrCat("u", i - 2, "_0"), "d");
      v1::FactPattern p;
      p.set_predicate(old.predicate());
      *p.mutable_args() = old.args();
      del.push_back(p);
    }
    head = WriteOps(c, "acme", ins, del);
  }
  return head;
}

std::unique_ptr<Cluster> StartCluster() {
  auto c = Cluster::Start({.readers = 2,
                           .writer_flags = {"--tenant_check_interval=300ms"},
                           .reader_flags = {"--drain_grace=500ms"}});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

std::string ClusterId(Cluster& c) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
  v1::GetHeadResponse h;
  REQUIRE(c.log().GetHead(&ctx, v1::GetHeadRequest(), &h).ok());
  return h.cluster_id();
}

// Follows until a message reports `head` (the stream caught up with it).
auto UntilOffset(uint64_t head) {
  return [head](const v1::WatchResponse& m) { return m.offset() >= head; };
}

TEST_CASE("watch: resumed across a cancel inside an entry, another reader, a reader restart "
          "and a new generation, nothing is lost or repeated",
          "[integration][watch]") {
  auto c = StartCluster();
  auto created = c->CreateTenant("acme");
  REQUIRE(created.ok());
  auto policy = c->SetPolicy("acme", kPolicy);
  REQUIRE(policy.ok());
  const std::string start = api::EncodeConsistencyToken(ClusterId(*c), *created);

  uint64_t head = SmallBatches(*c, 0, 10);
  // One entry with 1000 inserts and one deleting all of them: both span
  // several messages.
  std::vector<v1::Fact> big;
  for (int j = 0; j < 1000; ++j) big.push_back(Viewer(absl::StrCat("b", j), "big"));
  WriteOps(*c, "acme", big);
  v1::FactPattern all_big;
  all_big.set_predicate("has_role");
  all_big.add_args();
  all_big.add_args();
  all_big.add_args()->set_type("Doc");
  all_big.mutable_args(2)->set_id("big");
  head = WriteOps(*c, "acme", {}, {all_big});
  head = std::max(head, SmallBatches(*c, 10, 15));
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());

  std::vector<std::string> received;
  int resumes = 0;
  auto take = [&](const Stream& s) {
    received.insert(received.end(), s.changes.begin(), s.changes.end());
  };

  // 1. Reader 0 from the tenant's creation; cancelled right after the first
  //    message that ends inside an entry.
  Stream a;
  grpc::Status s = Follow(c->reader(0), "acme", start, &a, [](const v1::WatchResponse& m) {
    auto t = api::DecodeConsistencyToken(m.token());
    return t.ok() && t->watch_skip() > 0;
  });
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(a.inside_entry == 1);
  take(a);

  // 2. Reader 1 from that token, up to the head; then reader 1 stops under
  //    the stream, which must end with UNAVAILABLE (not silently).
  Stream b;
  std::atomic<bool> caught_up{false};
  grpc::Status b_end;
  std::thread follower([&] {
    b_end = Follow(c->reader(1), "acme", a.token, &b, [&](const v1::WatchResponse& m) {
      if (m.offset() >= head) caught_up = true;
      return false;
    });
  });
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!caught_up && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  REQUIRE(caught_up);
  REQUIRE(c->StopReader(1, SIGTERM).ok());
  follower.join();
  INFO(b_end.error_message());
  CHECK(b_end.error_code() == grpc::StatusCode::UNAVAILABLE);
  take(b);
  ++resumes;

  // 3. Writes while reader 1 is down; reader 1 restarted; resume there.
  head = SmallBatches(*c, 15, 25);
  REQUIRE(c->StartReader(1).ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head).ok());
  Stream d;
  deadline = absl::Now() + absl::Seconds(60);
  do {  // until the restarted reader serves
    d = Stream{};
    s = Follow(c->reader(1), "acme", b.token, &d, UntilOffset(head));
    if (!s.ok()) absl::SleepFor(absl::Milliseconds(100));
  } while (!s.ok() && s.error_code() == grpc::StatusCode::UNAVAILABLE && absl::Now() < deadline);
  INFO(s.error_message());
  REQUIRE(s.ok());
  take(d);

  // 4. The host's tenant file vanishes: the writer re-restores into a new
  //    generation while a stream follows; more writes on top. Resume from
  //    the last token whenever the stream ends (on either reader).
  const std::string path = host::DataDir(c->host_data_dir())
                               .TenantPath(1, replica::ReplicaDir::TenantRelativePath("acme"));
  REQUIRE(std::filesystem::remove(path));
  head = SmallBatches(*c, 25, 35);
  deadline = absl::Now() + absl::Seconds(90);
  while (true) {
    auto st = c->WaitForWriter(v1::REPLICATION_STATE_LIVE, head, absl::Seconds(5));
    if (st.ok() && st->generation() >= 2) break;
    REQUIRE(absl::Now() < deadline);
  }
  std::string token = d.token;
  for (int i = 0;; ++i) {
    REQUIRE(absl::Now() < deadline);
    Stream e;
    s = Follow(c->reader(i % 2), "acme", token, &e, UntilOffset(head));
    take(e);
    if (!e.token.empty()) token = e.token;
    if (s.ok()) break;
    INFO(s.error_message());
    REQUIRE(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    ++resumes;
    absl::SleepFor(absl::Milliseconds(100));
  }

  const std::vector<std::string> expected = LogChanges(*c, "acme", head);
  REQUIRE(expected.size() == 35 * 3 + 33 + 2000);
  CHECK(received.size() == expected.size());
  CHECK(received == expected);
  CHECK(resumes >= 1);
}

TEST_CASE("watch: heartbeats while idle, filters, a stale host ends the stream, bad requests",
          "[integration][watch]") {
  auto c = StartCluster();
  REQUIRE(c->CreateTenant("acme").ok());
  auto policy = c->SetPolicy("acme", kPolicy);
  REQUIRE(policy.ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, *policy).ok());

  SECTION("heartbeats while idle carry a token that resumes") {
    Stream idle;
    const absl::Time t0 = absl::Now();
    grpc::Status s = Follow(c->reader(0), "acme", "", &idle,
                            [&](const v1::WatchResponse&) { return absl::Now() - t0 > absl::Seconds(2); });
    REQUIRE(s.ok());
    CHECK(idle.changes.empty());
    CHECK(idle.heartbeats >= 5);  // every 200 ms for 2 s, generously
    // Its tokens name the log's epoch.
    auto t = api::DecodeConsistencyToken(idle.token);
    REQUIRE(t.ok());
    CHECK(t->epoch() == 1);
    const uint64_t head = WriteOps(*c, "acme", {Viewer("alice", "d1")});
    Stream next;
    s = Follow(c->reader(1), "acme", idle.token, &next, UntilOffset(head));
    REQUIRE(s.ok());
    REQUIRE(next.changes.size() == 1);
    CHECK(next.changes[0] == absl::StrCat(head, " I has_role(User:alice, String:viewer, Doc:d1)"));
  }

  SECTION("filters") {
    const std::string start = api::EncodeConsistencyToken(ClusterId(*c), *policy);
    WriteOps(*c, "acme", {Viewer("alice", "d1"), Viewer("bob", "d1")});
    const uint64_t head = WriteOps(*c, "acme", {Viewer("alice", "d2")});
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
    v1::WatchRequest req;
    req.set_tenant("acme");
    req.set_after_token(start);
    v1::FactPattern* p = req.add_filters();
    p->set_predicate("has_role");
    p->add_args()->set_type("User");
    p->mutable_args(0)->set_id("alice");
    p->add_args();
    p->add_args();
    auto stream = c->reader(0).Watch(&ctx, req);
    v1::WatchResponse m;
    std::vector<std::string> got;
    while (stream->Read(&m)) {
      for (const auto& ch : m.changes()) got.push_back(ToString(api::FromProto(ch.fact())));
      if (m.offset() >= head) break;
    }
    ctx.TryCancel();
    (void)stream->Finish();
    CHECK(got == std::vector<std::string>{"has_role(User:alice, String:viewer, Doc:d1)",
                                          "has_role(User:alice, String:viewer, Doc:d2)"});
  }

  SECTION("a host that goes stale ends the stream with UNAVAILABLE") {
    Stream st;
    std::atomic<bool> started{false};
    grpc::Status end;
    std::thread follower([&] {
      end = Follow(c->reader(0), "acme", "", &st, [&](const v1::WatchResponse&) {
        started = true;
        return false;
      });
    });
    while (!started) absl::SleepFor(absl::Milliseconds(10));
    c->writer_process()->Signal(SIGSTOP);
    const absl::Time stopped = absl::Now();
    follower.join();
    c->writer_process()->Signal(SIGCONT);
    INFO(end.error_message());
    CHECK(end.error_code() == grpc::StatusCode::UNAVAILABLE);
    // --max_staleness is 2 s; the stream ends soon after, not at its deadline.
    CHECK(absl::Now() - stopped < absl::Seconds(20));
  }

  SECTION("bad requests") {
    auto refused = [&](const v1::WatchRequest& r) {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
      auto stream = c->reader(0).Watch(&ctx, r);
      v1::WatchResponse m;
      CHECK_FALSE(stream->Read(&m));
      return stream->Finish();
    };
    v1::WatchRequest r;
    r.set_tenant("nope");
    CHECK(refused(r).error_code() == grpc::StatusCode::NOT_FOUND);
    r.set_tenant("acme");
    r.set_after_token(api::EncodeConsistencyToken("another-cluster", 3));
    grpc::Status s = refused(r);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(s.error_message(), Catch::Contains("another-cluster"));
    // A token of another log epoch (from before a restore of the log).
    r.set_after_token(api::EncodeConsistencyToken(ClusterId(*c), 3, 0, 99));
    s = refused(r);
    CHECK(s.error_code() == grpc::StatusCode::ABORTED);
    CHECK_THAT(s.error_message(), Catch::Contains("epoch 99"));
    r.clear_after_token();
    r.add_filters()->set_predicate("has_role");
    s = refused(r);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::StartsWith("filters[0]"));
  }
}

}  // namespace
}  // namespace arbiter::testing
