// Durability and order of arbiter-log under kill -9 (issue 4, item 7): 8
// concurrent writers, the log killed at seeded random moments and at the
// hidden crash point between commit and acknowledgement. After each restart
// every acknowledged offset is present with the same content, offsets are
// gap-free, and no offset is ever reused with other content. (The fsync
// itself is proven by the sync-counting VFS in tests/unit/logstore.)

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_join.h"
#include "tests/integration/log_test_util.h"
#include "tests/testing/etcd.h"

namespace arbiter::testing {
namespace {

std::string ExpectedPayload(const v1::WriteRequest& w) {
  v1::LogPayload p;
  *p.mutable_write()->mutable_operations() = w.operations();
  p.mutable_write()->set_request_id(w.request_id());
  p.set_key_id(kTestKeyId);  // the key the test writes with
  return p.SerializeAsString();
}

struct History {
  std::mutex mu;
  std::map<uint64_t, std::string> acked;  // offset -> expected payload
  std::map<uint64_t, std::string> seen;   // offset -> payload seen after a restart
  uint64_t max_head = 0;
};

// Runs 8 writers until the log goes away; returns how many writes were acked.
int WriteUntilGone(LogServer& log, History& h, int round, std::atomic<bool>& stop) {
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        std::string id = absl::StrCat("r", round, "-w", t, "-", i);
        v1::WriteRequest w = InsertRequest("acme", {{"public", id}, {"reader", id}}, id);
        uint64_t offset = 0;
        grpc::Status s = log.Write(w, &offset);
        if (!s.ok()) return;  // the log is gone
        std::lock_guard<std::mutex> l(h.mu);
        CHECK(h.acked.count(offset) == 0);
        h.acked[offset] = ExpectedPayload(w);
        acked.fetch_add(1);
      }
    });
  }
  for (auto& w : writers) w.join();
  return acked.load();
}

void Verify(LogServer& log, History& h) {
  std::vector<v1::LogEntry> entries = log.ReadAll(1);
  std::lock_guard<std::mutex> l(h.mu);
  uint64_t head = entries.empty() ? 0 : entries.back().offset();
  CHECK(head >= h.max_head);  // offsets never go backwards
  for (size_t i = 0; i < entries.size(); ++i) {
    REQUIRE(entries[i].offset() == i + 1);  // gap-free
  }
  int checked = 0;
  for (const auto& [offset, payload] : h.acked) {
    REQUIRE(offset <= head);
    CHECK(entries[offset - 1].payload() == payload);
    ++checked;
  }
  for (const auto& [offset, payload] : h.seen) {
    REQUIRE(offset <= head);
    CHECK(entries[offset - 1].payload() == payload);  // never reused
  }
  for (const auto& e : entries) h.seen[e.offset()] = e.payload();
  h.max_head = head;
  INFO("verified " << checked << " acknowledged offsets, head " << head);
  CHECK(checked == static_cast<int>(h.acked.size()));
}

// Four rounds of kill -9 under 8 writers, then the crash point.
void KillRounds(LogServer& log) {
  log.Start();
  REQUIRE(log.CreateTenant("acme").ok());
  REQUIRE(log.SetPolicy("acme", kTestPolicy).ok());
  History h;
  std::mt19937 rng(20261126);  // seeded: the kill moments are reproducible
  std::uniform_int_distribution<int> delay_ms(50, 600);

  for (int round = 0; round < 4; ++round) {
    std::atomic<bool> stop{false};
    int acked = 0;
    std::thread writers([&] { acked = WriteUntilGone(log, h, round, stop); });
    absl::SleepFor(absl::Milliseconds(delay_ms(rng)));  // the random moment
    log.process()->Kill();
    stop = true;
    writers.join();
    log.Kill();
    INFO("round " << round << ": " << acked << " writes acknowledged before kill -9");
    log.Start();
    Verify(log, h);
  }

  // The hidden crash point: the group is committed, then the process exits
  // before any acknowledgement. The write is unacknowledged (the client sees
  // an error), may or may not be visible after restart, and nothing acked
  // before is lost.
  const uint64_t head_before_crash = h.max_head;
  log.Kill();
  log.Start({"--crash_at=after_commit_before_ack"});
  uint64_t offset = 0;
  grpc::Status s = log.Write(InsertRequest("acme", {{"public", "crash"}}), &offset);
  CHECK(!s.ok());
  auto exit = log.process()->Wait(absl::Seconds(10));
  INFO(s.error_message() << "\n" << log.process()->LogTail());
  REQUIRE(exit.ok());
  CHECK(exit->exited);
  CHECK(exit->code == 3);
  log.Kill();
  log.Start();
  Verify(log, h);
  // The committed-but-unacknowledged entry is durable (it was fsynced).
  CHECK(h.max_head == head_before_crash + 1);
  // And writes continue after it with the next offset.
  REQUIRE(log.Write(InsertRequest("acme", {{"public", "after"}}), &offset).ok());
  CHECK(offset == h.max_head + 1);
}

TEST_CASE("acknowledged writes survive kill -9 and a crash between commit and ack",
          "[integration][log][durability]") {
  TempDir dir;
  LogServer log(dir);
  KillRounds(log);
}

// The same with the entries in etcd (issue #14): an acknowledged write is one
// etcd acknowledged, and a restarted log continues from etcd's head.
TEST_CASE("with --store=etcd: acknowledged writes survive kill -9 and a crash between commit "
          "and ack",
          "[integration][log][durability][etcd]") {
  auto etcd = EtcdCluster::Start(1);
  INFO(etcd.status().ToString());
  REQUIRE(etcd.ok());
  TempDir dir;
  LogServer log(dir, {"--store=etcd", "--etcd_endpoints=" + absl::StrJoin((*etcd)->endpoints(), ","),
                      "--etcd_prefix=/durability/"});
  KillRounds(log);
  // What cannot fit one etcd Txn is refused before it gets an offset, and
  // the log stays up: a policy of 900 KB (its entry and its tenant record
  // both hold the source, over etcd's 1.5 MiB).
  const std::string big_policy =
      std::string(kTestPolicy) + "\n# " + std::string(900 << 10, 'x') + "\n";
  grpc::Status too_big = log.SetPolicy("acme", big_policy);
  CHECK(too_big.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(too_big.error_message(), Catch::Contains("--etcd_max_request_bytes"));
  CHECK(log.process()->running());
  // Nothing in the data directory holds the log: a front-end with an empty
  // one continues the same log.
  log.Kill();
  std::filesystem::remove_all(log.data_dir());
  log.Start();
  // A new front-end id: the killed run's leadership holds until its lease
  // (--leader_lease_ttl, 5 s) expires, and writes are UNAVAILABLE until then.
  uint64_t offset = 0;
  grpc::Status s = log.Write(InsertRequest("acme", {{"public", "fresh"}}, "fresh"), &offset);
  for (absl::Time until = absl::Now() + absl::Seconds(30);
       s.error_code() == grpc::StatusCode::UNAVAILABLE && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(100));
    s = log.Write(InsertRequest("acme", {{"public", "fresh"}}, "fresh"), &offset);
  }
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(log.ReadAll(1).size() == offset);
}

}  // namespace
}  // namespace arbiter::testing
