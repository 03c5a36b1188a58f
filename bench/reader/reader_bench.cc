// reader_bench: how close Authorize comes to gRPC's own ceiling on this
// machine. Starts arbiter-log, arbiter-writer and one arbiter-reader (real
// processes, tests/testing/cluster.h), loads a GitHub-like tenant, pins the
// reader to one core and this load generator to another (taskset), then runs
// interleaved rounds of
//   * grpc.health.v1.Health/Check (the no-op ceiling) and
//   * arbiter.v1.ReaderService/Authorize (minimize_latency)
// against the same server: first at many RPCs in flight over several
// channels (throughput), then at one in flight (latency). Prints per-round
// QPS and p50/p99/p999 and the medians and ratios.
//
//   reader_bench [--rounds=5] [--seconds=2] [--channels=4] [--depth=16]
//                [--server_cpu=0] [--client_cpu=1]

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "common/auth/client.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/keys.h"


ABSL_FLAG(int, rounds, 5, "interleaved rounds of each measurement");
ABSL_FLAG(double, seconds, 2, "seconds per measurement");
ABSL_FLAG(int, channels, 4, "client channels");
ABSL_FLAG(int, depth, 16, "RPCs in flight per channel");
ABSL_FLAG(int, server_cpu, 0, "CPU for the server processes");
ABSL_FLAG(int, client_cpu, 1, "CPU for the load generator");
namespace {

using arbiter::testing::Cluster;

struct Flags {
  int rounds = 5;
  double seconds = 2;
  int channels = 4;
  int depth = 16;
  int server_cpu = 0;
  int client_cpu = 1;
};

Flags ParseFlags(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Flags f;
  f.rounds = absl::GetFlag(FLAGS_rounds);
  f.seconds = absl::GetFlag(FLAGS_seconds);
  f.channels = absl::GetFlag(FLAGS_channels);
  f.depth = absl::GetFlag(FLAGS_depth);
  f.server_cpu = absl::GetFlag(FLAGS_server_cpu);
  f.client_cpu = absl::GetFlag(FLAGS_client_cpu);
  return f;
}

struct Result {
  double qps = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  int64_t errors = 0;
};

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k] / 1000.0;
}

// One closed loop per in-flight slot: each completion issues the next call.
// `issue(slot, done)` starts one RPC and calls done(ok) when it completes.
class LoadRun {
 public:
  using Issue = std::function<void(int slot, std::function<void(bool)> done)>;

  Result Run(int slots, absl::Duration warmup, absl::Duration measure, Issue issue) {
    issue_ = std::move(issue);
    start_measure_ = absl::Now() + warmup;
    end_ = start_measure_ + measure;
    remaining_.store(slots);
    latencies_.assign(slots, {});
    for (int s = 0; s < slots; ++s) Next(s);
    done_.WaitForNotification();
    Result r;
    std::vector<int64_t> all;
    for (auto& l : latencies_) all.insert(all.end(), l.begin(), l.end());
    r.qps = all.size() / absl::ToDoubleSeconds(measure);
    r.p50_us = Percentile(all, 0.50);
    r.p99_us = Percentile(all, 0.99);
    r.p999_us = Percentile(all, 0.999);
    r.errors = errors_.load();
    return r;
  }

 private:
  void Next(int slot) {
    const absl::Time t0 = absl::Now();
    if (t0 >= end_) {
      if (remaining_.fetch_sub(1) == 1) done_.Notify();
      return;
    }
    issue_(slot, [this, slot, t0](bool ok) {
      const absl::Time t1 = absl::Now();
      if (!ok) errors_.fetch_add(1);
      if (t0 >= start_measure_ && t1 <= end_) {
        latencies_[slot].push_back(absl::ToInt64Nanoseconds(t1 - t0));
      }
      Next(slot);
    });
  }

  Issue issue_;
  absl::Time start_measure_, end_;
  std::atomic<int> remaining_{0};
  std::atomic<int64_t> errors_{0};
  std::vector<std::vector<int64_t>> latencies_;  // one per slot: no sharing
  absl::Notification done_;
};

struct Clients {
  std::vector<std::unique_ptr<arbiter::v1::ReaderService::Stub>> reader;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health;
};

Result RunHealth(Clients& c, int slots, int channels, absl::Duration measure) {
  LoadRun run;
  return run.Run(slots, absl::Milliseconds(300), measure,
                 [&](int slot, std::function<void(bool)> done) {
    struct Call {
      grpc::ClientContext ctx;
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
    };
    auto* call = new Call;
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    c.health[slot % channels]->async()->Check(
        &call->ctx, &call->req, &call->resp, [call, done](grpc::Status s) {
          bool ok = s.ok() && call->resp.status() ==
                                  grpc::health::v1::HealthCheckResponse::SERVING;
          delete call;
          done(ok);
        });
  });
}

Result RunAuthorize(Clients& c, int slots, int channels, absl::Duration measure,
                    const std::vector<arbiter::v1::AuthorizeRequest>& requests) {
  LoadRun run;
  std::atomic<uint64_t> next{0};
  return run.Run(slots, absl::Milliseconds(300), measure,
                 [&](int slot, std::function<void(bool)> done) {
    struct Call {
      grpc::ClientContext ctx;
      arbiter::v1::AuthorizeResponse resp;
    };
    auto* call = new Call;
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const auto& req = requests[next.fetch_add(1) % requests.size()];
    c.reader[slot % channels]->async()->Authorize(
        &call->ctx, &req, &call->resp, [call, done](grpc::Status s) {
          delete call;
          done(s.ok());
        });
  });
}

void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("sched_setaffinity");
}

int ReaderPid(const std::string& data_dir) {
  // The reader's registration file holds its pid.
  std::string path = data_dir + "/readers/reader-0.json";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  char buf[4096];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = 0;
  std::string s(buf);
  size_t p = s.find("\"pid\"");
  if (p == std::string::npos) return 0;
  p = s.find_first_of("0123456789", p);
  int pid = 0;
  (void)absl::SimpleAtoi(s.substr(p, s.find_first_not_of("0123456789", p) - p), &pid);
  return pid;
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  auto cluster = Cluster::Start({.readers = 1});
  Check(cluster.status(), "starting the cluster");
  Cluster& c = **cluster;
  Check(c.CreateTenant("bench").status(), "CreateTenant");
  std::string policy;
  {
    FILE* f = std::fopen(ARBITER_SOURCE_DIR "/tests/data/policies/github.polar", "r");
    char buf[65536];
    size_t n = std::fread(buf, 1, sizeof(buf), f);
    std::fclose(f);
    policy.assign(buf, n);
  }
  Check(c.SetPolicy("bench", policy).status(), "SetPolicy");

  // GitHub-like data: 100 orgs, 2,000 repos, 5,000 users; org roles, repo
  // roles, 10% public repos. ~17k facts.
  constexpr int kOrgs = 100, kRepos = 2000, kUsers = 5000;
  std::mt19937 rng(7);
  std::vector<arbiter::v1::WriteRequest> batches(1);
  auto add = [&](std::vector<std::pair<std::string, std::string>> args,
                 const char* pred) {
    if (batches.back().operations_size() == 1000) batches.emplace_back();
    auto* f = batches.back().add_operations()->mutable_insert();
    f->set_predicate(pred);
    for (auto& [t, i] : args) {
      auto* v = f->add_args();
      v->set_type(t);
      v->set_id(i);
    }
  };
  for (int r = 0; r < kRepos; ++r) {
    add({{"Repository", absl::StrCat("repo", r)}, {"String", "parent"},
         {"Organization", absl::StrCat("org", r % kOrgs)}}, "has_relation");
    if (r % 10 == 0) add({{"Repository", absl::StrCat("repo", r)}}, "is_public");
  }
  for (int u = 0; u < kUsers; ++u) {
    add({{"User", absl::StrCat("user", u)}, {"String", u % 20 == 0 ? "admin" : "member"},
         {"Organization", absl::StrCat("org", u % kOrgs)}}, "has_role");
    add({{"User", absl::StrCat("user", u)}, {"String", "maintainer"},
         {"Repository", absl::StrCat("repo", rng() % kRepos)}}, "has_role");
  }
  uint64_t last = 0;
  for (auto& b : batches) {
    b.set_tenant("bench");
    auto o = c.Write(b);
    Check(o.status(), "Write");
    last = *o;
  }
  Check(c.WaitForWriter(arbiter::v1::REPLICATION_STATE_LIVE, last).status(), "writer LIVE");
  auto probe = arbiter::testing::LocalChannel(c.reader_port(0));
  Check(arbiter::testing::WaitForHealth(probe.get(), arbiter::testing::Health::kServing,
                                        absl::Seconds(30)),
        "reader SERVING");
  absl::SleepFor(absl::Milliseconds(200));  // the index holds `last`

  const int pid = ReaderPid(c.host_data_dir());
  if (pid > 0) {
    std::string cmd = absl::StrCat("taskset -a -cp ", flags.server_cpu, " ", pid,
                                   " > /dev/null");
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "taskset failed\n");
  }
  Pin(flags.client_cpu);

  Clients clients;
  for (int i = 0; i < flags.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("bench.channel", i);  // distinct channels, not one shared subchannel
    auto ch = arbiter::auth::CreateKeyedChannel(absl::StrCat("127.0.0.1:", c.reader_port(0)),
                                                arbiter::testing::kTestKey,
                                                grpc::InsecureChannelCredentials(), args);
    clients.reader.push_back(arbiter::v1::ReaderService::NewStub(ch));
    clients.health.push_back(grpc::health::v1::Health::NewStub(ch));
  }
  std::vector<arbiter::v1::AuthorizeRequest> requests;
  for (int i = 0; i < 4096; ++i) {
    arbiter::v1::AuthorizeRequest r;
    r.set_tenant("bench");
    r.mutable_actor()->set_type("User");
    r.mutable_actor()->set_id(absl::StrCat("user", rng() % kUsers));
    r.set_action(i % 2 ? "read" : "push");
    r.mutable_resource()->set_type("Repository");
    r.mutable_resource()->set_id(absl::StrCat("repo", rng() % kRepos));
    requests.push_back(std::move(r));
  }
  // Sanity: answers, and some allow.
  {
    grpc::ClientContext ctx;
    arbiter::v1::AuthorizeResponse resp;
    grpc::Status s = clients.reader[0]->Authorize(&ctx, requests[0], &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "Authorize: %s\n", s.error_message().c_str());
      return 1;
    }
  }

  const absl::Duration measure = absl::Seconds(flags.seconds);
  const int slots = flags.channels * flags.depth;
  std::vector<Result> h_peak, a_peak, h_one, a_one;
  std::printf("reader_bench: %d rounds x %.1fs, %d channels x %d in flight, server cpu %d, "
              "client cpu %d\n",
              flags.rounds, flags.seconds, flags.channels, flags.depth, flags.server_cpu,
              flags.client_cpu);
  auto print = [](const char* what, int round, const Result& r) {
    std::printf("  round %d %-22s %9.0f qps  p50 %7.1f us  p99 %7.1f us  p999 %7.1f us%s\n",
                round, what, r.qps, r.p50_us, r.p99_us, r.p999_us,
                r.errors ? absl::StrCat("  errors ", r.errors).c_str() : "");
  };
  for (int round = 0; round < flags.rounds; ++round) {
    // Alternate which goes first, so drift hits both equally.
    if (round % 2 == 0) {
      h_peak.push_back(RunHealth(clients, slots, flags.channels, measure));
      a_peak.push_back(RunAuthorize(clients, slots, flags.channels, measure, requests));
    } else {
      a_peak.push_back(RunAuthorize(clients, slots, flags.channels, measure, requests));
      h_peak.push_back(RunHealth(clients, slots, flags.channels, measure));
    }
    print("health Check (peak)", round, h_peak.back());
    print("Authorize (peak)", round, a_peak.back());
    h_one.push_back(RunHealth(clients, 1, 1, measure / 2));
    a_one.push_back(RunAuthorize(clients, 1, 1, measure / 2, requests));
    print("health Check (1)", round, h_one.back());
    print("Authorize (1)", round, a_one.back());
  }
  auto median = [](std::vector<Result> v, double Result::*field) {
    std::sort(v.begin(), v.end(),
              [&](const Result& a, const Result& b) { return a.*field < b.*field; });
    return v[v.size() / 2].*field;
  };
  std::vector<double> ratios, lat_ratios;
  for (size_t i = 0; i < a_peak.size(); ++i) {
    ratios.push_back(a_peak[i].qps / h_peak[i].qps);
    lat_ratios.push_back(a_one[i].p50_us / h_one[i].p50_us);
  }
  std::sort(ratios.begin(), ratios.end());
  std::sort(lat_ratios.begin(), lat_ratios.end());
  std::printf("\nmedians over %d rounds:\n", flags.rounds);
  std::printf("  health Check peak   %9.0f qps  p50 %7.1f us  p99 %7.1f us  p999 %7.1f us\n",
              median(h_peak, &Result::qps), median(h_peak, &Result::p50_us),
              median(h_peak, &Result::p99_us), median(h_peak, &Result::p999_us));
  std::printf("  Authorize peak      %9.0f qps  p50 %7.1f us  p99 %7.1f us  p999 %7.1f us\n",
              median(a_peak, &Result::qps), median(a_peak, &Result::p50_us),
              median(a_peak, &Result::p99_us), median(a_peak, &Result::p999_us));
  std::printf("  health Check 1      %9.0f qps  p50 %7.1f us  p99 %7.1f us\n",
              median(h_one, &Result::qps), median(h_one, &Result::p50_us),
              median(h_one, &Result::p99_us));
  std::printf("  Authorize 1         %9.0f qps  p50 %7.1f us  p99 %7.1f us\n",
              median(a_one, &Result::qps), median(a_one, &Result::p50_us),
              median(a_one, &Result::p99_us));
  std::printf("  Authorize/Check QPS ratio (median of per-round ratios): %.3f (target >= 0.80)\n",
              ratios[ratios.size() / 2]);
  std::printf("  Authorize/Check p50 at 1 in flight: %.3f (target <= 1.2)\n",
              lat_ratios[lat_ratios.size() / 2]);
  return 0;
}
