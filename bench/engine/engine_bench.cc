// Engine benchmark on the GitHub-like model (DESIGN.md §3): 100 orgs, 10,000
// repos, 1,000 users, ~20,000 role facts, 10,000 parent relations, plus
// groups and public repos; fixed seed. Measures Authorize decisions/s on one
// thread (with per-call p50/p99), List of every repo one user can read,
// Actions on one repo, and peak RSS. Run briefly:
//   build-eval/bench/engine/engine_bench --benchmark_min_time=0.5

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include <benchmark/benchmark.h>

#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "tests/unit/eval/test_programs.h"
#include "common/polar/policy.h"

namespace arbiter::eval {
namespace {

using testing::Str;

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}
long PeakRssKiB() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

struct Query {
  Value actor, action, resource;
};

struct World {
  testing::GithubData data;
  std::shared_ptr<const FactIndex> facts;
  std::shared_ptr<const Engine> engine;
  std::vector<Query> queries;
  long rss_before_kib = 0, rss_after_kib = 0, index_rss_kib = 0;
  Value superadmin;
  std::string policy;
  size_t allowed = 0;

  World() {
    rss_before_kib = RssKiB();
    data = testing::MakeGithubData(42);
    long before_index = RssKiB();
    auto f = FactIndex::Create(data.facts);
    if (!f.ok()) std::abort();
    facts = *f;
    index_rss_kib = RssKiB() - before_index;
    for (const Fact& fact : data.facts) {
      if (fact.predicate == "has_role" && fact.args.size() == 2) superadmin = fact.args[0];
    }
    std::ifstream in(std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/github.polar");
    std::stringstream ss;
    ss << in.rdbuf();
    auto compiled = polar::CompilePolicy(ss.str(), "github.polar");
    if (!compiled.ok()) {
      std::fprintf(stderr, "github.polar: %s\n", compiled.status().ToString().c_str());
      std::abort();
    }
    policy = "tests/data/policies/github.polar";
    auto e = Engine::Create(*compiled);
    if (!e.ok()) std::abort();
    engine = *e;
    // Half the queries ask about a (user, repo) pair that has a role fact
    // (mostly allowed), half a random pair (mostly denied).
    std::mt19937 rng(7);
    std::vector<std::pair<Value, Value>> role_pairs;
    for (const Fact& fact : data.facts) {
      if (fact.predicate == "has_role" && fact.args.size() == 3 &&
          fact.args[0].type == "User" && fact.args[2].type == "Repository") {
        role_pairs.push_back({fact.args[0], fact.args[2]});
      }
    }
    const Value actions[] = {Str("read"), Str("push")};
    for (int i = 0; i < 100'000; ++i) {
      if (i % 2 == 0) {
        const auto& p = role_pairs[rng() % role_pairs.size()];
        queries.push_back({p.first, actions[rng() % 2], p.second});
      } else {
        queries.push_back({data.users[rng() % data.users.size()], actions[rng() % 2],
                           data.repos[rng() % data.repos.size()]});
      }
    }
    for (size_t i = 0; i < 10'000; ++i) {
      const Query& q = queries[i];
      allowed += *engine->Authorize(*facts, q.actor, q.action, q.resource);
    }
    rss_after_kib = RssKiB();
  }
};

World& GetWorld() {
  static World* w = new World();
  return *w;
}

struct Figures {
  double decisions_per_s = 0, p50_us = 0, p99_us = 0, scan_decisions_per_s = 0;
  double list_ms = 0, actions_us = 0, list_all_ms = 0;
  size_t list_size = 0, list_all_size = 0;
};
Figures figures;

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

void BM_Authorize(benchmark::State& state) {
  World& w = GetWorld();
  std::vector<double> lat;
  lat.reserve(1 << 20);
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    const Query& q = w.queries[i++ % w.queries.size()];
    auto t0 = std::chrono::steady_clock::now();
    auto r = w.engine->Authorize(*w.facts, q.actor, q.action, q.resource);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) state.SkipWithError("authorize failed");
    allowed += *r;
    if (lat.size() < (1u << 20)) lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["allow_ratio"] = static_cast<double>(allowed) / state.iterations();
  figures.p50_us = Percentile(lat, 0.50);
  figures.p99_us = Percentile(lat, 0.99);
}
BENCHMARK(BM_Authorize);

// Throughput without the per-call clock reads.
void BM_AuthorizeThroughput(benchmark::State& state) {
  World& w = GetWorld();
  size_t i = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const Query& q = w.queries[i++ % w.queries.size()];
    benchmark::DoNotOptimize(w.engine->Authorize(*w.facts, q.actor, q.action, q.resource));
  }
  auto t1 = std::chrono::steady_clock::now();
  state.SetItemsProcessed(state.iterations());
  figures.decisions_per_s = state.iterations() / std::chrono::duration<double>(t1 - t0).count();
}
BENCHMARK(BM_AuthorizeThroughput);

void BM_AuthorizeScanPath(benchmark::State& state) {
  World& w = GetWorld();
  QueryOptions slow;
  slow.use_fast_path = false;
  size_t i = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const Query& q = w.queries[i++ % w.queries.size()];
    benchmark::DoNotOptimize(w.engine->Authorize(*w.facts, q.actor, q.action, q.resource, slow));
  }
  auto t1 = std::chrono::steady_clock::now();
  state.SetItemsProcessed(state.iterations());
  figures.scan_decisions_per_s =
      state.iterations() / std::chrono::duration<double>(t1 - t0).count();
}
BENCHMARK(BM_AuthorizeScanPath);

void BM_ListReadableRepos(benchmark::State& state) {
  World& w = GetWorld();
  const Value& user = w.data.users[3];
  double total_ms = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = w.engine->List(*w.facts, user, Str("read"), "Repository", "", 0);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    figures.list_size = r->ids.size();
    total_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
  }
  figures.list_ms = total_ms / std::max<int64_t>(1, state.iterations());
  state.counters["repos"] = static_cast<double>(figures.list_size);
}
BENCHMARK(BM_ListReadableRepos)->Unit(benchmark::kMillisecond);

// A superadmin reads every repository: List returns all 10,000 ids.
void BM_ListAllReposSuperadmin(benchmark::State& state) {
  World& w = GetWorld();
  double total_ms = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = w.engine->List(*w.facts, w.superadmin, Str("read"), "Repository", "", 0);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    figures.list_all_size = r->ids.size();
    total_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
  }
  figures.list_all_ms = total_ms / std::max<int64_t>(1, state.iterations());
  state.counters["repos"] = static_cast<double>(figures.list_all_size);
}
BENCHMARK(BM_ListAllReposSuperadmin)->Unit(benchmark::kMillisecond);

void BM_ActionsOnRepo(benchmark::State& state) {
  World& w = GetWorld();
  const Query& q = w.queries[0];
  double total_us = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = w.engine->Actions(*w.facts, q.actor, q.resource);
    auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(r);
    total_us += std::chrono::duration<double, std::micro>(t1 - t0).count();
  }
  figures.actions_us = total_us / std::max<int64_t>(1, state.iterations());
}
BENCHMARK(BM_ActionsOnRepo);

}  // namespace
}  // namespace arbiter::eval

int main(int argc, char** argv) {
  using arbiter::eval::figures;
  benchmark::Initialize(&argc, argv);
  arbiter::eval::World& w = arbiter::eval::GetWorld();
  // Profiling mode (e.g. under valgrind --tool=callgrind
  // --toggle-collect='arbiter::eval::Engine::Authorize*'): N decisions, no
  // benchmark harness.
  if (const char* n = std::getenv("ARBITER_BENCH_DECISIONS")) {
    size_t allowed = 0;
    for (long i = 0; i < std::atol(n); ++i) {
      const auto& q = w.queries[i % w.queries.size()];
      allowed += *w.engine->Authorize(*w.facts, q.actor, q.action, q.resource);
    }
    std::printf("%zu allowed\n", allowed);
    return 0;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  size_t roles = 0, parents = 0;
  for (const auto& f : w.data.facts) {
    roles += f.predicate == "has_role";
    parents += f.predicate == "has_relation";
  }
  std::printf("\nGitHub-like model (seed 42): %zu facts (%zu has_role, %zu has_relation), "
              "policy %s\n",
              w.facts->size(), roles, parents, w.policy.c_str());
  std::printf("allowed in the first 10,000 queries: %zu\n", w.allowed);
  std::printf("+------------------------------------+----------------+\n");
  std::printf("| Authorize, fast path (1 thread)    | %10.0f /s  |\n", figures.decisions_per_s);
  std::printf("| Authorize p50 / p99                | %5.2f / %5.2f us |\n", figures.p50_us,
              figures.p99_us);
  std::printf("| Authorize, Scan path (1 thread)    | %10.0f /s  |\n",
              figures.scan_decisions_per_s);
  std::printf("| List readable repos (%5zu ids)    | %10.2f ms  |\n", figures.list_size,
              figures.list_ms);
  std::printf("| List, superadmin (%5zu ids)       | %10.2f ms  |\n", figures.list_all_size,
              figures.list_all_ms);
  std::printf("| Actions on one repo                | %10.2f us  |\n", figures.actions_us);
  std::printf("| RSS: FactIndex alone        | %10.1f MiB |\n", w.index_rss_kib / 1024.0);
  std::printf("| RSS: facts + data set + engine     | %10.1f MiB |\n",
              (w.rss_after_kib - w.rss_before_kib) / 1024.0);
  std::printf("| Peak RSS (process)                 | %10.1f MiB |\n", arbiter::eval::PeakRssKiB() / 1024.0);
  std::printf("+------------------------------------+----------------+\n");
  return 0;
}
