// Host replacement with zero client-visible failures (issue #12): two hosts
// on 127.0.0.1 (each its own data directory, writer and two readers) behind
// one log, a client balancing round-robin over the four readers with
// gRPC's client-side health checking, and arbiter-fleet's termination
// policy deciding when host A may go. Then a host whose writer dies: its
// readers refuse on their own within --max_staleness.

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "common/auth/client.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/host.h"
#include "tests/testing/keys.h"
#include "tests/testing/process.h"

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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// One log, two hosts of a writer and two readers each, tenant "acme" with
// alice a viewer of d1, everything LIVE and SERVING.
struct Fleet {
  std::unique_ptr<Cluster> cluster;
  std::unique_ptr<Host> a, b;

  explicit Fleet(const std::vector<std::string>& reader_flags) {
    auto c = Cluster::Start({.start_writer = false});
    REQUIRE(c.ok());
    cluster = std::move(*c);
    REQUIRE(cluster->CreateTenant("acme").ok());
    REQUIRE(cluster->SetPolicy("acme", kPolicy).ok());
    v1::WriteRequest w;
    w.set_tenant("acme");
    auto* f = w.add_operations()->mutable_insert();
    f->set_predicate("has_role");
    for (const auto& [type, id] : {std::pair{"User", "alice"}, std::pair{"String", "viewer"},
                                   std::pair{"Doc", "d1"}}) {
      auto* v = f->add_args();
      v->set_type(type);
      v->set_id(id);
    }
    auto offset = cluster->Write(w);
    REQUIRE(offset.ok());
    HostOptions options{.reader_flags = reader_flags};
    a = std::make_unique<Host>(cluster->dir() + "/hostA", cluster->log_port(), options);
    b = std::make_unique<Host>(cluster->dir() + "/hostB", cluster->log_port(), options);
    for (Host* h : {a.get(), b.get()}) {
      REQUIRE(h->StartWriter().ok());
      REQUIRE(h->StartReader(0).ok());
      REQUIRE(h->StartReader(1).ok());
    }
    for (Host* h : {a.get(), b.get()}) {
      REQUIRE(h->WaitForWriter(v1::REPLICATION_STATE_LIVE, *offset).ok());
      for (int i : {0, 1}) {
        REQUIRE(WaitForHealth(LocalChannel(h->reader_port(i)).get(), Health::kServing,
                              absl::Seconds(30))
                    .ok());
      }
    }
  }

  // A channel over the four readers: round_robin, client-side health
  // checking (a NOT_SERVING reader leaves the rotation), and, if asked,
  // retries of UNAVAILABLE on another reader.
  std::shared_ptr<grpc::Channel> Balanced(bool retries) const {
    std::vector<std::string> addresses;
    for (const Host* h : {a.get(), b.get()}) {
      for (int i : {0, 1}) addresses.push_back(absl::StrCat("127.0.0.1:", h->reader_port(i)));
    }
    std::string config = R"({"loadBalancingConfig": [{"round_robin": {}}],
                             "healthCheckConfig": {"serviceName": ""})";
    if (retries) {
      config += R"(, "methodConfig": [{"name": [{"service": "arbiter.v1.ReaderService"}],
                    "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.01s",
                                    "maxBackoff": "0.1s", "backoffMultiplier": 2,
                                    "retryableStatusCodes": ["UNAVAILABLE"]}}])";
    }
    config += "}";
    grpc::ChannelArguments args;
    args.SetServiceConfigJSON(config);
    return auth::CreateKeyedChannel("ipv4:" + absl::StrJoin(addresses, ","), kTestKey,
                                    grpc::InsecureChannelCredentials(), args);
  }

  std::string Inventory() const {
    const std::string path = cluster->dir() + "/inventory.json";
    std::ofstream(path) << R"({"hosts": [{"instance_id": "i-hosta", "writer": "127.0.0.1:)"
                        << a->writer_port() << R"("}, {"instance_id": "i-hostb", "writer": "127.0.0.1:)"
                        << b->writer_port() << R"("}]})";
    return path;
  }
};

// The question every test asks: may alice read d1? (she may)
v1::AuthorizeRequest AliceReadsD1() {
  v1::AuthorizeRequest r;
  r.set_tenant("acme");
  r.mutable_actor()->set_type("User");
  r.mutable_actor()->set_id("alice");
  r.set_action("read");
  r.mutable_resource()->set_type("Doc");
  r.mutable_resource()->set_id("d1");
  return r;
}

// Authorize calls from `threads` threads until Stop: every answer must be
// OK and allowed.
class Load {
 public:
  Load(std::shared_ptr<grpc::Channel> channel, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, channel] {
        auto stub = v1::ReaderService::NewStub(channel);
        const v1::AuthorizeRequest r = AliceReadsD1();
        while (!stop_.load()) {
          grpc::ClientContext ctx;
          ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
          v1::AuthorizeResponse resp;
          grpc::Status s = stub->Authorize(&ctx, r, &resp);
          if (s.ok() && resp.allowed()) {
            ok_.fetch_add(1);
          } else {
            absl::MutexLock l(&mu_);
            failures_.push_back(s.ok() ? "denied" : absl::StrCat(s.error_code(), ": ",
                                                                  s.error_message()));
          }
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_.store(true);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int64_t ok() const { return ok_.load(); }
  // Waits until `more` further calls succeeded.
  void AwaitMore(int64_t more) {
    const int64_t target = ok() + more;
    const absl::Time until = absl::Now() + absl::Seconds(60);
    while (ok() < target && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
    REQUIRE(ok() >= target);
  }
  std::vector<std::string> failures() {
    absl::MutexLock l(&mu_);
    return failures_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0};
  absl::Mutex mu_;
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

struct PolicyRun {
  int code = 0;
  std::string answer, log;
};

PolicyRun RunPolicy(const Fleet& fleet, const std::string& inventory, const std::string& event) {
  const std::string dir = fleet.cluster->dir();
  std::ofstream(dir + "/event.json") << event;
  const std::string command = absl::StrCat(
      BinaryPath("services/fleet/arbiter-fleet"), " termination-policy --inventory=", inventory,
      " --key_file=", TestKeyFile(dir), " < ", dir, "/event.json > ", dir, "/answer.json 2> ",
      dir, "/policy.log");
  const int status = std::system(command.c_str());
  PolicyRun r{.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              .answer = std::string(absl::StripAsciiWhitespace(ReadFile(dir + "/answer.json"))),
              .log = ReadFile(dir + "/policy.log")};
  UNSCOPED_INFO("termination-policy -> " << r.code << " " << r.answer << "\n" << r.log);
  return r;
}

constexpr char kScaleIn[] =
    R"({"CapacityToTerminate": [{"AvailabilityZone": "local", "Capacity": 1}],
        "Instances": [{"AvailabilityZone": "local", "InstanceId": "i-hostb"},
                      {"AvailabilityZone": "local", "InstanceId": "i-hosta"}],
        "Cause": "SCALE_IN"})";

v1::DrainState DrainStateOf(v1::WriterAdminService::Stub& writer) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
  v1::GetStatusResponse s;
  REQUIRE(writer.GetStatus(&ctx, v1::GetStatusRequest(), &s).ok());
  return s.drain_state();
}

TEST_CASE("a host is replaced with zero failed calls: the policy answers it only once drained",
          "[integration][fleet]") {
  Fleet fleet({"--drain_grace=2s"});
  const std::string inventory = fleet.Inventory();
  Load load(fleet.Balanced(/*retries=*/false), 4);
  load.AwaitMore(200);

  // Called again and again, as Auto Scaling does after an empty answer,
  // until it names host A (the first by the policy's order: both LIVE,
  // two readers each, then by id).
  PolicyRun run;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  int calls = 0;
  do {
    run = RunPolicy(fleet, inventory, kScaleIn);
    ++calls;
    REQUIRE(run.code == 0);
    if (run.answer == R"({"InstanceIDs":[]})") {
      CHECK(DrainStateOf(fleet.b->writer_admin()) == v1::DRAIN_STATE_ACTIVE);  // only A is drained
      absl::SleepFor(absl::Milliseconds(200));
      continue;
    }
    break;
  } while (absl::Now() < until);
  REQUIRE(run.answer == R"({"InstanceIDs":["i-hosta"]})");
  CHECK(calls > 1);  // the first call only started the drain
  // Answered only once drained, and B was never touched.
  CHECK(DrainStateOf(fleet.a->writer_admin()) == v1::DRAIN_STATE_DRAINED);
  CHECK(DrainStateOf(fleet.b->writer_admin()) == v1::DRAIN_STATE_ACTIVE);

  // The instance is terminated: every process of host A dies at once.
  REQUIRE(fleet.a->StopReader(0, SIGKILL).ok());
  REQUIRE(fleet.a->StopReader(1, SIGKILL).ok());
  REQUIRE(fleet.a->StopWriter(SIGKILL).ok());
  load.AwaitMore(500);
  load.Stop();
  const std::vector<std::string> failures = load.failures();
  INFO(absl::StrJoin(failures, "\n"));
  CHECK(failures.empty());
  CHECK(load.ok() >= 700);

  // With host A gone, the policy never answers what it cannot reach, and
  // never drains the last serving host.
  run = RunPolicy(fleet, inventory, kScaleIn);
  CHECK(run.answer == R"({"InstanceIDs":[]})");
  CHECK_THAT(run.log, Catch::Contains("i-hosta: no status"));
  CHECK_THAT(run.log, Catch::Contains("i-hostb: one of the last 1 serving hosts"));
  CHECK(DrainStateOf(fleet.b->writer_admin()) == v1::DRAIN_STATE_ACTIVE);
}

TEST_CASE("a host whose writer dies: its readers refuse within --max_staleness, the client "
          "keeps succeeding through the other host",
          "[integration][fleet]") {
  Fleet fleet({"--max_staleness=1s"});
  Load load(fleet.Balanced(/*retries=*/true), 4);
  load.AwaitMore(200);
  const absl::Time killed = absl::Now();
  REQUIRE(fleet.a->StopWriter(SIGKILL).ok());
  // Both of A's readers go NOT_SERVING on their own (no writer tells them).
  for (int i : {0, 1}) {
    REQUIRE(WaitForHealth(LocalChannel(fleet.a->reader_port(i)).get(), Health::kNotServing,
                          absl::Seconds(10))
                .ok());
  }
  const absl::Duration refused_after = absl::Now() - killed;
  CHECK(refused_after < absl::Seconds(1) + absl::Seconds(2));  // max_staleness + polling
  // And refuse any request sent to them directly.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    v1::AuthorizeResponse resp;
    grpc::Status s = fleet.a->reader(0).Authorize(&ctx, AliceReadsD1(), &resp);
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(s.error_message(), Catch::Contains("stale") || Catch::Contains("LIVE"));
  }
  load.AwaitMore(500);
  load.Stop();
  const std::vector<std::string> failures = load.failures();
  INFO(absl::StrJoin(failures, "\n"));
  CHECK(failures.empty());
}

TEST_CASE("a drained host stays drained across a writer restart, unless --undrain_on_start",
          "[integration][fleet]") {
  // The Kubernetes chart drains a node's host in the writer's preStop and
  // restarts the writer with --undrain_on_start; the EC2 termination policy
  // needs DRAINED to stick.
  auto c = Cluster::Start({.readers = 1});
  REQUIRE(c.ok());
  Cluster& cluster = **c;
  REQUIRE(cluster.WaitForWriter(v1::REPLICATION_STATE_LIVE).ok());
  auto reader = LocalChannel(cluster.reader_port(0));
  REQUIRE(WaitForHealth(reader.get(), Health::kServing, absl::Seconds(30)).ok());
  auto drain_state = [&] { return DrainStateOf(cluster.writer_admin()); };
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    v1::DrainResponse r;
    REQUIRE(cluster.writer_admin().Drain(&ctx, v1::DrainRequest(), &r).ok());
  }
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (drain_state() != v1::DRAIN_STATE_DRAINED && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(drain_state() == v1::DRAIN_STATE_DRAINED);
  CHECK(CheckHealth(reader.get()) == Health::kNotServing);

  REQUIRE(cluster.StopWriter().ok());
  REQUIRE(cluster.StartWriter().ok());
  REQUIRE(cluster.WaitForWriter(v1::REPLICATION_STATE_LIVE).ok());
  CHECK(drain_state() == v1::DRAIN_STATE_DRAINED);
  CHECK(CheckHealth(reader.get()) == Health::kNotServing);

  REQUIRE(cluster.StopWriter().ok());
  REQUIRE(cluster.StartWriter({"--undrain_on_start"}).ok());
  REQUIRE(cluster.WaitForWriter(v1::REPLICATION_STATE_LIVE).ok());
  CHECK(drain_state() == v1::DRAIN_STATE_ACTIVE);
  // The reader, drained but still running, serves again.
  CHECK(WaitForHealth(reader.get(), Health::kServing, absl::Seconds(30)).ok());
  CHECK_THAT(ReadFile(cluster.dir() + "/writer.stderr"), Catch::Contains("--undrain_on_start"));
}

}  // namespace
}  // namespace arbiter::testing
