// The replicated log (issue #14, DESIGN.md §9.2): several arbiter-log
// front-ends over one real etcd cluster, with real hosts following them.
// Processes are killed with SIGKILL under write load: nothing acknowledged
// is lost, offsets stay gap-free with one content each, hosts equal a fresh
// host's replay; a minority of etcd refuses writes cleanly; a front-end cut
// off from etcd stops its hosts (they fail closed).

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/api/api.h"
#include "common/logstore/etcd_client.h"
#include "tests/integration/log_test_util.h"
#include "tests/testing/etcd.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/host.h"

namespace arbiter::testing {
namespace {

constexpr char kPrefix[] = "/replicated/";

// A 3-member etcd cluster on free ports.
std::unique_ptr<EtcdCluster> StartEtcd() {
  auto etcd = EtcdCluster::Start(3);
  INFO(etcd.status().ToString());
  REQUIRE(etcd.ok());
  return *std::move(etcd);
}

// One arbiter-log front-end on a fixed port (hosts list the ports).
struct FrontEnd {
  FrontEnd(const std::vector<std::string>& endpoints, int port, std::vector<std::string> extra)
      : port(port), server(dir, Flags(endpoints, port, std::move(extra))) {}
  static std::vector<std::string> Flags(const std::vector<std::string>& endpoints, int port,
                                        std::vector<std::string> extra) {
    std::vector<std::string> flags = {
        "--store=etcd", "--etcd_endpoints=" + absl::StrJoin(endpoints, ","),
        absl::StrCat("--etcd_prefix=", kPrefix), "--leader_lease_ttl=2s",
        absl::StrCat("--listen=127.0.0.1:", port), "--metrics_listen="};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return flags;
  }
  TempDir dir;
  int port;
  LogServer server;
};

std::unique_ptr<FrontEnd> StartFrontEnd(const std::vector<std::string>& endpoints,
                                        std::vector<std::string> extra = {}) {
  auto port = PickFreePort();
  REQUIRE(port.ok());
  auto fe = std::make_unique<FrontEnd>(endpoints, *port, std::move(extra));
  fe->server.Start();
  return fe;
}

// The port of the front-end that holds the leader key ("<id> host:port").
int LeaderPort(const std::vector<std::string>& endpoints) {
  logstore::EtcdClient etcd(endpoints, absl::Seconds(2));
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<mvccpb::KeyValue> kv = etcd.Get(absl::StrCat(kPrefix, "leader"));
    if (kv.ok()) {
      int port = 0;
      std::string value = kv->value();
      if (absl::SimpleAtoi(value.substr(value.rfind(':') + 1), &port)) return port;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  FAIL("no front-end holds the leader key");
  return 0;
}

v1::Fact RoleFact(const std::string& user) {
  return api::ToProto(Fact{"has_role", {Value{"User", user}, Value{kStringType, "reader"},
                                        Value{"Repository", "r"}}});
}

// Writes through `ports` (any front-end), retrying with the same request id
// (a fresh channel per attempt) until acknowledged or `timeout` passed.
grpc::Status WriteOnce(const std::vector<int>& ports, size_t first, const v1::WriteRequest& req,
                       uint64_t* offset, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  grpc::Status last;
  for (size_t attempt = 0; absl::Now() < deadline; ++attempt) {
    auto stub = v1::LogService::NewStub(LocalChannel(ports[(first + attempt) % ports.size()]));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::WriteResponse resp;
    last = stub->Write(&ctx, req, &resp);
    if (last.ok()) {
      *offset = resp.offset();
      return last;
    }
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
        last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return last;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return last;
}

// Client threads writing one fact per request, each with its own request id.
class Load {
 public:
  Load(std::vector<int> ports, int clients) : ports_(std::move(ports)) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c] { Run(c); });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Waits until `more` further writes were acknowledged.
  bool AwaitMore(size_t more, absl::Duration timeout = absl::Seconds(60)) {
    absl::MutexLock l(&mu_);
    const size_t want = acked_.size() + more;
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return acked_.size() >= want || !errors_.empty();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout) && errors_.empty();
  }
  std::map<std::string, uint64_t> acked() {
    absl::MutexLock l(&mu_);
    return acked_;
  }
  std::vector<std::string> errors() {
    absl::MutexLock l(&mu_);
    return errors_;
  }

 private:
  void Run(int client) {
    for (int n = 0; !stop_; ++n) {
      const std::string id = absl::StrCat("c", client, "-", n);
      v1::WriteRequest req;
      req.set_tenant("t");
      req.set_request_id(id);
      *req.add_operations()->mutable_insert() = RoleFact(id);
      uint64_t offset = 0;
      grpc::Status s = WriteOnce(ports_, client, req, &offset);
      absl::MutexLock l(&mu_);
      if (s.ok()) {
        acked_[id] = offset;
      } else {
        errors_.push_back(absl::StrCat(id, ": ", s.error_code(), " ", s.error_message()));
        return;
      }
    }
  }

  const std::vector<int> ports_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::map<std::string, uint64_t> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

void SetUpTenant(LogServer& log) {
  REQUIRE(log.CreateTenant("t").ok());
  REQUIRE(log.SetPolicy("t", kTestPolicy).ok());
}

// The whole log through `log`'s Subscribe: gap-free, each request id once,
// every acknowledged write at its offset; returns tenant "t"'s facts.
std::set<Fact> CheckLog(LogServer& log, const std::map<std::string, uint64_t>& acked) {
  // A front-end learns what the leader appended within --etcd_poll_interval.
  uint64_t newest = 0;
  for (const auto& [id, offset] : acked) newest = std::max(newest, offset);
  for (absl::Time until = absl::Now() + absl::Seconds(30);
       log.Head().head_offset() < newest && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::vector<v1::LogEntry> entries = log.ReadAll(1);
  INFO("read " << entries.size() << " entries; newest acknowledged offset " << newest);
  REQUIRE(entries.size() >= newest);
  std::map<std::string, uint64_t> ids;
  std::set<Fact> facts;
  for (size_t i = 0; i < entries.size(); ++i) {
    REQUIRE(entries[i].offset() == i + 1);  // gap-free from 1
    v1::LogPayload payload;
    REQUIRE(payload.ParseFromString(entries[i].payload()));
    if (entries[i].tenant() != "t" || !payload.has_write()) continue;
    const std::string& id = payload.write().request_id();
    INFO("request id " << id);
    CHECK(ids.emplace(id, entries[i].offset()).second);  // applied once
    for (const auto& op : payload.write().operations()) facts.insert(api::FromProto(op.insert()));
  }
  for (const auto& [id, offset] : acked) {
    INFO("acknowledged " << id << " at " << offset);
    auto it = ids.find(id);
    REQUIRE(it != ids.end());      // not lost
    CHECK(it->second == offset);   // the offset it was acknowledged at holds it
  }
  return facts;
}

}  // namespace

TEST_CASE("replicated log: SIGKILL of the etcd leader and of the leading front-end under "
          "16 writers loses nothing and hosts keep following",
          "[integration][log][etcd][replicated]") {
  std::unique_ptr<EtcdCluster> etcd = StartEtcd();
  const std::vector<std::string> endpoints = etcd->endpoints();
  std::vector<std::unique_ptr<FrontEnd>> fe;
  fe.push_back(StartFrontEnd(endpoints));
  fe.push_back(StartFrontEnd(endpoints));
  SetUpTenant(fe[1]->server);  // forwarded unless the second one leads
  const std::vector<int> ports = {fe[0]->port, fe[1]->port};
  const std::string addresses =
      absl::StrCat("--log_address=127.0.0.1:", ports[0], ",127.0.0.1:", ports[1]);

  TempDir hosts;
  Host host(hosts.File("a"), ports[0], {.writer_flags = {addresses}});
  REQUIRE(host.StartWriter().ok());

  Load load(ports, 16);
  REQUIRE(load.AwaitMore(100));
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    // The etcd leader: writes continue once etcd elected another.
    auto leader = etcd->Leader();
    REQUIRE(leader.ok());
    REQUIRE(etcd->Stop(*leader, SIGKILL).ok());
    CHECK(load.AwaitMore(50));
    REQUIRE(etcd->Restart(*leader).ok());
    // The leading front-end: the other one takes over within the lease.
    const int leading = LeaderPort(endpoints);
    FrontEnd& killed = fe[0]->port == leading ? *fe[0] : *fe[1];
    killed.server.Kill();
    CHECK(load.AwaitMore(50));
    killed.server.Start();
    CHECK(load.AwaitMore(50));
  }
  load.Stop();
  INFO(absl::StrJoin(load.errors(), "\n"));
  REQUIRE(load.errors().empty());
  const std::map<std::string, uint64_t> acked = load.acked();

  const uint64_t head = fe[0]->server.Head().head_offset();
  std::set<Fact> logged = CheckLog(fe[0]->server, acked);
  CHECK(logged.size() == acked.size());
  // The host followed through whichever front-end was up; it equals the log
  // and a fresh host's replay.
  auto status = host.WaitForWriter(v1::REPLICATION_STATE_LIVE, head, absl::Seconds(120));
  INFO(status.status().ToString() << "\n" << host.writer_process()->LogTail());
  REQUIRE(status.ok());
  auto a = ReplicaFacts(host.data_dir(), "t");
  REQUIRE(a.ok());
  CHECK(*a == logged);
  Host fresh(hosts.File("b"), ports[1], {.writer_flags = {addresses}});
  REQUIRE(fresh.StartWriter().ok());
  REQUIRE(fresh.WaitForWriter(v1::REPLICATION_STATE_LIVE, head, absl::Seconds(120)).ok());
  auto b = ReplicaFacts(fresh.data_dir(), "t");
  REQUIRE(b.ok());
  CHECK(*b == logged);
}

TEST_CASE("replicated log: with two of three etcd members down a write is UNAVAILABLE and "
          "not acknowledged, and its retry once they return is applied once",
          "[integration][log][etcd][replicated]") {
  std::unique_ptr<EtcdCluster> etcd = StartEtcd();
  const std::vector<std::string> endpoints = etcd->endpoints();
  auto fe = StartFrontEnd(endpoints);
  SetUpTenant(fe->server);
  REQUIRE(etcd->Stop(1, SIGKILL).ok());
  REQUIRE(etcd->Stop(2, SIGKILL).ok());

  v1::WriteRequest req;
  req.set_tenant("t");
  req.set_request_id("during-partition");
  *req.add_operations()->mutable_insert() = RoleFact("during-partition");
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::WriteResponse resp;
    grpc::Status s = fe->server.stub()->Write(&ctx, req, &resp);
    INFO(s.error_message());
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  REQUIRE(etcd->Restart(1).ok());
  REQUIRE(etcd->Restart(2).ok());
  uint64_t offset = 0;
  grpc::Status s = WriteOnce({fe->port}, 0, req, &offset);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CheckLog(fe->server, {{"during-partition", offset}});
}

TEST_CASE("replicated log: a front-end cut off from etcd stops its hosts while another "
          "front-end takes writes",
          "[integration][log][etcd][replicated]") {
  std::unique_ptr<EtcdCluster> etcd = StartEtcd();
  const std::vector<std::string> endpoints = etcd->endpoints();
  // Front-end A reaches etcd only through member 0, B through 1 and 2.
  auto a = StartFrontEnd({endpoints[0]});
  auto b = StartFrontEnd({endpoints[1], endpoints[2]});
  SetUpTenant(b->server);
  TempDir hosts;
  Host host(hosts.File("a"), a->port);  // follows A alone
  REQUIRE(host.StartWriter().ok());
  REQUIRE(host.StartReader(0).ok());
  auto reader = LocalChannel(host.reader_port(0));
  REQUIRE(host.WaitForWriter(v1::REPLICATION_STATE_LIVE, b->server.Head().head_offset()).ok());
  REQUIRE(WaitForHealth(reader.get(), Health::kServing, absl::Seconds(30)).ok());

  REQUIRE(etcd->Stop(0, SIGKILL).ok());
  v1::WriteRequest req;
  req.set_tenant("t");
  req.set_request_id("after-cut");
  *req.add_operations()->mutable_insert() = RoleFact("after-cut");
  uint64_t offset = 0;
  grpc::Status s = WriteOnce({b->port}, 0, req, &offset);
  INFO(s.error_message());
  REQUIRE(s.ok());
  // A can confirm nothing: its host goes stale and its reader refuses.
  CHECK(WaitForHealth(reader.get(), Health::kNotServing, absl::Seconds(30)).ok());
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetHeadResponse head;
    CHECK(a->server.stub()->GetHead(&ctx, {}, &head).error_code() ==
          grpc::StatusCode::UNAVAILABLE);
  }
  // Back: A catches up with what B wrote, and its host serves again.
  REQUIRE(etcd->Restart(0).ok());
  CHECK(host.WaitForWriter(v1::REPLICATION_STATE_LIVE, offset, absl::Seconds(60)).ok());
  CHECK(WaitForHealth(reader.get(), Health::kServing, absl::Seconds(30)).ok());
  auto facts = ReplicaFacts(host.data_dir(), "t");
  REQUIRE(facts.ok());
  CHECK(facts->contains(api::FromProto(RoleFact("after-cut"))));
}

}  // namespace arbiter::testing

namespace arbiter::testing {
namespace {

TEST_CASE("replicated log: a front-end that lost its data directory after a truncation "
          "fetches a peer's snapshot",
          "[integration][log][etcd][replicated]") {
  auto etcd = EtcdCluster::Start(1);
  REQUIRE(etcd.ok());
  const std::vector<std::string> endpoints = (*etcd)->endpoints();
  // Each front-end fetches from a peer with the test's operator key.
  TempDir keys;
  const std::vector<std::string> snapshots = {"--snapshot_every_entries=10",
                                              "--snapshot_retention=0s", "--snapshot_keep=1",
                                              LogKeyFlag(keys.path())};
  auto a = StartFrontEnd(endpoints, snapshots);
  REQUIRE(LeaderPort(endpoints) == a->port);
  auto b = StartFrontEnd(endpoints, snapshots);
  SetUpTenant(a->server);
  for (int i = 0; i < 25; ++i) {
    REQUIRE(a->server.Write(InsertRequest("t", {{"maintainer", absl::StrCat("u", i)}})).ok());
  }
  // The leader truncates once both front-ends registered a snapshot.
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && a->server.Head().oldest_retained_offset() <= 1) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(a->server.Head().oldest_retained_offset() > 1);

  b->server.Kill();
  std::filesystem::remove_all(b->server.data_dir());
  b->server.Start();
  CHECK_THAT(b->server.process()->LogTail(100000), Catch::Contains("fetching snapshot snap-"));
  // B's own state answers the stored-fact check once it leads: 25
  // maintainers, which kNarrowerPolicy does not allow.
  a->server.Kill();
  deadline = absl::Now() + absl::Seconds(30);  // A's lease expires (2 s)
  while (absl::Now() < deadline && LeaderPort(endpoints) != b->port) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  REQUIRE(LeaderPort(endpoints) == b->port);
  grpc::Status s;
  for (deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;) {
    s = b->server.SetPolicy("t", kNarrowerPolicy);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  INFO(s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(s.error_message(), Catch::Contains("25 stored fact"));
}

// Puts the store's identity at `epoch`, as another front-end starting a new
// epoch (or an etcd restored from an older backup) does.
void SetStoreEpoch(const std::vector<std::string>& endpoints, uint64_t epoch) {
  logstore::EtcdClient etcd(endpoints, absl::Seconds(2));
  const std::string key = absl::StrCat(kPrefix, "meta/identity");
  absl::StatusOr<mvccpb::KeyValue> kv = etcd.Get(key);
  REQUIRE(kv.ok());
  std::vector<std::string> words = absl::StrSplit(kv->value(), ' ');  // "v1 <cluster> <epoch>"
  REQUIRE(words.size() == 3);
  etcdserverpb::TxnRequest txn;
  logstore::AddPut(&txn, key, absl::StrCat(words[0], " ", words[1], " ", epoch));
  etcdserverpb::TxnResponse resp;
  REQUIRE(etcd.Txn(txn, &resp).ok());
}

TEST_CASE("replicated log: a front-end's state of an older epoch is rebuilt and one of a newer "
          "epoch moves the log past it",
          "[integration][log][etcd][replicated]") {
  auto etcd = EtcdCluster::Start(1);
  REQUIRE(etcd.ok());
  const std::vector<std::string> endpoints = (*etcd)->endpoints();
  auto a = StartFrontEnd(endpoints, {"--snapshot_every_entries=3"});
  SetUpTenant(a->server);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(a->server.Write(InsertRequest("t", {{"maintainer", absl::StrCat("u", i)}})).ok());
  }
  CHECK(a->server.Head().epoch() == 1);
  // Another front-end started epoch 2 while A was down: A's state (and its
  // snapshots) may hold entries the store no longer has.
  a->server.Kill();
  SetStoreEpoch(endpoints, 2);
  a->server.Start();
  CHECK_THAT(a->server.process()->LogTail(100000),
             Catch::Contains("belongs to epoch 1 but the log is at epoch 2: discarding"));
  CHECK(a->server.Head().epoch() == 2);
  // Rebuilt from the store: the stored-fact check sees the 5 maintainers.
  grpc::Status s = a->server.SetPolicy("t", kNarrowerPolicy);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(s.error_message(), Catch::Contains("5 stored fact"));
  // etcd restored from a backup taken before epoch 2: hosts may have seen
  // epoch 2, so the log moves to 3, not to 2 again.
  a->server.Kill();
  SetStoreEpoch(endpoints, 1);
  a->server.Start();
  CHECK_THAT(a->server.process()->LogTail(100000), Catch::Contains("starting epoch 3"));
  CHECK(a->server.Head().epoch() == 3);
}

}  // namespace
}  // namespace arbiter::testing
