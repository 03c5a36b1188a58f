// bench/log: arbiter-log's acknowledged write throughput and latency against
// the ceiling of raw SQLite on the same disk (issue 4, item 8). Not run by
// ctest.
//
// For each run (>= 5, interleaved) and each writer count (1, 8, 64):
//   1. start arbiter-log pinned to --server_cpu (taskset), fresh data dir;
//      the load generator (this process) is pinned to --client_cpu;
//   2. W writer threads send Writes of 10 facts for --seconds; record every
//      acknowledged write's latency;
//   3. SIGTERM the log and read its "sequencer stats" line: entries per
//      group = the group size group commit actually achieved;
//   4. the ceiling: raw SQLite (WAL, synchronous=FULL), the same rows (the
//      same serialized LogPayload) inserted in transactions of that group
//      size, on the same disk, pinned to --server_cpu;
// then prints medians and the ratio log / ceiling. With --store=etcd the log
// keeps its entries in an etcd of --etcd_members started here (not pinned), and the
// ceiling is raw etcd Txns of the shape the log sends (compare the head, put
// the group's entries and the head) at the group size the log achieved.
//
//   ninja -C build bench_log && build/bench/log/bench_log --runs=5

#include <sched.h>
#include <unistd.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
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
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "common/auth/client.h"
#include "common/base/crc32c.h"
#include "tests/testing/keys.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "tests/testing/etcd.h"
#include "tests/testing/process.h"

ABSL_FLAG(int, runs, 5, "interleaved runs per writer count (median reported)");
ABSL_FLAG(double, seconds, 3.0, "load duration per measurement");
ABSL_FLAG(std::string, writers, "1,8,64", "concurrent writer counts");
ABSL_FLAG(int, server_cpu, 0, "CPU for arbiter-log and the raw SQLite ceiling");
ABSL_FLAG(int, client_cpu, 1, "CPU for the load generator");
ABSL_FLAG(std::string, dir, "./log-bench-data", "scratch directory (same disk for both)");
ABSL_FLAG(int, front_ends, 1,
          "with --store=etcd: arbiter-log front-ends on the one prefix (writes reach the "
          "leader directly or forwarded by another; the load is spread over all)");
ABSL_FLAG(int, etcd_members, 1,
          "--store=etcd: members of the local etcd cluster (1 or 3; each fsyncs its own "
          "Raft log on this one disk)");
ABSL_FLAG(std::string, store, "sqlite",
          "arbiter-log's store: sqlite (ceiling: raw SQLite) or etcd (a local etcd of "
          "--etcd_members started here; ceiling: raw etcd Txns of the log's shape)");

namespace {

constexpr char kPolicy[] = R"(
actor User {}
resource Repository {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}
)";

void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);  // this thread (and its children)
}

arbiter::v1::WriteRequest Batch(int writer, int64_t i) {
  arbiter::v1::WriteRequest w;
  w.set_tenant("bench");
  for (int k = 0; k < 10; ++k) {
    auto* f = w.add_operations()->mutable_insert();
    f->set_predicate("has_role");
    auto* a = f->add_args();
    a->set_type("User");
    a->set_id(absl::StrCat("user-", writer, "-", i, "-", k));
    a = f->add_args();
    a->set_type("String");
    a->set_id("reader");
    a = f->add_args();
    a->set_type("Repository");
    a->set_id(absl::StrCat("repo-", k));
  }
  return w;
}

struct LogResult {
  double facts_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  double group = 1;  // entries per commit
  int64_t entries = 0;
  double server_cpu_us_per_entry = 0;  // user+system CPU of arbiter-log
  // Write sent -> the same entry received by a live subscriber.
  double sub_p50_ms = 0, sub_p99_ms = 0;
};

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
  if (f.size() < 13) return 0;
  double ticks = std::stod(f[11]) + std::stod(f[12]);  // fields 14 and 15
  return ticks / sysconf(_SC_CLK_TCK);
}

// --store=etcd: one etcd for the whole run, a fresh prefix per measurement.
arbiter::testing::EtcdCluster* Etcd() {
  static std::unique_ptr<arbiter::testing::EtcdCluster> etcd = [] {
    auto c = arbiter::testing::EtcdCluster::Start(absl::GetFlag(FLAGS_etcd_members));
    if (!c.ok()) {
      std::cerr << c.status() << "\n";
      std::exit(1);
    }
    return std::move(*c);
  }();
  return etcd.get();
}
int prefix_number = 0;

LogResult RunLog(int writers, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string port_file = dir + "/port";
  std::vector<std::string> argv = {
      "/usr/bin/taskset", "-c", absl::StrCat(absl::GetFlag(FLAGS_server_cpu)),
      arbiter::testing::BinaryPath("services/log/arbiter-log"), "--listen=127.0.0.1:0",
      "--port_file=" + port_file, "--data_dir=" + dir + "/data", "--drain_grace=0s",
      "--snapshot_every_entries=0", "--snapshot_every_facts=0", "--snapshot_every_bytes=0",
      "--snapshot_interval=24h", arbiter::testing::BootstrapKeyFlag(dir)};
  const bool etcd = absl::GetFlag(FLAGS_store) == "etcd";
  if (etcd) {
    argv.push_back("--store=etcd");
    argv.push_back("--etcd_endpoints=" + absl::StrJoin(Etcd()->endpoints(), ","));
    argv.push_back(absl::StrCat("--etcd_prefix=/bench-", ++prefix_number, "/"));
  }
  // --front_ends (etcd): more arbiter-log processes on the same prefix, each
  // with a data directory of its own; the load is spread over all of them.
  std::vector<arbiter::testing::Process> procs;
  std::vector<int> ports;
  for (int f = 0; f < (etcd ? absl::GetFlag(FLAGS_front_ends) : 1); ++f) {
    std::vector<std::string> args = argv;
    if (f > 0) {
      for (std::string& a : args) {
        if (a == "--port_file=" + port_file) a = absl::StrCat(a, ".", f);
        if (a == "--data_dir=" + dir + "/data") a = absl::StrCat(a, f);
      }
    }
    auto proc = arbiter::testing::Process::Start(args, absl::StrCat(dir, "/log", f, ".txt"));
    if (!proc.ok()) {
      std::cerr << proc.status() << "\n";
      std::exit(1);
    }
    auto port = arbiter::testing::WaitForPortFile(
        f == 0 ? port_file : absl::StrCat(port_file, ".", f), absl::Seconds(60), &*proc);
    if (!port.ok()) {
      std::cerr << port.status() << "\n" << proc->LogTail();
      std::exit(1);
    }
    procs.push_back(*std::move(proc));
    ports.push_back(*port);
  }
  std::vector<std::unique_ptr<arbiter::v1::LogService::Stub>> stubs;
  for (int c = 0; c < 4; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("bench.channel", c);  // distinct channels, distinct connections
    stubs.push_back(arbiter::v1::LogService::NewStub(arbiter::auth::CreateKeyedChannel(
        absl::StrCat("127.0.0.1:", ports[c % ports.size()]), arbiter::testing::kTestKey,
        grpc::InsecureChannelCredentials(), args)));
  }
  {
    grpc::ClientContext ctx;
    arbiter::v1::CreateTenantRequest req;
    req.set_tenant("bench");
    arbiter::v1::CreateTenantResponse resp;
    if (!stubs[0]->CreateTenant(&ctx, req, &resp).ok()) std::exit(1);
    grpc::ClientContext ctx2;
    arbiter::v1::SetPolicyRequest p;
    p.set_tenant("bench");
    p.set_source(kPolicy);
    arbiter::v1::SetPolicyResponse presp;
    if (!stubs[0]->SetPolicy(&ctx2, p, &presp).ok()) std::exit(1);
  }
  // A live subscriber from the current head on: when did each offset arrive?
  std::mutex sub_mu;
  std::map<uint64_t, absl::Time> received;
  grpc::ClientContext sub_ctx;
  arbiter::v1::SubscribeRequest sub_req;
  sub_req.set_from_offset(3);  // after CreateTenant and SetPolicy
  auto sub = stubs[0]->Subscribe(&sub_ctx, sub_req);
  std::thread subscriber([&] {
    arbiter::v1::SubscribeResponse m;
    while (sub->Read(&m)) {
      if (!m.has_entry()) continue;
      absl::Time now = absl::Now();
      std::lock_guard<std::mutex> l(sub_mu);
      received[m.entry().offset()] = now;
    }
  });
  std::vector<std::vector<std::pair<uint64_t, absl::Time>>> sent(writers);
  auto cpu = [&] {
    double sum = 0;
    for (auto& p : procs) sum += CpuSeconds(p.pid());
    return sum;
  };
  const double cpu_before = cpu();
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(writers);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto* stub = stubs[w % stubs.size()].get();
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        arbiter::v1::WriteRequest req = Batch(w, i);
        arbiter::v1::WriteResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        absl::Time t0 = absl::Now();
        grpc::Status s = stub->Write(&ctx, req, &resp);
        if (!s.ok()) {
          std::cerr << "write failed: " << s.error_message() << "\n";
          return;
        }
        lat[w].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        sent[w].push_back({resp.offset(), t0});
      }
    });
  }
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu_used = cpu() - cpu_before;
  absl::SleepFor(absl::Milliseconds(500));  // let the subscriber catch up
  sub_ctx.TryCancel();
  subscriber.join();
  (void)sub->Finish();
  std::vector<double> sub_lat;
  {
    std::lock_guard<std::mutex> l(sub_mu);
    for (auto& v : sent) {
      for (auto& [offset, t0] : v) {
        auto it = received.find(offset);
        if (it != received.end()) sub_lat.push_back(absl::ToDoubleMilliseconds(it->second - t0));
      }
    }
  }
  std::sort(sub_lat.begin(), sub_lat.end());
  stubs.clear();
  for (auto& p : procs) p.Signal(SIGTERM);
  for (auto& p : procs) (void)p.Wait(absl::Seconds(30));

  LogResult r;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  r.entries = all.size();
  r.facts_per_s = all.size() * 10 / secs;
  if (!all.empty()) r.server_cpu_us_per_entry = cpu_used * 1e6 / all.size();
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  if (!sub_lat.empty()) {
    r.sub_p50_ms = sub_lat[sub_lat.size() / 2];
    r.sub_p99_ms = sub_lat[std::min(sub_lat.size() - 1, sub_lat.size() * 99 / 100)];
  }
  double e = 0, g = 0;  // over every front-end (the leaders sequenced)
  for (auto& p : procs) {
    std::smatch m;
    std::string tail = p.LogTail(100000);
    if (std::regex_search(tail, m, std::regex("sequencer stats: (\\d+) entries in (\\d+) groups"))) {
      e += std::stod(m[1]);
      g += std::stod(m[2]);
    }
  }
  if (g > 0) r.group = e / g;
  return r;
}

// Raw SQLite: the same rows as the log writes, in transactions of `group`.
double RunCeiling(double group, int64_t entries, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sqlite3* db;
  sqlite3_open((dir + "/raw.db").c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE entries(offset INTEGER PRIMARY KEY, tenant TEXT NOT NULL,"
               " time_unix_ms INTEGER NOT NULL, payload BLOB NOT NULL,"
               " payload_crc32c INTEGER NOT NULL);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* st;
  sqlite3_prepare_v2(db, "INSERT INTO entries VALUES (?, ?, ?, ?, ?)", -1, &st, nullptr);
  entries = std::max<int64_t>(std::min<int64_t>(entries, 50000), 200);
  std::vector<std::string> payloads;
  payloads.reserve(entries);
  for (int64_t i = 0; i < entries; ++i) {
    arbiter::v1::LogPayload p;
    *p.mutable_write()->mutable_operations() = Batch(0, i).operations();
    payloads.push_back(p.SerializeAsString());
  }
  const int64_t per_txn = std::max<int64_t>(1, static_cast<int64_t>(group + 0.5));
  absl::Time start = absl::Now();
  for (int64_t i = 0; i < entries;) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (int64_t k = 0; k < per_txn && i < entries; ++k, ++i) {
      // Encoding and CRC are part of the row the log stores.
      uint32_t crc = arbiter::Crc32c(payloads[i]);
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, i + 1);
      sqlite3_bind_text(st, 2, "bench", -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 3, absl::ToUnixMillis(absl::Now()));
      sqlite3_bind_blob(st, 4, payloads[i].data(), payloads[i].size(), SQLITE_STATIC);
      sqlite3_bind_int64(st, 5, crc);
      sqlite3_step(st);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return entries * 10 / secs;
}

// Raw etcd: Txns of the log's shape (compare the head's value, put the
// group's entries and the new head), one after the other as the sequencer
// sends them, `group` entries each.
double RunEtcdCeiling(double group, int64_t entries) {
  auto stub = etcdserverpb::KV::NewStub(
      grpc::CreateChannel(Etcd()->endpoints()[0], grpc::InsecureChannelCredentials()));
  const std::string prefix = absl::StrCat("/ceiling-", ++prefix_number, "/");
  entries = std::max<int64_t>(std::min<int64_t>(entries, 20000), 200);
  std::vector<std::string> values;
  values.reserve(entries);
  for (int64_t i = 0; i < entries; ++i) {
    arbiter::v1::LogEntry e;
    e.set_offset(i + 1);
    e.set_tenant("bench");
    arbiter::v1::LogPayload p;
    *p.mutable_write()->mutable_operations() = Batch(0, i).operations();
    p.SerializeToString(e.mutable_payload());
    values.push_back(e.SerializeAsString());
  }
  const int64_t per_txn = std::max<int64_t>(1, static_cast<int64_t>(group + 0.5));
  std::string head = "0 0";
  absl::Time start = absl::Now();
  for (int64_t i = 0; i < entries;) {
    etcdserverpb::TxnRequest txn;
    auto* c = txn.add_compare();
    c->set_key(prefix + "meta/head");
    c->set_target(etcdserverpb::Compare::VALUE);
    c->set_result(etcdserverpb::Compare::EQUAL);
    if (i == 0) {
      c->set_target(etcdserverpb::Compare::CREATE);
      c->set_create_revision(0);
    } else {
      c->set_value(head);
    }
    for (int64_t k = 0; k < per_txn && i < entries; ++k, ++i) {
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(absl::StrFormat("%se/%020d", prefix, i + 1));
      // Encoding and CRC are part of what the log sends.
      arbiter::v1::LogEntry e;
      e.ParseFromString(values[i]);
      e.set_payload_crc32c(arbiter::Crc32c(e.payload()));
      put->set_value(e.SerializeAsString());
    }
    head = absl::StrCat(i, " 0");
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(prefix + "meta/head");
    put->set_value(head);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    etcdserverpb::TxnResponse resp;
    grpc::Status st = stub->Txn(&ctx, txn, &resp);
    if (!st.ok() || !resp.succeeded()) {
      std::cerr << "ceiling Txn failed: " << st.error_message() << "\n";
      std::exit(1);
    }
  }
  return entries * 10 / absl::ToDoubleSeconds(absl::Now() - start);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<int> writer_counts;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_writers), ',')) {
    int n;
    if (!absl::SimpleAtoi(s, &n) || n <= 0) {
      std::cerr << "--writers: bad value \"" << s << "\"\n";
      return 2;
    }
    writer_counts.push_back(n);
  }
  const std::string dir = std::filesystem::absolute(absl::GetFlag(FLAGS_dir)).string();
  Pin(absl::GetFlag(FLAGS_client_cpu));
  struct Series {
    std::vector<double> facts, p50, p99, group, ceiling, ratio, sub50, sub99, cpu;
  };
  std::vector<Series> series(writer_counts.size());
  for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
    for (size_t i = 0; i < writer_counts.size(); ++i) {  // interleaved
      LogResult r = RunLog(writer_counts[i], dir + "/log");
      double ceiling = 0;
      std::thread raw([&] {
        Pin(absl::GetFlag(FLAGS_server_cpu));
        ceiling = absl::GetFlag(FLAGS_store) == "etcd"
                      ? RunEtcdCeiling(r.group, r.entries)
                      : RunCeiling(r.group, r.entries, dir + "/raw");
      });
      raw.join();
      Series& s = series[i];
      s.facts.push_back(r.facts_per_s);
      s.p50.push_back(r.p50_ms);
      s.p99.push_back(r.p99_ms);
      s.group.push_back(r.group);
      s.ceiling.push_back(ceiling);
      s.ratio.push_back(ceiling > 0 ? r.facts_per_s / ceiling : 0);
      s.sub50.push_back(r.sub_p50_ms);
      s.sub99.push_back(r.sub_p99_ms);
      s.cpu.push_back(r.server_cpu_us_per_entry);
      std::printf("run %d writers %3d: %9.0f facts/s  p50 %6.2f ms  p99 %6.2f ms  "
                  "group %5.1f  server %4.0f us/write  subscribe p50 %6.2f ms  ceiling %9.0f "
                  "facts/s  ratio %.2f\n",
                  run + 1, writer_counts[i], r.facts_per_s, r.p50_ms, r.p99_ms, r.group,
                  r.server_cpu_us_per_entry, r.sub_p50_ms, ceiling, s.ratio.back());
      std::fflush(stdout);
    }
  }
  std::printf("\n| writers | acked facts/s | Write p50 ms | Write p99 ms | entries/commit | "
              "server CPU us/write | write->subscriber p50 / p99 ms | "
              "raw %s ceiling facts/s | log / ceiling |\n"
              "|---|---|---|---|---|---|---|---|---|\n",
              absl::GetFlag(FLAGS_store) == "etcd" ? "etcd Txn" : "SQLite");
  for (size_t i = 0; i < writer_counts.size(); ++i) {
    const Series& s = series[i];
    std::printf("| %d | %.0f | %.2f | %.2f | %.1f | %.0f | %.2f / %.2f | %.0f | %.2f |\n",
                writer_counts[i], Median(s.facts), Median(s.p50), Median(s.p99),
                Median(s.group), Median(s.cpu), Median(s.sub50), Median(s.sub99),
                Median(s.ceiling), Median(s.ratio));
  }
  const bool etcd = absl::GetFlag(FLAGS_store) == "etcd";
  std::printf("\n(medians of %d interleaved runs of %.1f s; %d front-end(s); %d etcd member(s); "
              "server on CPU %d, load on CPU %d)\n",
              absl::GetFlag(FLAGS_runs), absl::GetFlag(FLAGS_seconds),
              etcd ? absl::GetFlag(FLAGS_front_ends) : 1, etcd ? absl::GetFlag(FLAGS_etcd_members) : 0,
              absl::GetFlag(FLAGS_server_cpu), absl::GetFlag(FLAGS_client_cpu));
  std::filesystem::remove_all(dir);
  return 0;
}
