#include "services/writer/apply_lanes.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace arbiter::writer {
namespace {

using storage::BootTime;

v1::LogEntry Entry(int64_t offset, const std::string& tenant, size_t bytes) {
  v1::LogEntry e;
  e.set_offset(static_cast<uint64_t>(offset));
  e.set_tenant(tenant);
  e.set_payload(std::string(bytes, 'x'));
  return e;
}

BootTime At(int64_t ns) { return BootTime{"boot", ns}; }

std::vector<std::pair<std::string, int64_t>> Batch(const std::vector<v1::LogEntry>& b) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const v1::LogEntry& e : b) out.emplace_back(e.tenant(), static_cast<int64_t>(e.offset()));
  return out;
}

// Every message the lanes heard, for the reference FreshAsOf: the receive
// time of the newest message whose head <= c.
struct Heard {
  std::vector<std::pair<int64_t, int64_t>> messages;  // (head, ns), receive order
  std::optional<int64_t> FreshAsOf(int64_t c) const {
    // Heads never decrease: the last message with head <= c.
    auto it = std::upper_bound(messages.begin(), messages.end(), c,
                               [](int64_t v, const auto& m) { return v < m.first; });
    if (it == messages.begin()) return std::nullopt;
    return std::prev(it)->second;
  }
};

TEST_CASE("apply lanes: a bulk tenant is sliced by bytes, other tenants go in the "
          "first batch",
          "[unit][writer]") {
  ApplyLanes lanes(10);
  // 11..30: "bulk" gets 100-byte entries, "a" and "b" small ones in between.
  std::vector<std::pair<std::string, int64_t>> small;
  for (int64_t o = 11; o <= 30; ++o) {
    const bool is_small = o % 4 == 0;
    const std::string tenant = is_small ? (o % 8 == 0 ? "a" : "b") : "bulk";
    REQUIRE(lanes.Add(Entry(o, tenant, is_small ? 10 : 100), o, At(o)).ok());
    if (is_small) small.emplace_back(tenant, o);
  }
  CHECK(lanes.received() == 30);
  CHECK(lanes.applied() == 10);
  CHECK(lanes.queued_bytes() == 15 * 100 + 5 * 10);

  // 250 bytes a lane: two bulk entries (a third would pass the budget), and
  // every small entry of a and b.
  auto first = lanes.TakeBatch(250, 1000);
  std::vector<std::pair<std::string, int64_t>> expected = {{"bulk", 11}, {"bulk", 13}};
  expected.insert(expected.end(), small.begin(), small.end());
  std::sort(expected.begin(), expected.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  CHECK(Batch(first) == expected);
  CHECK(std::is_sorted(first.begin(), first.end(), [](const auto& x, const auto& y) {
    return x.offset() < y.offset();
  }));
  // Only bulk lags now, complete through the entry before its oldest waiting.
  CHECK(lanes.Lagging() == std::vector<std::pair<std::string, int64_t>>{{"bulk", 13}});
  CHECK(lanes.applied() == 13);
  CHECK(lanes.received() == 30);
  CHECK(lanes.queued_bytes() == 13 * 100);

  // Later batches take bulk two entries at a time.
  auto second = lanes.TakeBatch(250, 1000);
  CHECK(Batch(second) == std::vector<std::pair<std::string, int64_t>>{{"bulk", 14}, {"bulk", 15}});
  CHECK(lanes.applied() == 16);  // 16 (a) went in the first batch
  CHECK(lanes.Lagging() == std::vector<std::pair<std::string, int64_t>>{{"bulk", 16}});

  // An entry larger than the budget still goes, alone.
  auto single = lanes.TakeBatch(50, 1000);
  CHECK(Batch(single) == std::vector<std::pair<std::string, int64_t>>{{"bulk", 17}});
  // max_entries bounds the whole batch.
  auto capped = lanes.TakeBatch(1 << 20, 3);
  CHECK(capped.size() == 3);
  CHECK(Batch(capped).front() == std::pair<std::string, int64_t>{"bulk", 18});
  auto rest = lanes.TakeBatch(1 << 20, 1000);
  CHECK(rest.size() == 15 - 2 - 2 - 1 - 3);
  CHECK(lanes.empty());
  CHECK(lanes.Lagging().empty());
  CHECK(lanes.applied() == 30);
  CHECK(lanes.queued_bytes() == 0);
  CHECK(lanes.TakeBatch(250, 1000).empty());
}

TEST_CASE("apply lanes: applied, received and lagging as entries arrive and go",
          "[unit][writer]") {
  ApplyLanes lanes(5);
  CHECK(lanes.applied() == 5);
  CHECK(lanes.received() == 5);
  CHECK(lanes.head() == 0);
  CHECK(lanes.empty());
  REQUIRE(lanes.Add(Entry(6, "a", 1), 6, At(1)).ok());
  REQUIRE(lanes.Add(Entry(7, "b", 1), 9, At(2)).ok());
  REQUIRE(lanes.Add(Entry(8, "a", 1), 9, At(3)).ok());
  CHECK(lanes.received() == 8);
  CHECK(lanes.head() == 9);
  CHECK(lanes.applied() == 5);
  CHECK(lanes.Lagging() ==
        std::vector<std::pair<std::string, int64_t>>{{"a", 5}, {"b", 6}});
  // A 1-byte budget: one entry from each lane (a:6, b:7); a:8 waits.
  auto batch = lanes.TakeBatch(1, 2);
  CHECK(Batch(batch) == std::vector<std::pair<std::string, int64_t>>{{"a", 6}, {"b", 7}});
  CHECK(lanes.applied() == 7);
  CHECK(lanes.Lagging() == std::vector<std::pair<std::string, int64_t>>{{"a", 7}});
  lanes.Prune();
  CHECK(lanes.applied() == 7);
  REQUIRE(lanes.TakeBatch(1, 10).size() == 1);
  CHECK(lanes.applied() == 8);
  CHECK(lanes.received() == 8);
  CHECK(lanes.Lagging().empty());
}

TEST_CASE("apply lanes: an offset gap or repeat is DATA_LOSS and changes nothing",
          "[unit][writer]") {
  ApplyLanes lanes(10);
  REQUIRE(lanes.Add(Entry(11, "a", 3), 11, At(1)).ok());
  for (int64_t bad : {13, 11, 10, 0}) {
    absl::Status s = lanes.Add(Entry(bad, "a", 3), 12, At(2));
    INFO(s.ToString());
    CHECK(absl::IsDataLoss(s));
  }
  CHECK(lanes.received() == 11);
  CHECK(lanes.queued_bytes() == 3);
  CHECK(lanes.head() == 11);  // the refused messages noted no head
  CHECK(lanes.Add(Entry(12, "a", 3), 12, At(3)).ok());
}

TEST_CASE("apply lanes: FreshAsOf is the time of the newest message with head <= c",
          "[unit][writer]") {
  ApplyLanes lanes(0);
  Heard heard;
  CHECK(!lanes.FreshAsOf(100).has_value());
  auto add = [&](int64_t offset, int64_t head, int64_t ns) {
    REQUIRE(lanes.Add(Entry(offset, "t", 1), head, At(ns)).ok());
    heard.messages.emplace_back(head, ns);
  };
  auto beat = [&](int64_t head, int64_t ns) {
    lanes.Heartbeat(head, At(ns));
    heard.messages.emplace_back(head, ns);
  };
  add(1, 3, 100);
  add(2, 3, 110);  // the same head later: the later time
  beat(5, 120);
  add(3, 5, 130);
  beat(9, 140);
  beat(9, 150);
  add(4, 12, 160);
  for (int64_t c = 0; c <= 14; ++c) {
    INFO("c = " << c);
    auto got = lanes.FreshAsOf(c);
    auto want = heard.FreshAsOf(c);
    REQUIRE(got.has_value() == want.has_value());
    if (want.has_value()) {
      CHECK(got->boottime_ns == *want);
      CHECK(got->boot_id == "boot");
    }
  }
  CHECK(!lanes.FreshAsOf(2).has_value());
  CHECK(lanes.FreshAsOf(3)->boottime_ns == 110);
  CHECK(lanes.FreshAsOf(8)->boottime_ns == 130);  // not 140: head 9 > 8
  CHECK(lanes.FreshAsOf(11)->boottime_ns == 150);
  CHECK(lanes.FreshAsOf(12)->boottime_ns == 160);
  CHECK(lanes.head() == 12);
}

TEST_CASE("apply lanes: Prune keeps every head a later query can need",
          "[unit][writer]") {
  // Random runs: after every Prune, FreshAsOf(c) for every c a tenant can be
  // complete through (>= applied()) answers as the full history does.
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    ApplyLanes lanes(0);
    Heard heard;
    int64_t offset = 0, head = 0, ns = 0;
    for (int step = 0; step < 300; ++step) {
      const uint32_t what = rng() % 10;
      head += rng() % 3;
      ns += 1 + rng() % 5;
      if (what < 5) {
        ++offset;
        head = std::max(head, offset);
        const std::string tenant = std::string(1, static_cast<char>('a' + rng() % 3));
        REQUIRE(lanes.Add(Entry(offset, tenant, 1 + rng() % 200), head, At(ns)).ok());
        heard.messages.emplace_back(head, ns);
      } else if (what < 7) {
        lanes.Heartbeat(head, At(ns));
        heard.messages.emplace_back(head, ns);
      } else {
        (void)lanes.TakeBatch(1 + rng() % 300, 1 + rng() % 6);
        lanes.Prune();
      }
      INFO("seed " << seed << " step " << step << " applied " << lanes.applied());
      // Every complete offset the lanes can report.
      std::vector<int64_t> completes = {lanes.applied(), lanes.received()};
      for (const auto& [tenant, c] : lanes.Lagging()) {
        CHECK(c >= lanes.applied());
        completes.push_back(c);
      }
      for (int64_t c = lanes.applied(); c <= head + 2; ++c) completes.push_back(c);
      for (int64_t c : completes) {
        auto got = lanes.FreshAsOf(c);
        auto want = heard.FreshAsOf(c);
        INFO("c = " << c);
        REQUIRE(got.has_value() == want.has_value());
        if (want.has_value()) REQUIRE(got->boottime_ns == *want);
      }
    }
  }
}

TEST_CASE("apply lanes: thinning past 4096 heads only ever answers an older time",
          "[unit][writer]") {
  ApplyLanes lanes(0);
  Heard heard;
  // Catching up: every message carries a new head (no Prune: the lanes are
  // never drained).
  int64_t offset = 0;
  for (int i = 1; i <= 20000; ++i) {
    const int64_t head = 2 * i;
    if (i % 3 == 0) {
      ++offset;
      REQUIRE(lanes.Add(Entry(offset, "bulk", 1), head, At(10 * i)).ok());
    } else {
      lanes.Heartbeat(head, At(10 * i));
    }
    heard.messages.emplace_back(head, 10 * i);
  }
  int older = 0;
  for (int64_t c = 0; c <= 2 * 20000 + 3; c += 1 + c / 4000) {
    INFO("c = " << c);
    auto got = lanes.FreshAsOf(c);
    auto want = heard.FreshAsOf(c);
    REQUIRE(got.has_value() == want.has_value());
    if (!want.has_value()) continue;
    // Never later than the truth, and always the time of a message whose
    // head <= c (time 10 i carried head 2 i).
    REQUIRE(got->boottime_ns <= *want);
    REQUIRE(got->boottime_ns % 10 == 0);
    REQUIRE(2 * (got->boottime_ns / 10) <= c);
    if (got->boottime_ns < *want) ++older;
  }
  CHECK(older > 0);  // the thinning did happen
  // The newest message is never thinned away.
  CHECK(lanes.FreshAsOf(40000)->boottime_ns == 200000);
  CHECK(lanes.head() == 40000);
}

}  // namespace
}  // namespace arbiter::writer
