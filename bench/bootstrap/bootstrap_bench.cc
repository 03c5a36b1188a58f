// bootstrap_bench: how fast a new host gets LIVE, and how far behind the log
// a LIVE host runs. For each size N (default 100k and 1M facts of history):
//
//   1. start arbiter-log (pinned to --log_cpu) with snapshots off
//      (--snapshot_every_entries=0, --snapshot_every_facts=0,
//      --snapshot_every_bytes=0, --snapshot_interval=24h); create one
//      tenant with a small role policy; load N has_role(User, role, Doc)
//      facts in Writes of --batch facts from --loaders concurrent threads;
//   2. (b) REPLAY: start arbiter-writer (pinned to --writer_cpu) on an empty
//      data directory; time from process start to LIVE at the head, and the
//      catch-up apply rate (facts/s from REPLAYING to applied == head);
//   3. raw SQLite ceiling, same run, same disk (the cluster's temp dir):
//      TenantDb::InsertFact of the same N facts, --batch per transaction
//      (plus SetAppliedOffset, as the applier does), WAL + synchronous=FULL,
//      pinned to --writer_cpu;
//   4. restart the log with --snapshot_every_entries=1 until ListSnapshots
//      shows a snapshot at the head, then restart it with snapshots off;
//   5. (a) SNAPSHOT: stop the writer, wipe its data directory, start it again:
//      time to LIVE (restore + the empty tail);
//   6. (d) LAG (once, on the last size): with the writer LIVE, --lag_rate
//      one-fact Writes/s for --lag_seconds, paced from 8 threads; a poller
//      reads control.db (read-only, as a reader does) every ~1 ms; lag =
//      first poll with applied_offset >= the write's offset − its ack time.
//
// Prints per-phase lines and one table.
//
//   bootstrap_bench [--sizes=100000,1000000] [--batch=1000] [--loaders=4]
//                   [--lag_rate=1000] [--lag_seconds=10] [--log_cpu=0]
//                   [--writer_cpu=1]

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/base/value.h"
#include "common/host/data_dir.h"
#include "common/storage/control_db.h"
#include "common/storage/sqlite.h"
#include "common/storage/tenant_db.h"
#include "tests/testing/cluster.h"


ABSL_FLAG(std::vector<std::string>, sizes, std::vector<std::string>({"100000", "1000000"}),
          "facts of history per run, comma-separated");
ABSL_FLAG(int, batch, 1000, "facts per Write while loading (1..1000)");
ABSL_FLAG(int, loaders, 4, "concurrent loaders");
ABSL_FLAG(int, lag_rate, 1000, "one-fact Writes/s while measuring lag");
ABSL_FLAG(double, lag_seconds, 10, "how long to measure lag");
ABSL_FLAG(int, log_cpu, 0, "CPU for arbiter-log");
ABSL_FLAG(int, writer_cpu, 1, "CPU for arbiter-writer");
namespace {

using arbiter::testing::Cluster;
using arbiter::testing::DeadlineIn;
namespace v1 = arbiter::v1;

constexpr char kTenant[] = "bench";
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

struct Flags {
  std::vector<int64_t> sizes = {100000, 1000000};
  int batch = 1000;
  int loaders = 4;
  int lag_rate = 1000;
  double lag_seconds = 10;
  int log_cpu = 0;
  int writer_cpu = 1;
};

Flags ParseFlags(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Flags f;
  f.sizes.clear();
  for (const std::string& s : absl::GetFlag(FLAGS_sizes)) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n <= 0) {
      std::fprintf(stderr, "--sizes: bad size '%s'\n", s.c_str());
      std::exit(2);
    }
    f.sizes.push_back(n);
  }
  f.batch = absl::GetFlag(FLAGS_batch);
  f.loaders = absl::GetFlag(FLAGS_loaders);
  f.lag_rate = absl::GetFlag(FLAGS_lag_rate);
  f.lag_seconds = absl::GetFlag(FLAGS_lag_seconds);
  f.log_cpu = absl::GetFlag(FLAGS_log_cpu);
  f.writer_cpu = absl::GetFlag(FLAGS_writer_cpu);
  if (f.batch < 1 || f.batch > 1000 || f.loaders < 1 || f.sizes.empty()) {
    std::fprintf(stderr, "--batch must be 1..1000, --loaders >= 1, --sizes non-empty\n");
    std::exit(2);
  }
  return f;
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// Pins this process; children forked afterwards inherit it, so pinning
// before Cluster::StartLog/StartWriter pins the child from its first thread.
// cpu < 0: every CPU.
void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0) {
    for (int i = 0; i < CPU_SETSIZE && i < static_cast<int>(std::thread::hardware_concurrency());
         ++i) {
      CPU_SET(i, &set);
    }
  } else {
    CPU_SET(cpu, &set);
  }
  if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("sched_setaffinity");
}

// Fact k of the history: unique per k.
arbiter::Fact MakeFact(int64_t k) {
  return arbiter::Fact{"has_role",
                       {arbiter::Value{"User", absl::StrCat("u", k % 10000)},
                        arbiter::Value{"String", k % 2 ? "editor" : "viewer"},
                        arbiter::Value{"Doc", absl::StrCat("d", k)}}};
}

void AddInsert(v1::WriteRequest& req, const arbiter::Fact& f) {
  v1::Fact* pf = req.add_operations()->mutable_insert();
  pf->set_predicate(f.predicate);
  for (const auto& a : f.args) {
    v1::Value* v = pf->add_args();
    v->set_type(a.type);
    v->set_id(a.id);
  }
}

// Loads facts [0, n) in Writes of `batch` from `loaders` threads. Returns the
// highest acknowledged offset.
uint64_t Load(Cluster& c, int64_t n, int batch, int loaders) {
  std::atomic<int64_t> next{0};
  std::atomic<uint64_t> head{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < loaders; ++t) {
    threads.emplace_back([&] {
      while (true) {
        const int64_t start = next.fetch_add(batch);
        if (start >= n) return;
        v1::WriteRequest req;
        req.set_tenant(kTenant);
        for (int64_t k = start; k < std::min(n, start + batch); ++k) AddInsert(req, MakeFact(k));
        auto o = c.Write(req);
        Check(o.status(), "Write (load)");
        uint64_t cur = head.load();
        while (cur < *o && !head.compare_exchange_weak(cur, *o)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return head.load();
}

v1::GetStatusResponse Status(Cluster& c) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
  v1::GetStatusResponse resp;
  grpc::Status s = c.writer_admin().GetStatus(&ctx, v1::GetStatusRequest(), &resp);
  if (!s.ok()) resp.Clear();
  return resp;
}

struct Bootstrap {
  double to_live_s = 0;       // writer process start -> LIVE at head
  double restore_s = 0;       // start -> first REPLAYING (restore or empty gen)
  double catch_up_s = 0;      // first REPLAYING -> applied == head
  double apply_facts_s = 0;   // facts / catch_up_s (replay only)
};

// Starts a writer on a fresh data directory and times it to LIVE at `head`.
Bootstrap TimeBootstrap(Cluster& c, uint64_t head, int64_t facts, int writer_cpu) {
  Check(c.StopWriter(), "StopWriter");
  std::filesystem::remove_all(c.host_data_dir());
  Pin(writer_cpu);
  const absl::Time t0 = absl::Now();
  Check(c.StartWriter(), "StartWriter");
  Pin(-1);
  absl::Time replaying, at_head;
  bool seen_replaying = false, seen_head = false;
  const absl::Time deadline = t0 + absl::Minutes(10);
  while (true) {
    v1::GetStatusResponse s = Status(c);
    const absl::Time now = absl::Now();
    if (!seen_replaying && s.replication_state() != v1::REPLICATION_STATE_RESTORING &&
        s.replication_state() != v1::REPLICATION_STATE_UNSPECIFIED) {
      seen_replaying = true;
      replaying = now;
    }
    if (!seen_head && s.applied_offset() >= head) {
      seen_head = true;
      at_head = now;
      if (!seen_replaying) {
        seen_replaying = true;
        replaying = now;
      }
    }
    if (s.replication_state() == v1::REPLICATION_STATE_LIVE && s.applied_offset() >= head) {
      Bootstrap b;
      b.to_live_s = absl::ToDoubleSeconds(now - t0);
      b.restore_s = absl::ToDoubleSeconds(replaying - t0);
      b.catch_up_s = absl::ToDoubleSeconds(at_head - replaying);
      b.apply_facts_s = b.catch_up_s > 0 ? facts / b.catch_up_s : 0;
      return b;
    }
    if (now > deadline) {
      std::fprintf(stderr, "writer did not reach LIVE at %lu: %s\n%s\n",
                   static_cast<unsigned long>(head), s.ShortDebugString().c_str(),
                   c.writer_process() ? c.writer_process()->LogTail().c_str() : "");
      std::exit(1);
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// The raw SQLite ceiling: the same facts, the same transaction size, the same
// durability (TenantDb: WAL, synchronous=FULL), on the same disk.
double Ceiling(const std::string& dir, int64_t n, int batch, int cpu) {
  Pin(cpu);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ceiling.db";
  Check(arbiter::storage::TenantDb::Create(path, {.tenant = kTenant, .applied_offset = 1}),
        "TenantDb::Create");
  // The writer's connection options: automatic checkpoints off, a
  // wal_checkpoint(RESTART) after a commit once the WAL passes 64 MiB
  // (services/writer/replicator.cc, WriterOptions::wal_checkpoint_bytes).
  auto db = arbiter::storage::TenantDb::Open(path, {.wal_autocheckpoint = 0});
  Check(db.status(), "TenantDb::Open");
  std::vector<arbiter::Fact> facts;
  facts.reserve(n);
  for (int64_t k = 0; k < n; ++k) facts.push_back(MakeFact(k));
  const absl::Time t0 = absl::Now();
  int64_t offset = 1;
  for (int64_t start = 0; start < n; start += batch) {
    ++offset;
    auto txn = arbiter::storage::Transaction::Begin(
        (*db)->db(), arbiter::storage::Transaction::Mode::kImmediate);
    Check(txn.status(), "Begin");
    for (int64_t k = start; k < std::min(n, start + batch); ++k) {
      Check((*db)->InsertFact(offset, facts[k]).status(), "InsertFact");
    }
    Check((*db)->SetAppliedOffset(offset), "SetAppliedOffset");
    Check(txn->Commit(), "Commit");
    // The writer's rule: frames since the WAL started over, not its size.
    if ((*db)->db()->wal_bytes() > (64 << 20)) {
      Check((*db)->db()->Checkpoint("RESTART"), "Checkpoint");
    }
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  Pin(-1);
  db->reset();
  std::filesystem::remove_all(dir);
  return n / secs;
}

uint64_t WaitForSnapshotAt(Cluster& c, uint64_t head, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::ListSnapshotsResponse resp;
    if (c.log().ListSnapshots(&ctx, v1::ListSnapshotsRequest(), &resp).ok() &&
        resp.snapshots_size() > 0 && resp.snapshots(0).offset() >= head) {
      return resp.snapshots(0).offset();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::fprintf(stderr, "no snapshot at offset >= %lu\n", static_cast<unsigned long>(head));
  std::exit(1);
}

struct Lag {
  int64_t writes = 0;
  double achieved_rate = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double ack_p50_ms = 0;
  double follow_rate = 0;  // writes / (first write -> last write visible)
  int64_t errors = 0;
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

Lag MeasureLag(Cluster& c, int rate, double seconds) {
  auto control = arbiter::storage::ControlDb::Open(
      arbiter::host::DataDir(c.host_data_dir()).ControlDbPath(), {.read_only = true});
  Check(control.status(), "ControlDb::Open");
  struct Sample {
    absl::Time t;
    int64_t applied;
  };
  std::vector<Sample> samples;
  samples.reserve(200000);
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    int64_t last = -1;
    while (!stop.load()) {
      auto st = (*control)->Read();
      const absl::Time t = absl::Now();
      if (st.ok() && st->applied_offset != last) {
        last = st->applied_offset;
        samples.push_back({t, last});
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
  });
  constexpr int kThreads = 8;
  struct Ack {
    uint64_t offset;
    absl::Time sent, acked;
  };
  std::vector<std::vector<Ack>> acks(kThreads);
  std::atomic<int64_t> errors{0};
  const absl::Duration period = absl::Seconds(1) * kThreads / rate;
  const absl::Time start = absl::Now() + absl::Milliseconds(100);
  const absl::Time end = start + absl::Seconds(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int64_t i = 0;
      while (true) {
        // Open loop: each thread owns every kThreads-th slot of the schedule.
        const absl::Time due = start + period * i + period * t / kThreads;
        if (due >= end) return;
        ++i;
        const absl::Time now = absl::Now();
        if (due > now) absl::SleepFor(due - now);
        v1::WriteRequest req;
        req.set_tenant(kTenant);
        AddInsert(req, MakeFact(100000000 + t * 10000000LL + i));
        const absl::Time sent = absl::Now();
        auto o = c.Write(req);
        if (!o.ok()) {
          errors.fetch_add(1);
          continue;
        }
        acks[t].push_back({*o, sent, absl::Now()});
      }
    });
  }
  for (auto& th : threads) th.join();
  const absl::Time last_ack = absl::Now();
  // Let the replica catch up with the last acknowledged write (at most 30 s).
  uint64_t max_ack = 0;
  for (auto& v : acks) {
    for (const Ack& a : v) max_ack = std::max(max_ack, a.offset);
  }
  for (absl::Time give_up = absl::Now() + absl::Seconds(30);
       absl::Now() < give_up &&
       static_cast<uint64_t>(Status(c).applied_offset()) < max_ack;) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(20));
  stop.store(true);
  poller.join();

  Lag lag;
  lag.errors = errors.load();
  std::vector<double> lags, ack_ms;
  for (auto& v : acks) {
    for (const Ack& a : v) {
      ack_ms.push_back(absl::ToDoubleMilliseconds(a.acked - a.sent));
      auto it = std::lower_bound(
          samples.begin(), samples.end(), a.offset,
          [](const Sample& s, uint64_t off) { return static_cast<uint64_t>(s.applied) < off; });
      if (it == samples.end()) {
        lags.push_back(1e9);  // never seen: counts as huge
        continue;
      }
      lags.push_back(std::max(0.0, absl::ToDoubleMilliseconds(it->t - a.acked)));
    }
  }
  lag.writes = static_cast<int64_t>(lags.size());
  if (!samples.empty()) {
    lag.follow_rate = lag.writes / absl::ToDoubleSeconds(samples.back().t - start);
  }
  lag.achieved_rate = lag.writes / absl::ToDoubleSeconds(last_ack - start);
  lag.p50_ms = Pct(lags, 0.50);
  lag.p99_ms = Pct(lags, 0.99);
  lag.max_ms = Pct(lags, 1.0);
  lag.ack_p50_ms = Pct(ack_ms, 0.50);
  return lag;
}

struct SizeResult {
  int64_t facts = 0;
  uint64_t head = 0;
  double load_s = 0, snapshot_cut_s = 0;
  Bootstrap replay, snapshot;
  double ceiling = 0;
};

std::string Human(int64_t n) {
  if (n % 1000000 == 0) return absl::StrCat(n / 1000000, "M");
  if (n % 1000 == 0) return absl::StrCat(n / 1000, "k");
  return absl::StrCat(n);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  const std::vector<std::string> no_snapshots = {
      "--snapshot_every_entries=0", "--snapshot_every_facts=0", "--snapshot_every_bytes=0",
      "--snapshot_interval=24h"};
  std::printf("bootstrap_bench: sizes %s, %d facts/Write, %d loaders, log cpu %d, writer cpu "
              "%d, lag %d writes/s x %.0fs\n",
              absl::StrJoin(flags.sizes, ",").c_str(), flags.batch, flags.loaders,
              flags.log_cpu, flags.writer_cpu, flags.lag_rate, flags.lag_seconds);
  std::fflush(stdout);
  std::vector<SizeResult> results;
  Lag lag;
  for (size_t si = 0; si < flags.sizes.size(); ++si) {
    const int64_t n = flags.sizes[si];
    SizeResult r;
    r.facts = n;
    Pin(flags.log_cpu);
    auto cluster = Cluster::Start({.start_writer = false, .log_flags = no_snapshots});
    Pin(-1);
    Check(cluster.status(), "starting the log");
    Cluster& c = **cluster;
    Check(c.CreateTenant(kTenant).status(), "CreateTenant");
    Check(c.SetPolicy(kTenant, kPolicy).status(), "SetPolicy");

    Pin(flags.writer_cpu);  // the loaders run where the writer will
    absl::Time t0 = absl::Now();
    r.head = Load(c, n, flags.batch, flags.loaders);
    r.load_s = absl::ToDoubleSeconds(absl::Now() - t0);
    Pin(-1);
    std::printf("[%s] loaded %ld facts in %.1f s (%.0f facts/s), head %lu\n", Human(n).c_str(),
                static_cast<long>(n), r.load_s, n / r.load_s,
                static_cast<unsigned long>(r.head));
    std::fflush(stdout);

    // (b) replay everything (no snapshot exists).
    r.replay = TimeBootstrap(c, r.head, n, flags.writer_cpu);
    std::printf("[%s] replay: LIVE after %.2f s (start+empty gen %.2f s, catch-up %.2f s, "
                "%.0f facts/s)\n",
                Human(n).c_str(), r.replay.to_live_s, r.replay.restore_s, r.replay.catch_up_s,
                r.replay.apply_facts_s);
    std::fflush(stdout);

    // (c) the ceiling, same disk, while the writer idles.
    r.ceiling = Ceiling(c.dir() + "/ceiling", n, flags.batch, flags.writer_cpu);
    std::printf("[%s] raw SQLite ceiling: %.0f facts/s (ratio %.2f)\n", Human(n).c_str(),
                r.ceiling, r.replay.apply_facts_s / r.ceiling);
    std::fflush(stdout);

    // Cut a snapshot at the head, then run the log without snapshotting.
    Check(c.StopWriter(), "StopWriter");
    Check(c.StopLog(), "StopLog");
    Pin(flags.log_cpu);
    t0 = absl::Now();
    Check(c.StartLog({"--snapshot_every_entries=1"}), "StartLog (snapshot)");
    Pin(-1);
    const uint64_t snap = WaitForSnapshotAt(c, r.head, absl::Minutes(5));
    r.snapshot_cut_s = absl::ToDoubleSeconds(absl::Now() - t0);
    Check(c.StopLog(), "StopLog");
    Pin(flags.log_cpu);
    Check(c.StartLog(), "StartLog");
    Pin(-1);
    std::printf("[%s] snapshot at offset %lu (log restart + cut %.2f s)\n", Human(n).c_str(),
                static_cast<unsigned long>(snap), r.snapshot_cut_s);
    std::fflush(stdout);

    // (a) from the snapshot.
    r.snapshot = TimeBootstrap(c, r.head, n, flags.writer_cpu);
    std::printf("[%s] snapshot: LIVE after %.2f s (restore %.2f s, tail %.2f s)\n",
                Human(n).c_str(), r.snapshot.to_live_s, r.snapshot.restore_s,
                r.snapshot.catch_up_s);
    std::fflush(stdout);

    // (d) replication lag, once, on the last size.
    if (si + 1 == flags.sizes.size()) {
      Check(c.WaitForWriter(v1::REPLICATION_STATE_LIVE, r.head).status(), "writer LIVE");
      lag = MeasureLag(c, flags.lag_rate, flags.lag_seconds);
      std::printf("[%s] lag: %ld writes at %.0f/s, ack p50 %.2f ms, write->replica p50 %.2f ms "
                  "p99 %.2f ms max %.2f ms, writer followed at %.0f writes/s, errors %ld\n",
                  Human(n).c_str(), static_cast<long>(lag.writes), lag.achieved_rate,
                  lag.ack_p50_ms, lag.p50_ms, lag.p99_ms, lag.max_ms,
                  lag.follow_rate, static_cast<long>(lag.errors));
      std::fflush(stdout);
    }
    results.push_back(r);
  }

  std::printf("\n| facts of history | log entries | (a) LIVE from snapshot s (restore + tail) "
              "| (b) LIVE by replay s | (c) replay apply facts/s | raw SQLite ceiling facts/s "
              "| apply / ceiling |\n|---|---|---|---|---|---|---|\n");
  for (const SizeResult& r : results) {
    std::printf("| %s | %lu | %.2f (%.2f + %.2f) | %.2f | %.0f | %.0f | %.2f |\n",
                Human(r.facts).c_str(), static_cast<unsigned long>(r.head), r.snapshot.to_live_s,
                r.snapshot.restore_s, r.snapshot.catch_up_s, r.replay.to_live_s,
                r.replay.apply_facts_s, r.ceiling, r.replay.apply_facts_s / r.ceiling);
  }
  std::printf("\n(d) replication lag at %d writes/s (achieved %.0f/s) for %.0f s, %s facts "
              "stored: write ack -> replica applied_offset p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms (target p99 <= 50 ms); %ld writes (Write ack p50 %.2f ms), the "
              "writer followed at %.0f writes/s, %ld errors\n",
              flags.lag_rate, lag.achieved_rate, flags.lag_seconds,
              Human(results.back().facts).c_str(), lag.p50_ms, lag.p99_ms, lag.max_ms,
              static_cast<long>(lag.writes), lag.ack_p50_ms, lag.follow_rate,
              static_cast<long>(lag.errors));
  return 0;
}
