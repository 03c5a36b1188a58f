// The host-shared index at work, with real processes (issue #10): a write
// reaches every reader of the host through the writer's signal, not a poll;
// a tenant of 200k facts under steady writes, and another tenant's bulk
// load, make no read fail while the writer is live; a restarted writer
// adopts its index files and rebuilds a damaged one.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/api/api.h"
#include "common/host/data_dir.h"
#include "common/storage/control_db.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"

namespace arbiter::testing {
namespace {

std::string GithubPolicy() {
  std::ifstream in(std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/github.polar");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// has_role(User:<user>, "reader", Repository:<repo>).
v1::Fact ReaderRole(const std::string& user, const std::string& repo) {
  v1::Fact f;
  f.set_predicate("has_role");
  auto* a = f.add_args();
  a->set_type("User");
  a->set_id(user);
  a = f.add_args();
  a->set_type("String");
  a->set_id("reader");
  a = f.add_args();
  a->set_type("Repository");
  a->set_id(repo);
  return f;
}

absl::StatusOr<uint64_t> Insert(Cluster& c, const std::string& tenant,
                                const std::vector<v1::Fact>& facts) {
  v1::WriteRequest req;
  req.set_tenant(tenant);
  for (const auto& f : facts) *req.add_operations()->mutable_insert() = f;
  return c.Write(req);
}

v1::AuthorizeRequest CanRead(const std::string& tenant, const std::string& user,
                             const std::string& repo) {
  v1::AuthorizeRequest r;
  r.set_tenant(tenant);
  r.mutable_actor()->set_type("User");
  r.mutable_actor()->set_id(user);
  r.set_action("read");
  r.mutable_resource()->set_type("Repository");
  r.mutable_resource()->set_id(repo);
  return r;
}

grpc::Status Authorize(Cluster& c, int reader, const v1::AuthorizeRequest& req,
                       v1::AuthorizeResponse* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
  return c.reader(reader).Authorize(&ctx, req, resp);
}

std::unique_ptr<Cluster> StartCluster(int readers, std::vector<std::string> reader_flags = {}) {
  auto c = Cluster::Start({.readers = readers, .reader_flags = std::move(reader_flags)});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

void SetUpTenant(Cluster& c, const std::string& tenant) {
  REQUIRE(c.CreateTenant(tenant).ok());
  auto version = c.SetPolicy(tenant, GithubPolicy());
  INFO(version.status().ToString());
  REQUIRE(version.ok());
  REQUIRE(c.WaitForWriter(v1::REPLICATION_STATE_LIVE, *version).ok());
}

void WaitServing(Cluster& c, int reader) {
  auto ch = LocalChannel(c.reader_port(reader));
  absl::Status s = WaitForHealth(ch.get(), Health::kServing, absl::Seconds(60));
  INFO("reader " << reader << ": " << s.ToString());
  REQUIRE(s.ok());
}

// The registry row of `tenant`, read as a reader reads it.
storage::TenantEntry RegistryEntry(Cluster& c, const std::string& tenant) {
  host::DataDir dir(c.host_data_dir());
  auto control = storage::ControlDb::Open(dir.ControlDbPath(), {.read_only = true});
  REQUIRE(control.ok());
  auto state = (*control)->Read();
  REQUIRE(state.ok());
  for (const auto& t : state->tenants) {
    if (t.name == tenant) return t;
  }
  FAIL("tenant " << tenant << " is not registered");
  return {};
}

// Polls `cond` every 10 ms for at most `timeout`.
template <typename Cond>
bool Await(Cond cond, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return cond();
}

TEST_CASE("a write is visible on every reader of the host without waiting for a poll",
          "[integration][index]") {
  // A 1 s safety poll: without the writer's signal a write would show on a
  // reader after ~500 ms on average.
  auto c = StartCluster(2, {"--poll_interval=1s"});
  SetUpTenant(*c, "acme");
  WaitServing(*c, 0);
  WaitServing(*c, 1);
  std::vector<double> latency_ms[2];
  for (int i = 0; i < 15; ++i) {
    const std::string user = absl::StrCat("u", i);
    const absl::Time start = absl::Now();
    REQUIRE(Insert(*c, "acme", {ReaderRole(user, "anvils")}).ok());
    for (int reader : {0, 1}) {
      // minimize_latency: no token, so only the reader's own view decides.
      const bool seen = Await(
          [&] {
            v1::AuthorizeResponse resp;
            return Authorize(*c, reader, CanRead("acme", user, "anvils"), &resp).ok() &&
                   resp.allowed();
          },
          absl::Seconds(5));
      REQUIRE(seen);
      latency_ms[reader].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    }
  }
  for (auto& l : latency_ms) {
    std::sort(l.begin(), l.end());
    INFO("median write -> visible " << l[l.size() / 2] << " ms");
    CHECK(l[l.size() / 2] < 250);
  }
}

TEST_CASE("200k facts under steady writes and another tenant's bulk load: no read fails",
          "[integration][index]") {
  auto c = StartCluster(2);
  SetUpTenant(*c, "big");
  SetUpTenant(*c, "small");
  WaitServing(*c, 0);
  WaitServing(*c, 1);
  REQUIRE(Insert(*c, "small", {ReaderRole("alice", "anvils")}).ok());
  for (int reader : {0, 1}) {
    REQUIRE(Await(
        [&] {
          v1::AuthorizeResponse resp;
          return Authorize(*c, reader, CanRead("small", "alice", "anvils"), &resp).ok() &&
                 resp.allowed();
        },
        absl::Seconds(10)));
  }

  // Readers of "small" on both readers, and writes to it, for as long as
  // `phase` is 1 (big's bulk load) or 2 (steady writes to big).
  std::atomic<int> phase{1};
  std::atomic<int64_t> reads{0}, failures{0};
  absl::Mutex mu;
  std::string first_failure;
  auto reader_loop = [&](int reader, const std::string& tenant, const std::string& user,
                         const std::string& repo) {
    while (phase.load() != 0) {
      v1::AuthorizeResponse resp;
      grpc::Status s = Authorize(*c, reader, CanRead(tenant, user, repo), &resp);
      ++reads;
      if (!s.ok() || !resp.allowed()) {
        ++failures;
        absl::MutexLock l(&mu);
        if (first_failure.empty()) {
          first_failure = absl::StrCat(
              tenant, " on reader ", reader, ": ",
              s.ok() ? absl::StrCat("denied at offset ", resp.evaluation().offset())
                     : s.error_message(),
              " (", absl::FormatTime(absl::Now()), ")");
        }
      }
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(reader_loop, 0, "small", "alice", "anvils");
  threads.emplace_back(reader_loop, 1, "small", "alice", "anvils");
  threads.emplace_back([&] {
    for (int i = 0; phase.load() != 0; ++i) {
      (void)Insert(*c, "small", {ReaderRole(absl::StrCat("s", i), "anvils")});
      absl::SleepFor(absl::Milliseconds(20));
    }
  });

  // Phase 1: big's bulk load, 200 writes of 1,000 facts.
  constexpr int kWrites = 200;
  uint64_t last = 0;
  for (int w = 0; w < kWrites; ++w) {
    std::vector<v1::Fact> facts;
    for (int i = 0; i < 1000; ++i) {
      const int n = w * 1000 + i;
      facts.push_back(ReaderRole(absl::StrCat("user", n % 5000), absl::StrCat("repo", n / 5)));
    }
    auto offset = Insert(*c, "big", facts);
    INFO(offset.status().ToString());
    REQUIRE(offset.ok());
    last = *offset;
  }
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE, last, absl::Seconds(120)).ok());
  REQUIRE(Await(
      [&] {
        v1::AuthorizeResponse resp;
        return Authorize(*c, 0, CanRead("big", "user4999", "repo39999"), &resp).ok() &&
               resp.allowed() && resp.evaluation().offset() >= last;
      },
      absl::Seconds(60)));
  const int64_t bulk_reads = reads.load();

  // Phase 2: steady single-fact writes to big, reads of big on both readers.
  phase = 2;
  threads.emplace_back(reader_loop, 0, "big", "user4999", "repo39999");
  threads.emplace_back(reader_loop, 1, "big", "user7", "repo1");
  std::string last_token;
  for (int i = 0; i < 300; ++i) {
    v1::WriteRequest req;
    req.set_tenant("big");
    *req.add_operations()->mutable_insert() = ReaderRole(absl::StrCat("late", i), "repo7");
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
    v1::WriteResponse resp;
    REQUIRE(c->log().Write(&ctx, req, &resp).ok());
    last_token = resp.consistency_token();
    absl::SleepFor(absl::Milliseconds(20));
  }
  phase = 0;
  for (auto& t : threads) t.join();
  {
    absl::MutexLock l(&mu);
    INFO("reads " << reads.load() << " (" << bulk_reads << " during the bulk load), first failure: "
                  << first_failure);
    CHECK(failures.load() == 0);
    CHECK(bulk_reads > 50);
  }
  // Every late write is there, read at least at the last one's offset.
  for (int reader : {0, 1}) {
    v1::AuthorizeRequest req = CanRead("big", "late299", "repo7");
    req.mutable_consistency()->set_at_least(last_token);
    v1::AuthorizeResponse resp;
    REQUIRE(Authorize(*c, reader, req, &resp).ok());
    CHECK(resp.allowed());
  }
  // The tenant is served from the host's index files, not private copies.
  const storage::TenantEntry big = RegistryEntry(*c, "big");
  CHECK_FALSE(big.index.base.empty());
  CHECK(big.index.base_offset > 1);
}

TEST_CASE("a restarted writer adopts its index files and rebuilds a damaged one",
          "[integration][index]") {
  auto c = StartCluster(1);
  SetUpTenant(*c, "acme");
  std::vector<v1::Fact> facts;
  for (int i = 0; i < 3000; ++i) facts.push_back(ReaderRole(absl::StrCat("u", i), "anvils"));
  int64_t last = 0;
  for (size_t i = 0; i < facts.size(); i += 1000) {
    auto offset = Insert(*c, "acme",
                         std::vector<v1::Fact>(facts.begin() + i, facts.begin() + i + 1000));
    REQUIRE(offset.ok());
    last = static_cast<int64_t>(*offset);
  }
  // The maintainer builds a recent layer after every 100 changes: wait
  // until the registry names files holding the whole load, and has stopped
  // changing (a file built from the same changes may still be on its way to
  // control.db).
  storage::TenantEntry entry;
  absl::Time stable_since = absl::Now();
  REQUIRE(Await(
      [&] {
        const storage::TenantEntry now = RegistryEntry(*c, "acme");
        if (!(now.index == entry.index)) stable_since = absl::Now();
        entry = now;
        return !entry.index.base.empty() &&
               std::max({entry.index.base_offset, entry.index.delta_offset,
                         entry.index.recent_offset}) >= last &&
               absl::Now() - stable_since >= absl::Milliseconds(500);
      },
      absl::Seconds(30)));

  // Restart as is: the same files stay named.
  REQUIRE(c->StopReader(0).ok());
  REQUIRE(c->StopWriter(SIGKILL).ok());
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE).ok());
  absl::SleepFor(absl::Milliseconds(300));  // let the maintainer take over
  CHECK(RegistryEntry(*c, "acme").index == entry.index);

  // Damage the named base while nothing maps it, then restart.
  REQUIRE(c->StopWriter(SIGKILL).ok());
  const std::string base_path =
      host::DataDir(c->host_data_dir()).TenantPath(1, entry.index.base);
  {
    std::fstream f(base_path, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f.good());
    f.seekp(200);
    f.put('\x5a');
  }
  REQUIRE(c->StartWriter().ok());
  REQUIRE(c->WaitForWriter(v1::REPLICATION_STATE_LIVE).ok());
  storage::TenantEntry rebuilt;
  REQUIRE(Await(
      [&] {
        rebuilt = RegistryEntry(*c, "acme");
        return !rebuilt.index.base.empty() && rebuilt.index.base != entry.index.base;
      },
      absl::Seconds(30)));
  REQUIRE(c->StartReader(0).ok());
  WaitServing(*c, 0);
  for (const std::string user : {"u0", "u1500", "u2999"}) {
    v1::AuthorizeResponse resp;
    REQUIRE(Authorize(*c, 0, CanRead("acme", user, "anvils"), &resp).ok());
    CHECK(resp.allowed());
  }
  v1::AuthorizeResponse resp;
  REQUIRE(Authorize(*c, 0, CanRead("acme", "nobody", "anvils"), &resp).ok());
  CHECK_FALSE(resp.allowed());
}

TEST_CASE("every file and directory the services create is private to their user",
          "[integration][index]") {
  auto c = StartCluster(1);
  SetUpTenant(*c, "acme");
  std::vector<v1::Fact> facts;
  for (int i = 0; i < 200; ++i) facts.push_back(ReaderRole(absl::StrCat("u", i), "anvils"));
  auto offset = Insert(*c, "acme", facts);
  REQUIRE(offset.ok());
  REQUIRE(Await(
      [&] {
        const storage::TenantEntry e = RegistryEntry(*c, "acme");
        return !e.index.base.empty() &&
               std::max({e.index.base_offset, e.index.delta_offset, e.index.recent_offset}) >=
                   static_cast<int64_t>(*offset);
      },
      absl::Seconds(30)));
  int files = 0, dirs = 0;
  for (const std::string& root : {c->log_data_dir(), c->host_data_dir()}) {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::filesystem::file_status st = it->symlink_status(ec);
      const auto others = std::filesystem::perms::group_all | std::filesystem::perms::others_all;
      INFO(it->path().string());
      CHECK((st.permissions() & others) == std::filesystem::perms::none);
      if (std::filesystem::is_directory(st)) {
        ++dirs;
      } else {
        ++files;
      }
    }
    REQUIRE_FALSE(ec);
  }
  CHECK(files > 10);  // databases, WALs, index segments, notify, registrations
  CHECK(dirs > 3);
}

}  // namespace
}  // namespace arbiter::testing
