// scale_bench: Arbiter at N facts, as real processes on 127.0.0.1 (one
// arbiter-log, host A = a writer and two readers, later host B = a writer on
// an empty data directory and one reader). For each N in --sizes, one fresh
// log and hosts, a GitHub-like tenant "big" (tests/data/policies/github.polar)
// and a small tenant "small", then the phases (--phases; see README.md):
//
//   load           N facts in Writes of --batch from --loaders threads into
//                  "big": acked facts/s; the writer's apply rate and average
//                  facts per transaction, from polling host A's control.db
//                  read-only (every ~1 ms)
//   small          during the load (DESIGN.md §9.6): ~--small_write_rate
//                  one-fact Writes/s to "small" and --small_readers threads
//                  reading it on both readers back to back; failed share
//   index          bytes of big's named base+delta index files / N
//   ceiling        (DESIGN.md §9.11) a copy of host A's big database (SQLite
//                  backup API); min(N, --ceiling_facts) new facts inserted
//                  with TenantDb::InsertFact + SetAppliedOffset in
//                  transactions of the writer's average batch; facts/s
//   fsync          4 KiB append + fdatasync loop on the run's disk
//   memory         RSS and PSS of host A's processes; idle CPU of the readers
//   fresh_host     snapshot covering the load, then host B: start -> SERVING
//   second_reader  a third reader on host A: start -> SERVING
//   steady         --clients threads, --write_rate one-fact Writes/s to "big"
//                  (open loop), readers loaded at --read_load of their peak:
//                  write -> visible on both readers, commit -> reader view
//   token          Write then Authorize at_least(token) on host B's reader
//   qps            Authorize vs health Check QPS, closed loop, host A reader
//
// Prints one line per phase as it goes, then a Markdown table (one row per N)
// and a "ratios" line per N.

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/auth/client.h"
#include "common/base/value.h"
#include "common/host/data_dir.h"
#include "common/replica/replica_dir.h"
#include "common/storage/control_db.h"
#include "common/storage/sqlite.h"
#include "common/storage/tenant_db.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/host.h"
#include "tests/testing/keys.h"

ABSL_FLAG(std::vector<std::string>, sizes,
          std::vector<std::string>({"100000", "1000000", "10000000"}),
          "facts in tenant big per run, comma-separated");
ABSL_FLAG(std::vector<std::string>, phases, std::vector<std::string>({"all"}),
          "phases to run besides load (always run): small, index, ceiling, fsync, memory, "
          "fresh_host, second_reader, steady, token, qps; or all");
ABSL_FLAG(int, loaders, 8, "concurrent loaders");
ABSL_FLAG(int, batch, 1000, "facts per Write while loading (1..1000)");
ABSL_FLAG(double, small_write_rate, 20, "one-fact Writes/s to tenant small during the load");
ABSL_FLAG(int, small_readers, 2, "threads reading tenant small during the load");
ABSL_FLAG(int64_t, ceiling_facts, 100000, "facts inserted by the ceiling: min(N, this)");
ABSL_FLAG(int, ceiling_batch, 0,
          "facts per ceiling transaction; 0: the writer's average from the load");
ABSL_FLAG(absl::Duration, index_wait, absl::Minutes(2),
          "how long to wait for big's index files to cover the load");
ABSL_FLAG(absl::Duration, snapshot_wait, absl::Seconds(20),
          "how long to wait for a snapshot covering the load before cutting one by "
          "restarting the log with --snapshot_every_entries=1");
ABSL_FLAG(double, idle_seconds, 10, "seconds of no traffic to measure readers' idle CPU");
ABSL_FLAG(double, fsync_seconds, 2, "seconds of the 4 KiB write + fdatasync loop");
ABSL_FLAG(int, clients, 8, "steady state: writing threads");
ABSL_FLAG(double, write_rate, 1000, "steady state: one-fact Writes/s in total");
ABSL_FLAG(double, steady_seconds, 20, "steady state: seconds of writes");
ABSL_FLAG(double, peak_seconds, 2, "steady state: seconds to measure each reader's peak");
ABSL_FLAG(double, read_load, 0.5, "steady state: read rate as a fraction of the peak");
ABSL_FLAG(int, token_iterations, 200, "Write then token-bound read on host B, sequentially");
ABSL_FLAG(int, qps_rounds, 3, "interleaved rounds of health Check and Authorize");
ABSL_FLAG(double, qps_seconds, 2, "seconds per QPS measurement");
ABSL_FLAG(int, qps_channels, 4, "QPS: client channels");
ABSL_FLAG(int, qps_depth, 16, "QPS: RPCs in flight per channel");
ABSL_FLAG(int, log_cpu, 0, "CPU for arbiter-log (-1: not pinned)");
ABSL_FLAG(int, host_cpu, 1, "CPU for every host process (-1: not pinned)");
ABSL_FLAG(int, client_cpu, -1, "CPU for this load generator (-1: not pinned)");
ABSL_FLAG(std::vector<std::string>, log_flags, {},
          "extra arbiter-log flags, comma-separated (e.g. --snapshot_every_facts=50000)");
ABSL_FLAG(std::string, dir, "",
          "parent of the run's temporary directory (default $TMPDIR or /tmp)");
ABSL_FLAG(bool, keep, false, "keep the run's directory (data and process logs)");

namespace {

using arbiter::testing::Cluster;
using arbiter::testing::DeadlineIn;
using arbiter::testing::Host;
namespace v1 = arbiter::v1;
namespace storage = arbiter::storage;
using HealthStub = grpc::health::v1::Health;

constexpr char kBig[] = "big";
constexpr char kSmall[] = "small";
constexpr int64_t kSmallFacts = 2000;
constexpr uint64_t kSeed = 42;

// ---------------------------------------------------------------- run state

struct Flags {
  std::vector<int64_t> sizes;
  std::set<std::string> phases;
  int loaders, batch, small_readers, ceiling_batch, clients, token_iterations;
  int qps_rounds, qps_channels, qps_depth, log_cpu, host_cpu, client_cpu;
  double small_write_rate, idle_seconds, fsync_seconds, write_rate, steady_seconds;
  double peak_seconds, read_load, qps_seconds;
  int64_t ceiling_facts;
  absl::Duration index_wait, snapshot_wait;
  std::vector<std::string> log_flags;
  bool keep;

  bool Has(const std::string& phase) const { return phases.contains(phase); }
};

// Everything that must be cleaned up however the run ends.
struct Run {
  std::string dir;
  bool keep = false;
  absl::Mutex mu;
  std::unique_ptr<Cluster> cluster ABSL_GUARDED_BY(mu);
  std::unique_ptr<Host> host_a ABSL_GUARDED_BY(mu);
  std::unique_ptr<Host> host_b ABSL_GUARDED_BY(mu);
};
Run g_run;

// SIGKILLs every process (hosts first, the log last); the cluster removes
// its directory unless --keep.
void StopProcesses() {
  absl::MutexLock l(&g_run.mu);
  g_run.host_b.reset();
  g_run.host_a.reset();
  g_run.cluster.reset();
}

void RemoveRunDir() {
  if (g_run.dir.empty()) return;
  if (g_run.keep) {
    std::printf("kept %s\n", g_run.dir.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(g_run.dir, ec);
}

// SIGKILLs every child process of this one (the log, writers, readers):
// callable from any thread, and with other threads still using them.
void KillChildren() {
  const pid_t self = getpid();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) || pid == self) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    std::string state;
    pid_t ppid = 0;
    if (fields >> state >> ppid && ppid == self) ::kill(pid, SIGKILL);
  }
}

// Ends the run from any thread: children killed, the directory removed
// (unless --keep), exit 1.
[[noreturn]] void Fail(const std::string& what) {
  static std::atomic<bool> failing{false};
  if (failing.exchange(true)) {
    while (true) absl::SleepFor(absl::Seconds(1));  // another thread is ending the run
  }
  std::fprintf(stderr, "scale_bench: %s\n", what.c_str());
  std::fflush(stderr);
  KillChildren();
  if (!g_run.keep) std::fprintf(stderr, "(run with --keep to keep the process logs)\n");
  absl::SleepFor(absl::Milliseconds(100));  // let the kills land before removing files
  RemoveRunDir();
  std::_Exit(1);
}

// SIGINT / SIGTERM (blocked in every thread, taken here): end the run
// without leaving processes behind.
void StartSignalThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    Fail(absl::StrCat("interrupted by signal ", sig));
  }).detach();
}

void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Fail(absl::StrCat(what, ": ", s.ToString()));
}

void Check(const grpc::Status& s, const std::string& what) {
  if (!s.ok()) Fail(absl::StrCat(what, ": ", static_cast<int>(s.error_code()), " ", s.error_message()));
}

// Pins the calling thread (threads it creates later inherit it); -1: every CPU.
void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0) {
    const int n = static_cast<int>(std::thread::hardware_concurrency());
    for (int i = 0; i < n && i < CPU_SETSIZE; ++i) CPU_SET(i, &set);
  } else {
    CPU_SET(cpu, &set);
  }
  if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("sched_setaffinity");
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

std::string Human(int64_t n) {
  if (n % 1000000 == 0) return absl::StrCat(n / 1000000, "M");
  if (n % 1000 == 0) return absl::StrCat(n / 1000, "k");
  return absl::StrCat(n);
}

// A number for the table; "–" when not measured.
std::string F(double v, int decimals = 2) {
  if (std::isnan(v)) return "–";
  return absl::StrFormat("%.*f", decimals, v);
}

std::string ReadFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream in(path);
  if (!in) return fallback;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ------------------------------------------------------------------- data

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

arbiter::Value V(const char* type, const char* prefix, int64_t i) {
  return arbiter::Value{type, absl::StrCat(prefix, i)};
}
arbiter::Value S(const char* s) { return arbiter::Value{"String", s}; }

// A GitHub-like tenant of n facts, streamed: fact k is a pure function of k,
// and facts are unique. Per block of 100 facts: 32 has_relation(Repository,
// "parent", Organization), 1 is_public(Repository), 13 has_role(User,
// member|admin, Organization), 50 has_role(User, reader|maintainer,
// Repository), 2 has_group(User, Group), 2 has_role(Group, ..., Repository).
// 32 repositories and 4 users per block, 100 repositories per organization,
// 20 users per group. Facts k >= n (up to 2n) are new facts of the same shape.
class Shape {
 public:
  explicit Shape(int64_t n)
      : n_(n),
        blocks_((n + 99) / 100),
        repos_(32 * blocks_),
        users_(4 * blocks_),
        orgs_(std::max<int64_t>(10, repos_ / 100)),
        groups_(std::max<int64_t>(5, users_ / 20)) {}

  int64_t n() const { return n_; }
  int64_t repos() const { return repos_; }

  arbiter::Fact At(int64_t k) const {
    const int64_t b = k / 100, s = k % 100;
    const uint64_t h = Mix(kSeed ^ static_cast<uint64_t>(k));
    if (s < 32) {
      const int64_t i = b * 32 + s;
      return {"has_relation",
              {V("Repository", "repo", i), S("parent"),
               V("Organization", "org", static_cast<int64_t>(h % orgs_))}};
    }
    if (s < 33) return {"is_public", {V("Repository", "repo", b * 32 + 5)}};
    if (s < 46) {
      const int64_t i = b * 13 + (s - 33), u = i % users_, j = i / users_;
      return {"has_role",
              {V("User", "user", u), S((u + j) % 10 == 0 ? "admin" : "member"),
               V("Organization", "org", (u * 7 + j) % orgs_)}};
    }
    if (s < 96) {
      const int64_t i = b * 50 + (s - 46);
      return {"has_role", {V("User", "user", i % users_),
                           S(h % 3 == 0 ? "maintainer" : "reader"),
                           V("Repository", "repo", RepoOfRole(i))}};
    }
    if (s < 98) {
      const int64_t i = b * 2 + (s - 96);
      return {"has_group",
              {V("User", "user", i * 2), V("Group", "group", static_cast<int64_t>(h % groups_))}};
    }
    const int64_t i = b * 2 + (s - 98), g = i % groups_, j = i / groups_;
    return {"has_role", {V("Group", "group", g), S(h % 2 ? "maintainer" : "reader"),
                         V("Repository", "repo", (g * 104729 + j) % repos_)}};
  }

  // Half the queries ask about a (user, repository) pair with a role fact,
  // half about a random pair; actions read and push.
  std::vector<v1::AuthorizeRequest> Queries(const std::string& tenant, int count,
                                            uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::vector<v1::AuthorizeRequest> out;
    for (int q = 0; q < count; ++q) {
      int64_t user, repo;
      if (q % 2 == 0) {
        const int64_t i = static_cast<int64_t>(rng() % static_cast<uint64_t>(50 * blocks_));
        user = i % users_;
        repo = RepoOfRole(i);
      } else {
        user = static_cast<int64_t>(rng() % static_cast<uint64_t>(users_));
        repo = static_cast<int64_t>(rng() % static_cast<uint64_t>(repos_));
      }
      v1::AuthorizeRequest r;
      r.set_tenant(tenant);
      r.mutable_actor()->set_type("User");
      r.mutable_actor()->set_id(absl::StrCat("user", user));
      r.set_action(rng() % 2 ? "read" : "push");
      r.mutable_resource()->set_type("Repository");
      r.mutable_resource()->set_id(absl::StrCat("repo", repo));
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  int64_t RepoOfRole(int64_t i) const {
    const int64_t u = i % users_, j = i / users_;
    return (u * 7919 + j) % repos_;
  }

  int64_t n_, blocks_, repos_, users_, orgs_, groups_;
};

void AddInsert(v1::WriteRequest& req, const arbiter::Fact& f) {
  v1::Fact* pf = req.add_operations()->mutable_insert();
  pf->set_predicate(f.predicate);
  for (const auto& a : f.args) {
    v1::Value* v = pf->add_args();
    v->set_type(a.type);
    v->set_id(a.id);
  }
}

// A one-fact write of a new has_role(User <prefix><k>, "reader", Repository).
v1::WriteRequest OneFact(const std::string& tenant, const std::string& user, int64_t repo) {
  v1::WriteRequest req;
  req.set_tenant(tenant);
  AddInsert(req, {"has_role", {arbiter::Value{"User", user}, S("reader"),
                               V("Repository", "repo", repo)}});
  return req;
}

// -------------------------------------------------------------- rpc helpers

// Log Write with a deadline: the response, or the failed status.
grpc::Status Write(Cluster& c, const v1::WriteRequest& req, v1::WriteResponse* resp,
                   absl::Duration timeout = absl::Seconds(30)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(timeout));
  return c.log().Write(&ctx, req, resp);
}

std::shared_ptr<grpc::Channel> Channel(int port, int index) {
  grpc::ChannelArguments args;
  args.SetInt("bench.channel", index);  // distinct channels, not one shared subchannel
  return arbiter::auth::CreateKeyedChannel(absl::StrCat("127.0.0.1:", port),
                                           arbiter::testing::kTestKey,
                                           grpc::InsecureChannelCredentials(), args);
}

// Polls health every 2 ms until SERVING; returns when it was seen.
absl::Time WaitServing(int port, absl::Duration timeout, const std::string& what) {
  auto ch = arbiter::testing::LocalChannel(port);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (arbiter::testing::CheckHealth(ch.get(), "", absl::Milliseconds(500)) ==
        arbiter::testing::Health::kServing) {
      return absl::Now();
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  Fail(absl::StrCat(what, ": not SERVING after ", absl::FormatDuration(timeout)));
}

storage::ControlState ReadControl(const std::string& data_dir) {
  auto db = storage::ControlDb::Open(arbiter::host::DataDir(data_dir).ControlDbPath(),
                                     {.read_only = true});
  Check(db.status(), "opening control.db read-only");
  auto st = (*db)->Read();
  Check(st.status(), "reading control.db");
  return *st;
}

const storage::TenantEntry* FindTenant(const storage::ControlState& s, const std::string& name) {
  for (const auto& t : s.tenants) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Reads host A's control.db read-only every `interval` and records each
// change of big's applied/complete offsets and small's complete offset.
// The time of a sample is taken just before its read transaction.
class ControlPoller {
 public:
  struct Sample {
    absl::Time t;
    int64_t big_applied = 0, big_complete = 0, small_complete = 0;
  };

  ControlPoller(std::string data_dir, absl::Duration interval)
      : path_(arbiter::host::DataDir(data_dir).ControlDbPath()), interval_(interval) {}
  ~ControlPoller() {
    if (thread_.joinable()) (void)Stop();
  }

  void Start() {
    auto db = storage::ControlDb::Open(path_, {.read_only = true});
    Check(db.status(), "poller: opening control.db");
    db_ = std::move(*db);
    samples_.reserve(1 << 16);
    thread_ = std::thread([this] { Loop(); });
  }

  std::vector<Sample> Stop() {
    stop_.store(true);
    thread_.join();
    return std::move(samples_);
  }
  int64_t errors() const { return errors_; }

 private:
  void Loop() {
    bool have = false;
    Sample last;
    while (!stop_.load(std::memory_order_relaxed)) {
      const absl::Time t = absl::Now();
      auto st = db_->Read();
      if (st.ok()) {
        Sample s{t};
        for (const auto& e : st->tenants) {
          if (e.name == kBig) {
            s.big_applied = e.applied_offset;
            s.big_complete = storage::TenantComplete(*st, e);
          } else if (e.name == kSmall) {
            s.small_complete = storage::TenantComplete(*st, e);
          }
        }
        if (!have || s.big_applied != last.big_applied || s.big_complete != last.big_complete ||
            s.small_complete != last.small_complete) {
          samples_.push_back(s);
          last = s;
          have = true;
        }
      } else {
        ++errors_;
      }
      absl::SleepFor(interval_);
    }
  }

  const std::string path_;
  const absl::Duration interval_;
  std::unique_ptr<storage::ControlDb> db_;
  std::vector<Sample> samples_;
  std::atomic<bool> stop_{false};
  int64_t errors_ = 0;
  std::thread thread_;
};

// ---------------------------------------------------------- load generators

// One closed loop per in-flight slot (callback API): each completion issues
// the next call. `issue(slot, done)` starts one RPC and calls done(ok).
class ClosedLoop {
 public:
  using Issue = std::function<void(int slot, std::function<void(bool)> done)>;
  struct Result {
    double qps = 0;
    int64_t errors = 0;
  };

  Result Run(int slots, absl::Duration warmup, absl::Duration measure, Issue issue) {
    issue_ = std::move(issue);
    start_measure_ = absl::Now() + warmup;
    end_ = start_measure_ + measure;
    remaining_.store(slots);
    for (int s = 0; s < slots; ++s) Next(s);
    done_.WaitForNotification();
    return {static_cast<double>(completed_.load()) / absl::ToDoubleSeconds(measure),
            errors_.load()};
  }

 private:
  void Next(int slot) {
    const absl::Time t0 = absl::Now();
    if (t0 >= end_) {
      if (remaining_.fetch_sub(1) == 1) done_.Notify();
      return;
    }
    issue_(slot, [this, slot, t0](bool ok) {
      if (!ok) errors_.fetch_add(1);
      if (t0 >= start_measure_ && absl::Now() <= end_) completed_.fetch_add(1);
      Next(slot);
    });
  }

  Issue issue_;
  absl::Time start_measure_, end_;
  std::atomic<int> remaining_{0};
  std::atomic<int64_t> completed_{0}, errors_{0};
  absl::Notification done_;
};

// Stubs over several channels to one server.
struct Clients {
  std::vector<std::unique_ptr<v1::ReaderService::Stub>> reader;
  std::vector<std::unique_ptr<HealthStub::Stub>> health;

  Clients(int port, int channels, int first_index) {
    for (int i = 0; i < channels; ++i) {
      auto ch = Channel(port, first_index + i);
      reader.push_back(v1::ReaderService::NewStub(ch));
      health.push_back(HealthStub::NewStub(ch));
    }
  }
};

ClosedLoop::Result PeakAuthorize(Clients& c, int depth, absl::Duration measure,
                                 const std::vector<v1::AuthorizeRequest>& requests) {
  ClosedLoop run;
  std::atomic<uint64_t> next{0};
  const int channels = static_cast<int>(c.reader.size());
  return run.Run(channels * depth, absl::Milliseconds(300), measure,
                 [&](int slot, std::function<void(bool)> done) {
                   struct Call {
                     grpc::ClientContext ctx;
                     v1::AuthorizeResponse resp;
                   };
                   auto* call = new Call;
                   call->ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
                   const auto& req = requests[next.fetch_add(1) % requests.size()];
                   c.reader[slot % channels]->async()->Authorize(
                       &call->ctx, &req, &call->resp, [call, done](grpc::Status s) {
                         delete call;
                         done(s.ok());
                       });
                 });
}

ClosedLoop::Result PeakHealth(Clients& c, int depth, absl::Duration measure) {
  ClosedLoop run;
  const int channels = static_cast<int>(c.health.size());
  return run.Run(channels * depth, absl::Milliseconds(300), measure,
                 [&](int slot, std::function<void(bool)> done) {
                   struct Call {
                     grpc::ClientContext ctx;
                     grpc::health::v1::HealthCheckRequest req;
                     grpc::health::v1::HealthCheckResponse resp;
                   };
                   auto* call = new Call;
                   call->ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
                   c.health[slot % channels]->async()->Check(
                       &call->ctx, &call->req, &call->resp, [call, done](grpc::Status s) {
                         const bool ok = s.ok() && call->resp.status() ==
                                                       grpc::health::v1::HealthCheckResponse::SERVING;
                         delete call;
                         done(ok);
                       });
                 });
}

// An answer: when it arrived and the offset it was evaluated at.
struct Answer {
  absl::Time t;
  int64_t offset;
};

// Open loop: a thread issues async calls on a schedule (slot i due at
// start + i * period; everything due is issued at each wake-up), at most
// kMaxInFlight at once (a slot over it is counted as not issued), until
// `end` or Stop(). Join() waits for the calls in flight.
class Paced {
 public:
  Paced(absl::Time start, absl::Duration period, absl::Time end)
      : start_(start), period_(period), end_(end) {}
  virtual ~Paced() = default;

  void Start() { thread_ = std::thread([this] { Loop(); }); }
  void Stop() { stop_.store(true); }
  void Join() { thread_.join(); }
  int64_t skipped() const { return skipped_; }

 protected:
  static constexpr int kMaxInFlight = 256;
  // Starts call `slot`; the callback must end with Done().
  virtual void Issue(int64_t slot) = 0;
  void Done() {
    absl::MutexLock l(&mu_);
    --in_flight_;
  }
  absl::Mutex mu_;

 private:
  void Loop() {
    int64_t i = 0;
    while (!stop_.load()) {
      const absl::Time now = absl::Now();
      const absl::Time due = start_ + period_ * i;
      if (due >= end_) break;
      if (due > now) {
        absl::SleepFor(due - now);
        continue;
      }
      for (; start_ + period_ * i <= now && start_ + period_ * i < end_; ++i) {
        {
          absl::MutexLock l(&mu_);
          if (in_flight_ >= kMaxInFlight) {
            ++skipped_;
            continue;
          }
          ++in_flight_;
        }
        Issue(i);
      }
    }
    absl::MutexLock l(&mu_);
    auto idle = [this] {
      mu_.AssertReaderHeld();
      return in_flight_ == 0;
    };
    mu_.Await(absl::Condition(&idle));
  }

  const absl::Time start_;
  const absl::Duration period_;
  const absl::Time end_;
  std::atomic<bool> stop_{false};
  int64_t skipped_ = 0;  // the issuing thread only
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

// Async Authorize at `rate`/s until Stop(), recording every answer.
class PacedReads : public Paced {
 public:
  PacedReads(v1::ReaderService::Stub* stub, const std::vector<v1::AuthorizeRequest>* requests,
             double rate, absl::Time start, uint64_t first)
      : Paced(start, absl::Seconds(1) / rate, absl::InfiniteFuture()),
        stub_(stub),
        requests_(requests),
        first_(first) {}

  std::vector<Answer> TakeAnswers() {
    absl::MutexLock l(&mu_);
    return std::move(answers_);
  }
  int64_t ok() {
    absl::MutexLock l(&mu_);
    return ok_;
  }
  int64_t failed() {
    absl::MutexLock l(&mu_);
    return failed_;
  }
  std::string first_error() {
    absl::MutexLock l(&mu_);
    return first_error_;
  }
  // The highest offset answered so far.
  int64_t newest() const { return newest_.load(); }

 private:
  void Issue(int64_t slot) override {
    struct Call {
      grpc::ClientContext ctx;
      v1::AuthorizeResponse resp;
    };
    auto* call = new Call;
    call->ctx.set_deadline(DeadlineIn(absl::Seconds(2)));
    const auto& req = (*requests_)[(first_ + static_cast<uint64_t>(slot)) % requests_->size()];
    stub_->async()->Authorize(&call->ctx, &req, &call->resp, [this, call](grpc::Status s) {
      const absl::Time t = absl::Now();
      {
        absl::MutexLock l(&mu_);
        if (s.ok()) {
          ++ok_;
          const auto offset = static_cast<int64_t>(call->resp.evaluation().offset());
          answers_.push_back({t, offset});
          if (offset > newest_.load()) newest_.store(offset);
        } else {
          ++failed_;
          if (first_error_.empty()) {
            first_error_ = absl::StrCat(static_cast<int>(s.error_code()), " ", s.error_message());
          }
        }
      }
      delete call;
      Done();
    });
  }

  v1::ReaderService::Stub* const stub_;
  const std::vector<v1::AuthorizeRequest>* const requests_;
  const uint64_t first_;
  std::atomic<int64_t> newest_{0};
  int64_t ok_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
};

// Async one-fact Writes of new has_role facts: writer `index` of `writers`
// owns every writers-th slot of a schedule of `rate`/s in total.
class PacedWrites : public Paced {
 public:
  struct Ack {
    int64_t offset;
    absl::Time acked;
    double ack_ms;
  };

  PacedWrites(v1::LogService::Stub* log, int index, int writers, double rate, int64_t repos,
              absl::Time start, absl::Time end)
      : Paced(start + absl::Seconds(1) / rate * index, absl::Seconds(1) / rate * writers, end),
        log_(log),
        index_(index),
        repos_(repos) {}

  std::vector<Ack> TakeAcks() {
    absl::MutexLock l(&mu_);
    return std::move(acks_);
  }
  int64_t errors() {
    absl::MutexLock l(&mu_);
    return errors_;
  }

 private:
  void Issue(int64_t slot) override {
    struct Call {
      grpc::ClientContext ctx;
      v1::WriteRequest req;
      v1::WriteResponse resp;
      absl::Time sent;
    };
    auto* call = new Call;
    call->req = OneFact(kBig, absl::StrCat("w", index_, "-", slot), (slot * 31 + index_) % repos_);
    call->ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
    call->sent = absl::Now();
    log_->async()->Write(&call->ctx, &call->req, &call->resp, [this, call](grpc::Status s) {
      const absl::Time t = absl::Now();
      {
        absl::MutexLock l(&mu_);
        if (s.ok()) {
          acks_.push_back({static_cast<int64_t>(call->resp.offset()), t, Ms(t - call->sent)});
        } else {
          ++errors_;
        }
      }
      delete call;
      Done();
    });
  }

  v1::LogService::Stub* const log_;
  const int index_;
  const int64_t repos_;
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Ack> acks_ ABSL_GUARDED_BY(mu_);
};

// Answers of one reader sorted by time, with the running maximum offset, so
// "the first answer at >= o" is a binary search.
class Visibility {
 public:
  explicit Visibility(std::vector<Answer> answers) : answers_(std::move(answers)) {
    std::sort(answers_.begin(), answers_.end(),
              [](const Answer& a, const Answer& b) { return a.t < b.t; });
    int64_t m = 0;
    for (Answer& a : answers_) {
      m = std::max(m, a.offset);
      a.offset = m;
    }
  }
  // The first time an answer at >= offset arrived; InfiniteFuture if none.
  absl::Time FirstAtLeast(int64_t offset) const {
    auto it = std::lower_bound(answers_.begin(), answers_.end(), offset,
                               [](const Answer& a, int64_t o) { return a.offset < o; });
    return it == answers_.end() ? absl::InfiniteFuture() : it->t;
  }
  size_t size() const { return answers_.size(); }
  int64_t max_offset() const { return answers_.empty() ? 0 : answers_.back().offset; }

 private:
  std::vector<Answer> answers_;
};

// One call in flight, back to back, on its own channel: answers that are
// not delayed by the paced load's queue (commit -> view is measured on
// these; their round trip bounds the error).
class Probe {
 public:
  Probe(int port, int channel_index, const std::vector<v1::AuthorizeRequest>* requests)
      : stub_(v1::ReaderService::NewStub(Channel(port, channel_index))), requests_(requests) {}
  void Start() {
    thread_ = std::thread([this] {
      for (uint64_t i = 0; !stop_.load(); ++i) {
        grpc::ClientContext ctx;
        ctx.set_deadline(DeadlineIn(absl::Seconds(2)));
        v1::AuthorizeResponse resp;
        const absl::Time sent = absl::Now();
        grpc::Status s = stub_->Authorize(&ctx, (*requests_)[i % requests_->size()], &resp);
        const absl::Time got = absl::Now();
        if (!s.ok()) continue;
        answers_.push_back({got, static_cast<int64_t>(resp.evaluation().offset())});
        rtt_ms_.push_back(absl::ToDoubleMilliseconds(got - sent));
      }
    });
  }
  // Stops and joins; the answers and round trips (ms) so far.
  std::vector<Answer> Stop(std::vector<double>* rtt_ms) {
    stop_.store(true);
    thread_.join();
    *rtt_ms = std::move(rtt_ms_);
    return std::move(answers_);
  }

 private:
  std::unique_ptr<v1::ReaderService::Stub> stub_;
  const std::vector<v1::AuthorizeRequest>* requests_;
  std::atomic<bool> stop_{false};
  std::vector<Answer> answers_;  // the probe thread only, until Stop
  std::vector<double> rtt_ms_;
  std::thread thread_;
};

// ------------------------------------------------------------- /proc data

struct Mem {
  double rss_mib = NAN, pss_mib = NAN;
};

Mem ReadMem(pid_t pid) {
  Mem m;
  std::ifstream in(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  std::string key;
  int64_t kb = 0;
  std::string unit;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    if (!(ls >> key >> kb)) continue;
    if (key == "Rss:") m.rss_mib = kb / 1024.0;
    if (key == "Pss:") m.pss_mib = kb / 1024.0;
  }
  return m;
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  const std::string stat = ReadFileOr(absl::StrCat("/proc/", pid, "/stat"), "");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return NAN;
  std::istringstream in(stat.substr(paren + 2));
  std::vector<std::string> fields;
  std::string f;
  while (in >> f) fields.push_back(f);
  // Fields after the command: state is field 3, utime 14, stime 15.
  if (fields.size() < 13) return NAN;
  int64_t utime = 0, stime = 0;
  if (!absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) return NAN;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

pid_t Pid(arbiter::testing::Process* p) { return p != nullptr ? p->pid() : -1; }

// ---------------------------------------------------------------- results

struct Result {
  int64_t n = 0;
  // load
  double load_s = NAN, load_rate = NAN, apply_rate = NAN, apply_batch = NAN;
  int64_t commits = 0;
  uint64_t last_load_offset = 0;
  // small
  int64_t small_reads = 0, small_failed = 0, small_writes = 0, small_write_errors = 0;
  double small_read_p99_ms = NAN, small_max_staleness_ms = NAN;
  std::string small_first_error;
  // index
  double index_bytes = NAN, index_bpf = NAN;
  // ceiling
  double ceiling_rate = NAN;
  int ceiling_batch = 0;
  bool ceiling_batch_observed = false;
  // fsync
  double fsync_p50 = NAN, fsync_p99 = NAN;
  // memory
  Mem writer_mem, reader_mem[2];
  double pss_sum = NAN, idle_cpu_pct = NAN;
  // fresh host, second reader
  double fresh_host_s = NAN, second_reader_s = NAN;
  uint64_t snapshot_offset = 0;
  bool snapshot_forced = false;
  // steady
  double wv_p50 = NAN, wv_p99 = NAN, cv_p50 = NAN, cv_p99 = NAN;
  double steady_write_rate = NAN, steady_read_qps = NAN, steady_failed_share = NAN;
  int64_t steady_reads = 0, steady_failed = 0, steady_unseen = 0;
  std::string steady_first_error;
  // token
  double token_p50 = NAN, token_p99 = NAN;
  int64_t token_failed = 0;
  // qps
  double qps_ratio = NAN, check_qps = NAN, authorize_qps = NAN;
};

// ----------------------------------------------------------------- phases

class SizeRun {
 public:
  SizeRun(const Flags& flags, int64_t n)
      : flags_(flags),
        shape_(n),
        small_shape_(kSmallFacts),
        tag_(absl::StrCat("[", Human(n), "]")) {
    r_.n = n;
    big_queries_ = shape_.Queries(kBig, 4096, 7);
    small_queries_ = small_shape_.Queries(kSmall, 1024, 8);
  }

  Result Go() {
    Setup();
    Load();
    if (flags_.Has("index") || flags_.Has("memory")) WaitForIndex();
    if (flags_.Has("ceiling")) Ceiling();
    if (flags_.Has("fsync")) Fsync();
    if (flags_.Has("memory")) Memory();
    if (flags_.Has("fresh_host") || flags_.Has("token")) FreshHost();
    if (flags_.Has("second_reader")) SecondReader();
    if (flags_.Has("steady")) Steady();
    if (flags_.Has("token")) Token();
    if (flags_.Has("qps")) Qps();
    return r_;
  }

 private:
  Cluster& c() { return *cluster_; }
  Host& a() { return *host_a_; }

  template <typename... Args>
  void Line(const absl::FormatSpec<Args...>& format, const Args&... args) {
    std::printf("%s %s\n", tag_.c_str(), absl::StrFormat(format, args...).c_str());
    std::fflush(stdout);
  }

  // The log, host A (writer + readers 0 and 1), both tenants with the
  // policy, "small" seeded, everything SERVING.
  void Setup() {
    auto cluster = Cluster::Start({.start_writer = false,
                                   .log_flags = flags_.log_flags,
                                   .log_cpu = flags_.log_cpu});
    Check(cluster.status(), "starting arbiter-log");
    {
      absl::MutexLock l(&g_run.mu);
      g_run.cluster = std::move(*cluster);
      cluster_ = g_run.cluster.get();
      g_run.host_a = std::make_unique<Host>(cluster_->dir() + "/hostA", cluster_->log_port(),
                                            arbiter::testing::HostOptions{.cpu = flags_.host_cpu});
      host_a_ = g_run.host_a.get();
    }
    Check(a().StartWriter(), "starting host A's writer");
    Check(a().StartReader(0), "starting host A's reader 0");
    Check(a().StartReader(1), "starting host A's reader 1");

    const std::string policy =
        ReadFileOr(ARBITER_SOURCE_DIR "/tests/data/policies/github.polar", "");
    if (policy.empty()) Fail("cannot read tests/data/policies/github.polar");
    for (const char* t : {kBig, kSmall}) {
      Check(c().CreateTenant(t).status(), absl::StrCat("CreateTenant ", t));
      Check(c().SetPolicy(t, policy).status(), absl::StrCat("SetPolicy ", t));
    }
    uint64_t last = 0;
    for (int64_t k = 0; k < kSmallFacts; k += 1000) {
      v1::WriteRequest req;
      req.set_tenant(kSmall);
      for (int64_t j = k; j < std::min(kSmallFacts, k + 1000); ++j) {
        AddInsert(req, small_shape_.At(j));
      }
      v1::WriteResponse resp;
      Check(Write(c(), req, &resp), "seeding tenant small");
      last = resp.offset();
    }
    Check(a().WaitForWriter(v1::REPLICATION_STATE_LIVE, last).status(), "host A LIVE");
    for (int i = 0; i < 2; ++i) {
      WaitServing(a().reader_port(i), absl::Seconds(60), absl::StrCat("host A reader ", i));
    }
    Line("setup: log (cpu %d), host A writer + 2 readers (cpu %d), tenants big and small "
         "(%d facts), offset %d",
         flags_.log_cpu, flags_.host_cpu, kSmallFacts, last);
  }

  // Phases 1 and 2: the bulk load of "big", and "small" during it.
  void Load() {
    const int64_t n = shape_.n();
    const storage::ControlState before = ReadControl(a().data_dir());
    const storage::TenantEntry* big = FindTenant(before, kBig);
    const int64_t baseline = big != nullptr ? big->applied_offset : 0;

    ControlPoller poller(a().data_dir(), absl::Milliseconds(1));
    poller.Start();

    // Tenant small: writes and reads while big loads and is applied.
    std::atomic<bool> stop_small{false};
    std::vector<std::thread> small_threads;
    absl::Mutex small_mu;
    std::vector<double> small_lat_ms;
    int64_t small_reads = 0, small_failed = 0, small_writes = 0, small_write_errors = 0;
    double max_staleness = 0;
    std::string first_error;
    const bool small = flags_.Has("small");
    if (small && flags_.small_write_rate > 0) {
      small_threads.emplace_back([&] {
        const absl::Duration period = absl::Seconds(1) / flags_.small_write_rate;
        const absl::Time start = absl::Now();
        for (int64_t i = 0; !stop_small.load(); ++i) {
          const absl::Time due = start + period * i;
          if (due > absl::Now()) absl::SleepFor(due - absl::Now());
          v1::WriteResponse resp;
          const bool ok =
              Write(c(), OneFact(kSmall, absl::StrCat("s", i), i % small_shape_.repos()), &resp,
                    absl::Seconds(5))
                  .ok();
          absl::MutexLock l(&small_mu);
          ++small_writes;
          if (!ok) ++small_write_errors;
        }
      });
    }
    if (small) {
      for (int t = 0; t < flags_.small_readers; ++t) {
        small_threads.emplace_back([&, t] {
          std::vector<double> lat;
          int64_t reads = 0, failed = 0;
          double staleness = 0;
          std::string error;
          for (uint64_t i = t; !stop_small.load(); ++i) {
            const int reader = static_cast<int>(i % 2);
            grpc::ClientContext ctx;
            ctx.set_deadline(DeadlineIn(absl::Seconds(2)));
            v1::AuthorizeRequest req = small_queries_[i % small_queries_.size()];
            req.mutable_consistency()->set_minimize_latency(true);
            v1::AuthorizeResponse resp;
            const absl::Time t0 = absl::Now();
            const grpc::Status s = a().reader(reader).Authorize(&ctx, req, &resp);
            lat.push_back(Ms(absl::Now() - t0));
            ++reads;
            if (!s.ok()) {
              ++failed;
              if (error.empty()) {
                error = absl::StrCat("reader ", reader, ": ", static_cast<int>(s.error_code()), " ",
                                     s.error_message());
              }
            } else {
              staleness = std::max(staleness,
                                   static_cast<double>(resp.evaluation().staleness_ms()));
            }
          }
          absl::MutexLock l(&small_mu);
          small_reads += reads;
          small_failed += failed;
          small_lat_ms.insert(small_lat_ms.end(), lat.begin(), lat.end());
          max_staleness = std::max(max_staleness, staleness);
          if (first_error.empty()) first_error = error;
        });
      }
    }

    // The load: Writes of --batch facts from --loaders threads.
    struct Ack {
      uint64_t offset;
      int64_t facts;
    };
    absl::Mutex ack_mu;
    std::vector<Ack> acks;
    std::atomic<int64_t> next{0};
    absl::Time last_ack = absl::InfinitePast();
    const absl::Time t0 = absl::Now();
    std::vector<std::thread> loaders;
    for (int t = 0; t < flags_.loaders; ++t) {
      loaders.emplace_back([&] {
        std::vector<Ack> mine;
        while (true) {
          const int64_t start = next.fetch_add(flags_.batch);
          if (start >= n) break;
          const int64_t end = std::min(n, start + flags_.batch);
          v1::WriteRequest req;
          req.set_tenant(kBig);
          for (int64_t k = start; k < end; ++k) AddInsert(req, shape_.At(k));
          v1::WriteResponse resp;
          Check(Write(c(), req, &resp, absl::Seconds(60)), "Write (load)");
          mine.push_back({resp.offset(), end - start});
        }
        absl::MutexLock l(&ack_mu);
        acks.insert(acks.end(), mine.begin(), mine.end());
        last_ack = std::max(last_ack, absl::Now());
      });
    }
    for (auto& t : loaders) t.join();
    r_.load_s = absl::ToDoubleSeconds(last_ack - t0);
    r_.load_rate = static_cast<double>(n) / r_.load_s;
    std::sort(acks.begin(), acks.end(), [](const Ack& x, const Ack& y) { return x.offset < y.offset; });
    r_.last_load_offset = acks.empty() ? 0 : acks.back().offset;
    Line("load: %d facts in %.1f s from %d loaders: %.0f acked facts/s, last offset %d", n,
         r_.load_s, flags_.loaders, r_.load_rate, r_.last_load_offset);

    // Wait until host A applied all of big (small keeps going meanwhile).
    const absl::Duration apply_timeout =
        std::max(absl::Minutes(2), absl::Seconds(static_cast<double>(n) / 2000));
    const absl::Time give_up = absl::Now() + apply_timeout;
    while (true) {
      const storage::ControlState s = ReadControl(a().data_dir());
      const storage::TenantEntry* e = FindTenant(s, kBig);
      if (e != nullptr && static_cast<uint64_t>(e->applied_offset) >= r_.last_load_offset) break;
      if (absl::Now() > give_up) {
        Fail(absl::StrCat("host A did not apply the load within ",
                          absl::FormatDuration(apply_timeout), "\n",
                          a().writer_process()->LogTail()));
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    const absl::Time applied_at = absl::Now();
    stop_small.store(true);
    for (auto& t : small_threads) t.join();
    std::vector<ControlPoller::Sample> samples = poller.Stop();

    // facts(o): facts of the load at offsets <= o.
    std::vector<int64_t> prefix(acks.size());
    int64_t sum = 0;
    for (size_t i = 0; i < acks.size(); ++i) prefix[i] = (sum += acks[i].facts);
    auto facts_at = [&](int64_t o) -> int64_t {
      auto it = std::upper_bound(acks.begin(), acks.end(), static_cast<uint64_t>(o),
                                 [](uint64_t off, const Ack& x) { return off < x.offset; });
      return it == acks.begin() ? 0 : prefix[it - acks.begin() - 1];
    };
    const ControlPoller::Sample* first = nullptr;
    const ControlPoller::Sample* done = nullptr;
    int64_t prev = baseline;
    for (const auto& s : samples) {
      if (s.big_applied <= prev) continue;
      prev = s.big_applied;
      if (facts_at(s.big_applied) == 0) continue;  // no load entry yet
      ++r_.commits;
      if (first == nullptr) first = &s;
      if (static_cast<uint64_t>(s.big_applied) >= r_.last_load_offset) {
        done = &s;
        break;
      }
    }
    if (first != nullptr && done != nullptr && done->t > first->t) {
      r_.apply_rate = static_cast<double>(n - facts_at(first->big_applied)) /
                      absl::ToDoubleSeconds(done->t - first->t);
    } else {
      r_.apply_rate = static_cast<double>(n) / absl::ToDoubleSeconds(applied_at - t0);
    }
    if (r_.commits > 0) r_.apply_batch = static_cast<double>(n) / static_cast<double>(r_.commits);
    Line("writer apply: %.0f facts/s (first apply -> applied == %d), %d transactions of big "
         "observed (control.db polled every 1 ms): %.0f facts per transaction; all applied "
         "%.1f s after the load started",
         r_.apply_rate, r_.last_load_offset, r_.commits, r_.apply_batch,
         absl::ToDoubleSeconds(applied_at - t0));

    if (small) {
      r_.small_reads = small_reads;
      r_.small_failed = small_failed;
      r_.small_writes = small_writes;
      r_.small_write_errors = small_write_errors;
      r_.small_read_p99_ms = Pct(small_lat_ms, 0.99);
      r_.small_max_staleness_ms = max_staleness;
      r_.small_first_error = first_error;
      Line("small during the load: %d reads on both readers, %d failed (%.2f%%)%s; read p99 "
           "%.2f ms, max staleness %.0f ms; %d writes (%d failed)",
           small_reads, small_failed,
           small_reads > 0 ? 100.0 * static_cast<double>(small_failed) /
                                 static_cast<double>(small_reads)
                           : 0.0,
           first_error.empty() ? "" : absl::StrCat(", first error: ", first_error).c_str(),
           r_.small_read_p99_ms, max_staleness, small_writes, small_write_errors);
    }
  }

  // Waits until big's named index files cover the load, then sizes them.
  void WaitForIndex() {
    const absl::Time give_up = absl::Now() + flags_.index_wait;
    storage::ControlState s;
    const storage::TenantEntry* e = nullptr;
    int64_t covered = 0;
    while (true) {
      s = ReadControl(a().data_dir());
      e = FindTenant(s, kBig);
      if (e != nullptr) covered = std::max(e->index.base_offset, e->index.delta_offset);
      if (e != nullptr && !e->index.base.empty() &&
          static_cast<uint64_t>(covered) >= r_.last_load_offset) {
        break;
      }
      if (absl::Now() > give_up) {
        Line("index: WARNING: big's index covers offset %d < %d after %s", covered,
             r_.last_load_offset, absl::FormatDuration(flags_.index_wait));
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (e == nullptr || e->index.base.empty()) {
      Line("index: no index file named for big");
      return;
    }
    const arbiter::host::DataDir dir(a().data_dir());
    auto size = [&](const std::string& name) -> double {
      if (name.empty()) return 0;
      std::error_code ec;
      const auto bytes = std::filesystem::file_size(dir.TenantPath(s.current_generation, name), ec);
      return ec ? NAN : static_cast<double>(bytes);
    };
    const double base = size(e->index.base), delta = size(e->index.delta);
    r_.index_bytes = base + delta;
    r_.index_bpf = r_.index_bytes / static_cast<double>(shape_.n());
    Line("index: base %.1f MiB (at %d) + delta %.1f MiB (at %d) = %.1f bytes/fact "
         "(target <= 150)",
         base / 1048576, e->index.base_offset, delta / 1048576, e->index.delta_offset,
         r_.index_bpf);
  }

  // DESIGN.md §9.11: the same schema and change rows, at the writer's batch
  // size, into a copy of host A's big database.
  void Ceiling() {
    const storage::ControlState s = ReadControl(a().data_dir());
    const storage::TenantEntry* e = FindTenant(s, kBig);
    if (e == nullptr) Fail("ceiling: big is not registered");
    const std::string src =
        arbiter::host::DataDir(a().data_dir()).TenantPath(s.current_generation, e->path);
    const std::string dir = c().dir() + "/ceiling";
    std::filesystem::create_directories(dir);
    const std::string dst = dir + "/big.db";
    {
      auto from = storage::Db::Open(src, {.read_only = true});
      Check(from.status(), "ceiling: opening big read-only");
      sqlite3* to = nullptr;
      if (sqlite3_open_v2(dst.c_str(), &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                          nullptr) != SQLITE_OK) {
        Fail(absl::StrCat("ceiling: cannot create ", dst));
      }
      sqlite3_backup* b = sqlite3_backup_init(to, "main", (*from)->raw(), "main");
      if (b == nullptr) Fail(absl::StrCat("ceiling: backup: ", sqlite3_errmsg(to)));
      const int rc = sqlite3_backup_step(b, -1);
      sqlite3_backup_finish(b);
      if (rc != SQLITE_DONE) Fail(absl::StrCat("ceiling: backup step: ", sqlite3_errstr(rc)));
      sqlite3_close(to);
    }
    // The writer's connection options: automatic checkpoints off, RESTART
    // once the WAL passes 64 MiB (WriterOptions::wal_checkpoint_bytes).
    auto db = storage::TenantDb::Open(dst, {.wal_autocheckpoint = 0});
    Check(db.status(), "ceiling: opening the copy");
    auto applied = (*db)->AppliedOffset();
    Check(applied.status(), "ceiling: applied offset");
    auto count = (*db)->CountFacts();
    Check(count.status(), "ceiling: counting facts");

    const int64_t m = std::min(shape_.n(), flags_.ceiling_facts);
    int batch = flags_.ceiling_batch;
    r_.ceiling_batch_observed = false;
    if (batch <= 0 && !std::isnan(r_.apply_batch)) {
      batch = std::max(1, static_cast<int>(std::lround(r_.apply_batch)));
      r_.ceiling_batch_observed = true;
    }
    if (batch <= 0) batch = 1000;
    r_.ceiling_batch = batch;
    std::vector<arbiter::Fact> facts;
    facts.reserve(m);
    for (int64_t k = 0; k < m; ++k) facts.push_back(shape_.At(shape_.n() + k));

    Pin(flags_.host_cpu);  // the writer's core; the writer idles now
    const absl::Time t0 = absl::Now();
    int64_t offset = *applied;
    for (int64_t start = 0; start < m; start += batch) {
      ++offset;
      auto txn = storage::Transaction::Begin((*db)->db(), storage::Transaction::Mode::kImmediate);
      Check(txn.status(), "ceiling: Begin");
      for (int64_t k = start; k < std::min(m, start + batch); ++k) {
        Check((*db)->InsertFact(offset, facts[k]).status(), "ceiling: InsertFact");
      }
      Check((*db)->SetAppliedOffset(offset), "ceiling: SetAppliedOffset");
      Check(txn->Commit(), "ceiling: Commit");
      // The writer's rule (frames since the WAL started over, not the file's
      // size), done in line: the ceiling has no second thread.
      if ((*db)->db()->wal_bytes() > (64 << 20)) {
        Check((*db)->db()->Checkpoint("RESTART"), "ceiling: checkpoint");
      }
    }
    const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
    Pin(flags_.client_cpu);
    db->reset();
    std::filesystem::remove_all(dir);
    r_.ceiling_rate = static_cast<double>(m) / secs;
    Line("apply ceiling: %d new facts into a copy of big (%d facts) in transactions of %d "
         "(%s), WAL + synchronous=FULL: %.0f facts/s; writer / ceiling %.2f",
         m, *count, batch,
         r_.ceiling_batch_observed ? "the writer's average" : "not observed: flag or 1000",
         r_.ceiling_rate, r_.apply_rate / r_.ceiling_rate);
  }

  // 4 KiB appends + fdatasync on the run's disk.
  void Fsync() {
    const std::string path = c().dir() + "/fsync.dat";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) Fail(absl::StrCat("cannot create ", path));
    std::string block(4096, 'x');
    std::vector<double> lat;
    Pin(flags_.host_cpu);
    const absl::Time end = absl::Now() + absl::Seconds(flags_.fsync_seconds);
    off_t off = 0;
    while (absl::Now() < end) {
      const absl::Time t0 = absl::Now();
      if (::pwrite(fd, block.data(), block.size(), off) != static_cast<ssize_t>(block.size()) ||
          ::fdatasync(fd) != 0) {
        ::close(fd);
        Fail("fsync loop: write or fdatasync failed");
      }
      lat.push_back(Ms(absl::Now() - t0));
      off += static_cast<off_t>(block.size());
    }
    Pin(flags_.client_cpu);
    ::close(fd);
    std::filesystem::remove(path);
    r_.fsync_p50 = Pct(lat, 0.5);
    r_.fsync_p99 = Pct(lat, 0.99);
    Line("fsync: %d x (4 KiB append + fdatasync): p50 %.3f ms, p99 %.3f ms, max %.3f ms",
         lat.size(), r_.fsync_p50, r_.fsync_p99, Pct(lat, 1.0));
  }

  void Memory() {
    const pid_t writer = Pid(a().writer_process());
    const pid_t readers[2] = {Pid(a().reader_process(0)), Pid(a().reader_process(1))};
    r_.writer_mem = ReadMem(writer);
    for (int i = 0; i < 2; ++i) r_.reader_mem[i] = ReadMem(readers[i]);
    r_.pss_sum = r_.writer_mem.pss_mib + r_.reader_mem[0].pss_mib + r_.reader_mem[1].pss_mib;
    Line("memory (host A, after the load): writer RSS %.1f / PSS %.1f MiB; reader 0 RSS %.1f / "
         "PSS %.1f MiB; reader 1 RSS %.1f / PSS %.1f MiB; PSS sum %.1f MiB",
         r_.writer_mem.rss_mib, r_.writer_mem.pss_mib, r_.reader_mem[0].rss_mib,
         r_.reader_mem[0].pss_mib, r_.reader_mem[1].rss_mib, r_.reader_mem[1].pss_mib,
         r_.pss_sum);
    double before[2], wbefore = CpuSeconds(writer);
    for (int i = 0; i < 2; ++i) before[i] = CpuSeconds(readers[i]);
    const absl::Time t0 = absl::Now();
    absl::SleepFor(absl::Seconds(flags_.idle_seconds));
    const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
    double pct[2];
    for (int i = 0; i < 2; ++i) pct[i] = 100 * (CpuSeconds(readers[i]) - before[i]) / secs;
    const double wpct = 100 * (CpuSeconds(writer) - wbefore) / secs;
    r_.idle_cpu_pct = std::max(pct[0], pct[1]);
    Line("idle CPU over %.0f s with no traffic: reader 0 %.2f%%, reader 1 %.2f%% of a core "
         "(target < 1%%); writer %.2f%%",
         secs, pct[0], pct[1], wpct);
  }

  uint64_t NewestSnapshot() {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::ListSnapshotsResponse resp;
    if (!c().log().ListSnapshots(&ctx, v1::ListSnapshotsRequest(), &resp).ok() ||
        resp.snapshots_size() == 0) {
      return 0;
    }
    return resp.snapshots(0).offset();
  }

  // The log's materialized state's applied offset (read-only), 0 if unknown.
  int64_t Materialized() {
    const std::string path =
        arbiter::replica::ReplicaDir(c().log_data_dir() + "/state").AppliedOffsetPath();
    auto db = storage::Db::Open(path, {.read_only = true});
    if (!db.ok()) return 0;
    auto offset = (*db)->QueryInt64("SELECT offset FROM applied WHERE id = 0");
    return offset.ok() ? *offset : 0;
  }

  // Phase 5: a snapshot covering the load, then host B from nothing to
  // SERVING.
  void FreshHost() {
    // Snapshots are cut from the log's materialized state, which follows
    // the log at its own pace (nice 19): wait for it first.
    const absl::Time wait_start = absl::Now();
    const absl::Duration catch_up =
        std::max(absl::Minutes(2), absl::Seconds(static_cast<double>(shape_.n()) / 2000));
    while (static_cast<uint64_t>(Materialized()) < r_.last_load_offset) {
      if (absl::Now() - wait_start > catch_up) {
        Fail(absl::StrCat("the log's materializer did not reach offset ", r_.last_load_offset,
                          " within ", absl::FormatDuration(catch_up)));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    const absl::Time give_up = absl::Now() + flags_.snapshot_wait;
    uint64_t snap = NewestSnapshot();
    while (snap < r_.last_load_offset && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(100));
      snap = NewestSnapshot();
    }
    if (snap < r_.last_load_offset) {
      // No size-triggered snapshot covers the end of the load: cut one by
      // restarting the log with a snapshot after every entry (the log is
      // idle and materialized: exactly one cut, at its head).
      Line("fresh host: log materialized at >= %d after %.1f s, but the newest snapshot is at "
           "%d after %s more: restarting the log with --snapshot_every_entries=1 to cut one",
           r_.last_load_offset,
           absl::ToDoubleSeconds(give_up - flags_.snapshot_wait - wait_start),
           snap, absl::FormatDuration(flags_.snapshot_wait));
      r_.snapshot_forced = true;
      Check(c().StopLog(), "stopping the log");
      Check(c().StartLog({"--snapshot_every_entries=1"}), "restarting the log");
      const absl::Time cut_by = absl::Now() + absl::Minutes(30);
      while ((snap = NewestSnapshot()) < r_.last_load_offset) {
        if (absl::Now() > cut_by) Fail("the log cut no snapshot covering the load");
        absl::SleepFor(absl::Milliseconds(100));
      }
      Check(c().StopLog(), "stopping the log");
      Check(c().StartLog(), "restarting the log");
      Check(a().WaitForWriter(v1::REPLICATION_STATE_LIVE, snap, absl::Minutes(5)).status(),
            "host A LIVE after the log restart");
      for (int i = 0; i < 2; ++i) {
        WaitServing(a().reader_port(i), absl::Minutes(2), absl::StrCat("host A reader ", i));
      }
    }
    r_.snapshot_offset = snap;
    {
      absl::MutexLock l(&g_run.mu);
      g_run.host_b = std::make_unique<Host>(c().dir() + "/hostB", c().log_port(),
                                            arbiter::testing::HostOptions{.cpu = flags_.host_cpu});
      host_b_ = g_run.host_b.get();
    }
    const absl::Time started = absl::Now();
    Check(host_b_->StartWriter(), "starting host B's writer");
    Check(host_b_->StartReader(0), "starting host B's reader");
    const absl::Time serving =
        WaitServing(host_b_->reader_port(0), absl::Minutes(30), "host B's reader");
    r_.fresh_host_s = absl::ToDoubleSeconds(serving - started);
    Line("fresh host: snapshot at offset %d%s; host B (empty data dir) start -> reader "
         "SERVING %.2f s (target at 1M <= 10 s)",
         snap, r_.snapshot_forced ? " (cut by a log restart)" : "", r_.fresh_host_s);
    if (!flags_.Has("fresh_host")) r_.fresh_host_s = NAN;  // started for the token phase only
  }

  // Phase 6: a third reader on host A's data directory.
  void SecondReader() {
    const absl::Time t0 = absl::Now();
    Check(a().StartReader(2), "starting host A's reader 2");
    const absl::Time serving = WaitServing(a().reader_port(2), absl::Minutes(5), "host A reader 2");
    r_.second_reader_s = absl::ToDoubleSeconds(serving - t0);
    const Mem m = ReadMem(Pid(a().reader_process(2)));
    Line("another reader on host A: start -> SERVING %.3f s (target at 1M <= 1 s); its RSS "
         "%.1f / PSS %.1f MiB",
         r_.second_reader_s, m.rss_mib, m.pss_mib);
    Check(a().StopReader(2), "stopping host A's reader 2");
  }

  // Phase 8: writes to big at --write_rate, reads at --read_load of peak.
  void Steady() {
    const int kThreadsPerReader = 2;
    std::vector<std::unique_ptr<Clients>> clients;
    for (int r = 0; r < 2; ++r) {
      clients.push_back(std::make_unique<Clients>(a().reader_port(r), kThreadsPerReader, 100 * r));
    }
    // Both readers' peaks at once: they share host A's core.
    double peak[2];
    {
      std::vector<std::thread> ts;
      for (int r = 0; r < 2; ++r) {
        ts.emplace_back([&, r] {
          peak[r] = PeakAuthorize(*clients[r], 16, absl::Seconds(flags_.peak_seconds),
                                  big_queries_)
                        .qps;
        });
      }
      for (auto& t : ts) t.join();
    }
    const double rate[2] = {peak[0] * flags_.read_load, peak[1] * flags_.read_load};
    Line("steady: reader peaks (closed loop, both at once) %.0f and %.0f Authorize/s; reading "
         "at %.0f%%: %.0f and %.0f/s; writing %.0f one-fact Writes/s from %d threads for %.0f s",
         peak[0], peak[1], 100 * flags_.read_load, rate[0], rate[1], flags_.write_rate,
         flags_.clients, flags_.steady_seconds);

    const pid_t pids[4] = {getpid(), Pid(a().writer_process()), Pid(a().reader_process(0)),
                           Pid(a().reader_process(1))};
    double cpu_before[4];
    for (int i = 0; i < 4; ++i) cpu_before[i] = CpuSeconds(pids[i]);
    ControlPoller poller(a().data_dir(), absl::Microseconds(500));
    poller.Start();
    const absl::Time start = absl::Now() + absl::Milliseconds(200);
    const absl::Time writes_end = start + absl::Seconds(flags_.steady_seconds);
    std::vector<std::unique_ptr<PacedReads>> reads[2];
    for (int r = 0; r < 2; ++r) {
      for (int t = 0; t < kThreadsPerReader; ++t) {
        reads[r].push_back(std::make_unique<PacedReads>(clients[r]->reader[t].get(),
                                                        &big_queries_, rate[r] / kThreadsPerReader,
                                                        start, static_cast<uint64_t>(t) * 1000));
        reads[r].back()->Start();
      }
    }
    std::unique_ptr<Probe> probes[2];
    for (int r = 0; r < 2; ++r) {
      probes[r] = std::make_unique<Probe>(a().reader_port(r), 900 + r, &big_queries_);
      probes[r]->Start();
    }
    std::vector<std::unique_ptr<PacedWrites>> writers;
    for (int t = 0; t < flags_.clients; ++t) {
      writers.push_back(std::make_unique<PacedWrites>(&c().log(), t, flags_.clients,
                                                      flags_.write_rate, shape_.repos(), start,
                                                      writes_end));
      writers.back()->Start();
    }
    std::vector<PacedWrites::Ack> acks;
    int64_t write_errors = 0, writes_skipped = 0;
    for (auto& w : writers) {
      w->Join();
      std::vector<PacedWrites::Ack> got = w->TakeAcks();
      acks.insert(acks.end(), got.begin(), got.end());
      write_errors += w->errors();
      writes_skipped += w->skipped();
    }
    const absl::Time last_write = absl::Now();
    int64_t max_write = 0;
    for (const auto& ack : acks) max_write = std::max(max_write, ack.offset);
    // Keep reading until both readers answered at the last write's offset
    // (at most 10 s more), so late writes are seen, not counted as lost.
    for (const absl::Time give_up = absl::Now() + absl::Seconds(10); absl::Now() < give_up;) {
      int64_t low = std::numeric_limits<int64_t>::max();
      for (int r = 0; r < 2; ++r) {
        int64_t high = 0;
        for (auto& p : reads[r]) high = std::max(high, p->newest());
        low = std::min(low, high);
      }
      if (low >= max_write) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    absl::SleepFor(absl::Milliseconds(20));
    const absl::Time reads_end = absl::Now();
    int64_t reads_ok = 0, reads_failed = 0, skipped = 0;
    std::string first_error;
    std::vector<Visibility> vis;
    for (int r = 0; r < 2; ++r) {
      for (auto& p : reads[r]) p->Stop();
      std::vector<Answer> all;
      for (auto& p : reads[r]) {
        p->Join();
        std::vector<Answer> got = p->TakeAnswers();
        all.insert(all.end(), got.begin(), got.end());
        reads_ok += p->ok();
        reads_failed += p->failed();
        skipped += p->skipped();
        if (first_error.empty()) first_error = p->first_error();
      }
      vis.emplace_back(std::move(all));
    }
    std::vector<ControlPoller::Sample> samples = poller.Stop();
    std::vector<double> probe_rtt;
    std::vector<Visibility> probe_vis;
    for (int r = 0; r < 2; ++r) {
      std::vector<double> rtt;
      probe_vis.emplace_back(probes[r]->Stop(&rtt));
      probe_rtt.insert(probe_rtt.end(), rtt.begin(), rtt.end());
    }
    double cpu[4];
    for (int i = 0; i < 4; ++i) {
      cpu[i] = 100 * (CpuSeconds(pids[i]) - cpu_before[i]) /
               absl::ToDoubleSeconds(absl::Now() - start + absl::Milliseconds(200));
    }

    std::vector<double> wv, cv, ack_ms;
    int64_t unseen = 0, writes = 0;
    Line("steady: last write at offset %d; host A complete at %d; readers' newest answers at "
         "%d and %d (%d and %d answers)",
         max_write, samples.empty() ? 0 : samples.back().big_complete, vis[0].max_offset(),
         vis[1].max_offset(), vis[0].size(), vis[1].size());
    {
      for (const PacedWrites::Ack& ack : acks) {
        ++writes;
        ack_ms.push_back(ack.ack_ms);
        const absl::Time t0 = vis[0].FirstAtLeast(ack.offset);
        const absl::Time t1 = vis[1].FirstAtLeast(ack.offset);
        if (t0 == absl::InfiniteFuture() || t1 == absl::InfiniteFuture()) {
          ++unseen;
          wv.push_back(1e9);  // never seen: counts as huge
        } else {
          wv.push_back(std::max(0.0, Ms(std::max(t0, t1) - ack.acked)));
        }
        // complete offsets never go back: the first poll at >= the offset.
        auto it = std::lower_bound(samples.begin(), samples.end(), ack.offset,
                                   [](const ControlPoller::Sample& s, int64_t o) {
                                     return s.big_complete < o;
                                   });
        // On the probes: the first of their answers at >= the offset.
        const absl::Time view =
            std::min(probe_vis[0].FirstAtLeast(ack.offset), probe_vis[1].FirstAtLeast(ack.offset));
        if (it != samples.end() && view != absl::InfiniteFuture()) {
          cv.push_back(std::max(0.0, Ms(view - it->t)));
        }
      }
    }
    r_.steady_write_rate = static_cast<double>(writes) / absl::ToDoubleSeconds(last_write - start);
    r_.steady_read_qps = static_cast<double>(reads_ok + reads_failed) /
                         absl::ToDoubleSeconds(reads_end - start);
    r_.wv_p50 = Pct(wv, 0.5);
    r_.wv_p99 = Pct(wv, 0.99);
    r_.cv_p50 = Pct(cv, 0.5);
    r_.cv_p99 = Pct(cv, 0.99);
    r_.steady_reads = reads_ok + reads_failed;
    r_.steady_failed = reads_failed;
    r_.steady_unseen = unseen;
    r_.steady_first_error = first_error;
    r_.steady_failed_share =
        r_.steady_reads > 0
            ? static_cast<double>(reads_failed) / static_cast<double>(r_.steady_reads)
            : NAN;
    Line("steady: %d writes acked (%.0f/s; %d failed, %d not issued: over 256 in flight; the "
         "last ack %.1f s after the schedule ended; ack p50 %.2f ms p99 %.2f ms); "
         "write -> visible on both readers p50 %.2f ms p99 %.2f ms (%d never seen); "
         "commit -> reader view p50 %.2f ms p99 %.2f ms (target p99 <= 5 ms; %d control.db "
         "changes polled; on one-call-in-flight probes whose round trip is p50 %.2f ms p99 "
         "%.2f ms: the measure's error)",
         writes, r_.steady_write_rate, write_errors, writes_skipped,
         absl::ToDoubleSeconds(last_write - writes_end), Pct(ack_ms, 0.5), Pct(ack_ms, 0.99),
         r_.wv_p50, r_.wv_p99, unseen, r_.cv_p50, r_.cv_p99, samples.size(),
         Pct(probe_rtt, 0.5), Pct(probe_rtt, 0.99));
    Line("steady: CPU (%% of a core) of this generator %.0f, host A's writer %.0f, readers %.0f "
         "and %.0f",
         cpu[0], cpu[1], cpu[2], cpu[3]);
    Line("steady: %d reads (%.0f/s, %d not issued: over 256 in flight), %d failed (%.3f%%)%s",
         r_.steady_reads, r_.steady_read_qps, skipped, reads_failed,
         100 * (std::isnan(r_.steady_failed_share) ? 0 : r_.steady_failed_share),
         first_error.empty() ? "" : absl::StrCat(", first error: ", first_error).c_str());
  }

  // Phase 10: read-your-write on another host.
  void Token() {
    WaitServing(host_b_->reader_port(0), absl::Minutes(2), "host B's reader");
    std::vector<double> lat;
    int64_t failed = 0;
    std::string first_error;
    for (int i = 0; i < flags_.token_iterations; ++i) {
      const std::string user = absl::StrCat("t", i);
      const int64_t repo = (i * 17) % shape_.repos();
      v1::WriteResponse w;
      Check(Write(c(), OneFact(kBig, user, repo), &w, absl::Seconds(10)), "Write (token)");
      const absl::Time acked = absl::Now();
      v1::AuthorizeRequest req;
      req.set_tenant(kBig);
      req.mutable_actor()->set_type("User");
      req.mutable_actor()->set_id(user);
      req.set_action("read");
      req.mutable_resource()->set_type("Repository");
      req.mutable_resource()->set_id(absl::StrCat("repo", repo));
      req.mutable_consistency()->set_at_least(w.consistency_token());
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
      v1::AuthorizeResponse resp;
      const grpc::Status s = host_b_->reader(0).Authorize(&ctx, req, &resp);
      lat.push_back(Ms(absl::Now() - acked));
      std::string error;
      if (!s.ok()) {
        error = absl::StrCat(static_cast<int>(s.error_code()), " ", s.error_message());
      } else if (resp.evaluation().offset() < w.offset() || !resp.allowed()) {
        error = absl::StrCat("answer at offset ", resp.evaluation().offset(), " for a write at ",
                             w.offset(), ", allowed=", resp.allowed());
      }
      if (!error.empty()) {
        ++failed;
        if (first_error.empty()) first_error = error;
      }
    }
    r_.token_p50 = Pct(lat, 0.5);
    r_.token_p99 = Pct(lat, 0.99);
    r_.token_failed = failed;
    Line("token reads on host B: %d x (Write, then Authorize at_least(token)): p50 %.2f ms "
         "p99 %.2f ms after the ack (target p50 <= 5 ms); %d failed or stale%s",
         flags_.token_iterations, r_.token_p50, r_.token_p99, failed,
         first_error.empty() ? "" : absl::StrCat(", first: ", first_error).c_str());
  }

  // Phase 11: Authorize vs the no-op ceiling on host A's reader 0.
  void Qps() {
    if (host_b_ != nullptr) {  // not needed any more: less noise on the host core
      absl::MutexLock l(&g_run.mu);
      g_run.host_b.reset();
      host_b_ = nullptr;
    }
    Clients clients(a().reader_port(0), flags_.qps_channels, 1000);
    const absl::Duration measure = absl::Seconds(flags_.qps_seconds);
    std::vector<double> ratios, checks, auths;
    for (int round = 0; round < flags_.qps_rounds; ++round) {
      ClosedLoop::Result h, z;
      if (round % 2 == 0) {
        h = PeakHealth(clients, flags_.qps_depth, measure);
        z = PeakAuthorize(clients, flags_.qps_depth, measure, big_queries_);
      } else {
        z = PeakAuthorize(clients, flags_.qps_depth, measure, big_queries_);
        h = PeakHealth(clients, flags_.qps_depth, measure);
      }
      checks.push_back(h.qps);
      auths.push_back(z.qps);
      ratios.push_back(z.qps / h.qps);
      Line("qps round %d: health Check %.0f/s%s, Authorize %.0f/s%s: ratio %.3f", round, h.qps,
           h.errors ? absl::StrCat(" (", h.errors, " errors)").c_str() : "", z.qps,
           z.errors ? absl::StrCat(" (", z.errors, " errors)").c_str() : "", z.qps / h.qps);
    }
    r_.qps_ratio = Pct(ratios, 0.5);
    r_.check_qps = Pct(checks, 0.5);
    r_.authorize_qps = Pct(auths, 0.5);
    Line("qps: median Authorize/Check ratio %.3f over %d rounds (%d channels x %d in flight; "
         "target >= 0.9)",
         r_.qps_ratio, flags_.qps_rounds, flags_.qps_channels, flags_.qps_depth);
  }

  const Flags& flags_;
  const Shape shape_, small_shape_;
  const std::string tag_;
  std::vector<v1::AuthorizeRequest> big_queries_, small_queries_;
  Cluster* cluster_ = nullptr;
  Host* host_a_ = nullptr;
  Host* host_b_ = nullptr;
  Result r_;
};

// ------------------------------------------------------------------ output

void PrintTable(const std::vector<Result>& results) {
  std::printf(
      "\n| N | load: acked facts/s | writer apply facts/s | apply ceiling facts/s (txn facts) | "
      "apply / ceiling (<= 1) | small's reads during the load: failed / reads | index B/fact "
      "(<= 150) | fresh host -> SERVING s (1M: <= 10) | another reader -> SERVING s (1M: <= 1) | "
      "host A PSS MiB: writer + readers = sum | reader idle CPU %% (< 1) | write -> visible "
      "p50 / p99 ms (p99 <= 3 x 2 x fsync p99) | commit -> reader view p50 / p99 ms (p99 <= 5) "
      "| steady failed reads | fsync p50 / p99 ms | token read p50 / p99 ms (p50 <= 2 x fsync "
      "p50 + 1) | Authorize / Check QPS (>= 0.9) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Result& r : results) {
    const double wv_target = 6 * r.fsync_p99, token_target = 2 * r.fsync_p50 + 1;
    std::printf(
        "| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s + %s + %s = %s | %s | %s / %s "
        "(<= %s) | %s / %s | %s | %s / %s | %s / %s (<= %s) | %s |\n",
        Human(r.n).c_str(), F(r.load_rate, 0).c_str(), F(r.apply_rate, 0).c_str(),
        F(r.ceiling_rate, 0).c_str(),
        r.ceiling_batch > 0 ? absl::StrCat(r.ceiling_batch).c_str() : "–",
        F(r.apply_rate / r.ceiling_rate).c_str(),
        r.small_reads > 0 ? absl::StrCat(r.small_failed, " / ", r.small_reads).c_str() : "–",
        F(r.index_bpf, 1).c_str(), F(r.fresh_host_s).c_str(), F(r.second_reader_s, 3).c_str(),
        F(r.writer_mem.pss_mib, 1).c_str(), F(r.reader_mem[0].pss_mib, 1).c_str(),
        F(r.reader_mem[1].pss_mib, 1).c_str(), F(r.pss_sum, 1).c_str(),
        F(r.idle_cpu_pct).c_str(), F(r.wv_p50).c_str(), F(r.wv_p99).c_str(),
        F(wv_target).c_str(), F(r.cv_p50).c_str(), F(r.cv_p99).c_str(),
        r.steady_reads > 0 ? absl::StrCat(r.steady_failed, " / ", r.steady_reads).c_str() : "–",
        F(r.fsync_p50, 3).c_str(), F(r.fsync_p99, 3).c_str(), F(r.token_p50).c_str(),
        F(r.token_p99).c_str(), F(token_target).c_str(), F(r.qps_ratio, 3).c_str());
  }
  std::printf("\n");
  for (const Result& r : results) {
    std::printf(
        "ratios [%s] (measure / target; <= 1 meets it, except Authorize/Check >= 0.9): "
        "apply/ceiling %s; index %s; fresh host %s; another reader %s; idle CPU %s; "
        "write->visible p99 %s; commit->view p99 %s; token p50 %s; Authorize/Check %s\n",
        Human(r.n).c_str(), F(r.apply_rate / r.ceiling_rate).c_str(),
        F(r.index_bpf / 150).c_str(), F(r.fresh_host_s / 10).c_str(),
        F(r.second_reader_s / 1).c_str(), F(r.idle_cpu_pct / 1).c_str(),
        F(r.wv_p99 / (6 * r.fsync_p99)).c_str(), F(r.cv_p99 / 5).c_str(),
        F(r.token_p50 / (2 * r.fsync_p50 + 1)).c_str(), F(r.qps_ratio, 3).c_str());
  }
  for (const Result& r : results) {
    if (!r.small_first_error.empty() || !r.steady_first_error.empty() || r.steady_unseen > 0 ||
        r.token_failed > 0 || r.snapshot_forced) {
      std::printf("notes [%s]:%s%s%s%s%s\n", Human(r.n).c_str(),
                  r.small_first_error.empty()
                      ? ""
                      : absl::StrCat(" small's first failed read: ", r.small_first_error, ";")
                            .c_str(),
                  r.steady_first_error.empty()
                      ? ""
                      : absl::StrCat(" steady first failed read: ", r.steady_first_error, ";")
                            .c_str(),
                  r.steady_unseen > 0
                      ? absl::StrCat(" ", r.steady_unseen, " steady writes never seen;").c_str()
                      : "",
                  r.token_failed > 0
                      ? absl::StrCat(" ", r.token_failed, " token reads failed or stale;").c_str()
                      : "",
                  r.snapshot_forced
                      ? " no size-triggered snapshot covered the load: cut by a log restart;"
                      : "");
    }
  }
}

Flags ParseFlags(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Flags f;
  for (const std::string& s : absl::GetFlag(FLAGS_sizes)) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 100) {
      std::fprintf(stderr, "--sizes: bad size '%s' (at least 100)\n", s.c_str());
      std::exit(2);
    }
    f.sizes.push_back(n);
  }
  const std::set<std::string> known = {"load",   "small",      "index",         "ceiling",
                                       "fsync",  "memory",     "fresh_host",    "second_reader",
                                       "steady", "token",      "qps"};
  for (const std::string& p : absl::GetFlag(FLAGS_phases)) {
    if (p == "all") {
      f.phases.insert(known.begin(), known.end());
    } else if (known.contains(p)) {
      f.phases.insert(p);
    } else {
      std::fprintf(stderr, "--phases: unknown phase '%s' (known: all, %s)\n", p.c_str(),
                   absl::StrJoin(known, ", ").c_str());
      std::exit(2);
    }
  }
  f.phases.insert("load");
  f.loaders = absl::GetFlag(FLAGS_loaders);
  f.batch = absl::GetFlag(FLAGS_batch);
  f.small_write_rate = absl::GetFlag(FLAGS_small_write_rate);
  f.small_readers = absl::GetFlag(FLAGS_small_readers);
  f.ceiling_facts = absl::GetFlag(FLAGS_ceiling_facts);
  f.ceiling_batch = absl::GetFlag(FLAGS_ceiling_batch);
  f.index_wait = absl::GetFlag(FLAGS_index_wait);
  f.snapshot_wait = absl::GetFlag(FLAGS_snapshot_wait);
  f.idle_seconds = absl::GetFlag(FLAGS_idle_seconds);
  f.fsync_seconds = absl::GetFlag(FLAGS_fsync_seconds);
  f.clients = absl::GetFlag(FLAGS_clients);
  f.write_rate = absl::GetFlag(FLAGS_write_rate);
  f.steady_seconds = absl::GetFlag(FLAGS_steady_seconds);
  f.peak_seconds = absl::GetFlag(FLAGS_peak_seconds);
  f.read_load = absl::GetFlag(FLAGS_read_load);
  f.token_iterations = absl::GetFlag(FLAGS_token_iterations);
  f.qps_rounds = absl::GetFlag(FLAGS_qps_rounds);
  f.qps_seconds = absl::GetFlag(FLAGS_qps_seconds);
  f.qps_channels = absl::GetFlag(FLAGS_qps_channels);
  f.qps_depth = absl::GetFlag(FLAGS_qps_depth);
  f.log_cpu = absl::GetFlag(FLAGS_log_cpu);
  f.host_cpu = absl::GetFlag(FLAGS_host_cpu);
  f.client_cpu = absl::GetFlag(FLAGS_client_cpu);
  f.log_flags = absl::GetFlag(FLAGS_log_flags);
  f.keep = absl::GetFlag(FLAGS_keep);
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  const bool ok = f.loaders >= 1 && f.batch >= 1 && f.batch <= 1000 && f.small_readers >= 0 &&
                  f.small_write_rate >= 0 && f.ceiling_facts >= 1 && f.clients >= 1 &&
                  f.write_rate > 0 && f.steady_seconds > 0 && f.peak_seconds > 0 &&
                  f.read_load > 0 && f.token_iterations >= 1 && f.qps_rounds >= 1 &&
                  f.qps_seconds > 0 && f.qps_channels >= 1 && f.qps_depth >= 1 &&
                  f.idle_seconds > 0 && f.fsync_seconds > 0 && f.log_cpu < cpus &&
                  f.host_cpu < cpus && f.client_cpu < cpus;
  if (!ok) {
    std::fprintf(stderr, "scale_bench: a flag is out of range (see --help)\n");
    std::exit(2);
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  std::string base = absl::GetFlag(FLAGS_dir);
  if (base.empty()) base = getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp";
  std::filesystem::create_directories(base);
  std::string tmpl = base + "/arbiter-scale-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "scale_bench: cannot create a directory under %s\n", base.c_str());
    return 1;
  }
  g_run.dir = tmpl;
  g_run.keep = flags.keep;
  // Every Cluster temp directory goes under the run's directory.
  setenv("TMPDIR", g_run.dir.c_str(), 1);
  if (flags.keep) setenv("ARBITER_KEEP_TEST_DIRS", "1", 1);
  Pin(flags.client_cpu);
  StartSignalThread();  // before any other thread, so all inherit the mask

  std::printf("scale_bench: sizes %s; phases %s; log cpu %d, host cpu %d, generator cpu %d; "
              "dir %s\n",
              absl::StrJoin(flags.sizes, ",").c_str(), absl::StrJoin(flags.phases, ",").c_str(),
              flags.log_cpu, flags.host_cpu, flags.client_cpu, g_run.dir.c_str());
  std::fflush(stdout);
  std::vector<Result> results;
  for (int64_t n : flags.sizes) {
    {
      SizeRun run(flags, n);
      results.push_back(run.Go());
    }
    StopProcesses();
  }
  PrintTable(results);
  RemoveRunDir();
  return 0;
}
