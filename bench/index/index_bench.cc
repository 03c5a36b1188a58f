// index_bench: the layered index in one process (issue #10, DESIGN.md §9.4).
// For each size N (GitHub-like model, seed 42, scaled to N facts):
//
//   1. base: FactIndex::Create of the N facts — build rate, bytes per fact;
//      the base written to a file and mapped back (Segment::Open: map +
//      CRC32C) — the time a new reader needs to take a tenant over;
//   2. churn: --changes single-fact changes (4 inserts of new has_role facts
//      to 1 delete of an existing one), maintained exactly as the writer and
//      a reader do (IndexOptions defaults of services/writer): a recent
//      layer after every recent_every_changes, a delta once the changes
//      since it reach delta_every_changes, a merge into a new base past the
//      merge bound (in line here; the writer merges on a second thread), and
//      a reader top layer rebuilt after every --advance changes. Reports the writer's CPU per change (deltas + merges,
//      amortised), the reader's top rebuild per advance, and the layers'
//      sizes at the end;
//   3. after the churn: the final stack (base + delta + recent + top) against a fresh
//      build of the same facts: bytes, Authorize decisions/s on one thread
//      over the same 100k queries (answers checked equal), and — with
//      ARBITER_BENCH_DECISIONS=n ARBITER_BENCH_STACK=layered|fresh, under
//      valgrind --tool=callgrind --toggle-collect='*Engine::Authorize*' —
//      instructions per decision.
//
//   index_bench [--sizes=100000,1000000] [--changes=200000] [--advance=20]

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/eval/segment.h"
#include "common/polar/policy.h"
#include "common/replica/change_set.h"
#include "services/writer/index_maintainer.h"
#include "tests/unit/eval/test_programs.h"

ABSL_FLAG(std::vector<std::string>, sizes, std::vector<std::string>({"100000", "1000000"}),
          "facts per run, comma-separated");
ABSL_FLAG(int64_t, changes, 200000, "single-fact changes applied after the base");
ABSL_FLAG(int64_t, advance, 20, "changes per reader advance (top layer rebuild)");

namespace arbiter::eval {
namespace {

using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

template <typename T>
T Check(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, v.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(v);
}

// The GitHub-like shape scaled to about `n` facts (the proportions of
// tests/unit/eval/test_programs.h's default, 31k facts).
testing::GithubShape ShapeFor(int64_t n) {
  const double k = static_cast<double>(n) / 31000.0;
  testing::GithubShape s;
  s.orgs = std::max(10, static_cast<int>(100 * std::sqrt(k)));
  s.repos = static_cast<int>(10000 * k);
  s.users = std::max(100, static_cast<int>(1000 * k));
  s.org_roles = static_cast<int>(4000 * k);
  s.repo_roles = static_cast<int>(16000 * k);
  s.groups = std::max(5, static_cast<int>(50 * std::sqrt(k)));
  s.group_members = static_cast<int>(500 * k);
  s.group_roles = static_cast<int>(300 * k);
  s.public_repos = static_cast<int>(200 * k);
  return s;
}

struct Query {
  Value actor, action, resource;
};

double DecisionsPerSecond(const Engine& engine, const FactIndex& facts,
                          const std::vector<Query>& queries, std::vector<bool>* answers) {
  answers->clear();
  const auto t0 = Clock::now();
  for (const Query& q : queries) {
    answers->push_back(*engine.Authorize(facts, q.actor, q.action, q.resource));
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(queries.size()) / s;
}

void Run(int64_t n) {
  const testing::GithubData data = testing::MakeGithubData(42, ShapeFor(n));
  std::ifstream in(std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/github.polar");
  std::stringstream ss;
  ss << in.rdbuf();
  auto engine = Check(Engine::Create(Check(polar::CompilePolicy(ss.str()), "policy")), "engine");

  // 1. The base.
  auto t0 = Clock::now();
  std::shared_ptr<const FactIndex> fresh0 = Check(FactIndex::Create(data.facts, 1), "create");
  const double build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const size_t facts0 = fresh0->size();
  const std::string path = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                        "/index_bench-", ::getpid(), ".seg");
  if (!WriteSegmentFile(path, *fresh0->layers()[0]).ok()) std::exit(1);
  t0 = Clock::now();
  auto mapped = Check(Segment::Open(path), "open");
  const double open_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::printf("N=%lld: %zu facts; base built in %.2f s (%.0f facts/s), %.1f bytes/fact; "
              "mapped + verified in %.1f ms\n",
              static_cast<long long>(n), facts0, build_s, facts0 / build_s,
              static_cast<double>(fresh0->byte_size()) / facts0, open_ms);

  // 2. Churn, maintained as the writer and a reader do.
  const writer::IndexOptions opt;
  std::mt19937 rng(7);
  std::vector<Fact> live = data.facts;  // as a set: a delete removes the fact
  std::sort(live.begin(), live.end());
  live.erase(std::unique(live.begin(), live.end()), live.end());
  std::shared_ptr<const Segment> base = fresh0->layers()[0];
  std::shared_ptr<const Segment> delta, recent;
  replica::ChangeSet since_base, since_delta, since_recent;
  since_base.set_offset(1);
  since_delta.set_offset(1);
  since_recent.set_offset(1);
  double writer_cpu = 0, reader_cpu = 0, worst_top_ms = 0;
  int64_t merges = 0, deltas = 0, recents = 0, advances = 0, unpublished = 0;
  const int64_t changes = absl::GetFlag(FLAGS_changes);
  const int64_t advance = absl::GetFlag(FLAGS_advance);
  auto stack_of = [&] {
    std::vector<std::shared_ptr<const Segment>> layers = {base};
    if (delta) layers.push_back(delta);
    if (recent) layers.push_back(recent);
    return Check(FactIndex::Stack(std::move(layers)), "stack");
  };
  std::shared_ptr<const FactIndex> stack = stack_of();
  std::shared_ptr<const FactIndex> top_stack = stack;
  for (int64_t i = 0; i < changes; ++i) {
    storage::Change c;
    c.offset = 2 + i;
    if (i % 5 == 4 && !live.empty()) {
      const size_t k = rng() % live.size();
      c.op = storage::ChangeOp::kDelete;
      c.fact = live[k];
      live[k] = live.back();
      live.pop_back();
    } else {
      c.op = storage::ChangeOp::kInsert;
      c.fact = {"has_role",
                {data.users[rng() % data.users.size()], testing::Str("reader"),
                 Value{"Repository", absl::StrCat("new", i)}}};
      live.push_back(c.fact);
    }
    for (replica::ChangeSet* cs : {&since_base, &since_delta, &since_recent}) {
      cs->Apply(c);
      cs->set_offset(c.offset);
    }
    ++unpublished;
    // The writer (services/writer/index_maintainer.cc, with its merges done
    // in line here).
    const double w0 = CpuSeconds();
    const int64_t merge_at = std::clamp<int64_t>(
        static_cast<int64_t>(static_cast<double>(base->fact_delta()) * opt.merge_ratio),
        opt.merge_min_changes, opt.merge_max_changes);
    bool published = true;
    if (static_cast<int64_t>(since_base.size()) >= merge_at) {
      auto base_only = Check(FactIndex::Stack({base}), "stack");
      base = Check(replica::BuildBaseFromStack(*base_only, since_base), "merge");
      delta = recent = nullptr;
      since_base.Clear();
      since_delta.Clear();
      ++merges;
    } else if (static_cast<int64_t>(since_delta.size()) >= opt.delta_every_changes) {
      auto base_only = Check(FactIndex::Stack({base}), "stack");
      delta = Check(since_base.BuildLayer(base_only.get()), "delta");
      recent = nullptr;
      since_delta.Clear();
      since_delta.set_offset(c.offset);
      ++deltas;
    } else if (unpublished >= opt.recent_every_changes) {
      recent = nullptr;
      auto below = stack_of();
      recent = Check(since_delta.BuildLayer(below.get()), "recent");
      ++recents;
    } else {
      published = false;
    }
    if (published) {
      stack = stack_of();
      unpublished = 0;
      since_recent.Clear();
      since_recent.set_offset(c.offset);
    }
    writer_cpu += CpuSeconds() - w0;
    // A reader: the changes since the newest named layer, as its top.
    if ((i + 1) % advance == 0 || i + 1 == changes) {
      const auto r0 = Clock::now();
      const double rc0 = CpuSeconds();
      if (since_recent.empty()) {
        top_stack = stack;
      } else {
        auto top = Check(since_recent.BuildLayer(stack.get()), "top");
        std::vector<std::shared_ptr<const Segment>> layers = stack->layers();
        layers.push_back(std::move(top));
        top_stack = Check(FactIndex::Stack(std::move(layers)), "stack");
      }
      reader_cpu += CpuSeconds() - rc0;
      worst_top_ms = std::max(
          worst_top_ms, std::chrono::duration<double, std::milli>(Clock::now() - r0).count());
      ++advances;
    }
  }
  std::printf("  churn: %lld changes, %lld recent layers, %lld deltas, %lld merges; writer "
              "%.1f us CPU/change; reader top rebuild %.3f ms/advance (worst %.2f ms, every "
              "%lld changes)\n",
              static_cast<long long>(changes), static_cast<long long>(recents),
              static_cast<long long>(deltas), static_cast<long long>(merges),
              1e6 * writer_cpu / changes,
              1e3 * reader_cpu / std::max<int64_t>(1, advances), worst_top_ms,
              static_cast<long long>(advance));
  std::printf("  final layers:");
  for (const auto& l : top_stack->layers()) {
    std::printf(" %s %+lld facts %.1f MiB;", l->kind() == Segment::Kind::kBase ? "base" : "upper",
                static_cast<long long>(l->fact_delta()), l->byte_size() / 1048576.0);
  }
  std::printf("\n");

  // 3. The final stack against a fresh build of the same facts.
  std::shared_ptr<const FactIndex> fresh = Check(FactIndex::Create(live, 2 + changes), "fresh");
  std::vector<Query> queries;
  std::mt19937 qrng(11);
  std::vector<std::pair<Value, Value>> pairs;
  for (const Fact& f : live) {
    if (f.predicate == "has_role" && f.args.size() == 3 && f.args[2].type == "Repository") {
      pairs.push_back({f.args[0], f.args[2]});
    }
  }
  const Value actions[] = {testing::Str("read"), testing::Str("push")};
  for (int i = 0; i < 100000; ++i) {
    if (i % 2 == 0) {
      const auto& p = pairs[qrng() % pairs.size()];
      queries.push_back({p.first, actions[qrng() % 2], p.second});
    } else {
      queries.push_back({data.users[qrng() % data.users.size()], actions[qrng() % 2],
                         data.repos[qrng() % data.repos.size()]});
    }
  }
  if (const char* env = std::getenv("ARBITER_BENCH_DECISIONS")) {
    const bool layered = std::string(std::getenv("ARBITER_BENCH_STACK") ?: "") == "layered";
    const FactIndex& f = layered ? *top_stack : *fresh;
    long count = 0;
    absl::SimpleAtoi(env, &count);
    size_t allowed = 0;
    for (long i = 0; i < count; ++i) {
      const Query& q = queries[i % queries.size()];
      allowed += *engine->Authorize(f, q.actor, q.action, q.resource);
    }
    std::printf("  %zu allowed (%s)\n", allowed, layered ? "layered" : "fresh");
    std::filesystem::remove(path);
    return;
  }
  std::vector<bool> a_fresh, a_layered;
  double best_fresh = 0, best_layered = 0;
  for (int round = 0; round < 3; ++round) {
    best_fresh = std::max(best_fresh, DecisionsPerSecond(*engine, *fresh, queries, &a_fresh));
    best_layered =
        std::max(best_layered, DecisionsPerSecond(*engine, *top_stack, queries, &a_layered));
  }
  std::printf("  after the churn: %zu facts (layered %zu); bytes layered / fresh = %.1f / %.1f "
              "MiB (%.3f); Authorize/s layered / fresh = %.0f / %.0f (%.3f); answers %s\n",
              fresh->size(), top_stack->size(), top_stack->byte_size() / 1048576.0,
              fresh->byte_size() / 1048576.0,
              static_cast<double>(top_stack->byte_size()) / fresh->byte_size(), best_layered,
              best_fresh, best_layered / best_fresh, a_fresh == a_layered ? "equal" : "DIFFER");
  std::printf("| %lld | %.1f | %.0f | %.1f | %.1f | %.3f | %.3f | %.3f | %s |\n",
              static_cast<long long>(n),
              static_cast<double>(fresh0->byte_size()) / facts0, facts0 / build_s, open_ms,
              1e6 * writer_cpu / changes, 1e3 * reader_cpu / std::max<int64_t>(1, advances),
              static_cast<double>(top_stack->byte_size()) / fresh->byte_size(),
              best_layered / best_fresh, a_fresh == a_layered ? "equal" : "DIFFER");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace arbiter::eval

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::printf("| N | bytes/fact | base build facts/s | map+verify ms | writer us CPU/change "
              "| reader ms/advance | bytes layered/fresh | Authorize/s layered/fresh | answers |\n");
  for (const std::string& s : absl::GetFlag(FLAGS_sizes)) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n <= 0) {
      std::fprintf(stderr, "--sizes: \"%s\" is not a positive number\n", s.c_str());
      return 2;
    }
    arbiter::eval::Run(n);
  }
  return 0;
}
