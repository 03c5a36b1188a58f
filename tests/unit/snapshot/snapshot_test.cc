#include "common/snapshot/snapshot.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "absl/time/clock.h"
#include "common/base/sha256.h"
#include "common/replica/applier.h"
#include "tests/testing/process.h"
#include "tests/unit/replica/test_entries.h"

namespace arbiter::snapshot {
namespace {

using testing::CreateEntry;
using testing::WriteEntry;

std::set<std::string> IdsIn(const std::string& path) {
  auto db = storage::TenantDb::Open(path, {});
  REQUIRE(db.ok());
  std::set<std::string> out;
  REQUIRE((*db)->ForEachFact([&](const Fact& f) {
    out.insert(f.args[0].id);
    return true;
  }).ok());
  return out;
}

TEST_CASE("a snapshot copies each tenant as its read transaction saw it",
          "[unit][snapshot]") {
  testing::TempDir dir;
  auto applier = replica::Applier::Open({.replica_dir = dir.path()});
  REQUIRE(applier.ok());
  REQUIRE((*applier)->ApplyBatch({CreateEntry(1, "acme"), CreateEntry(2, "beta"),
                                  WriteEntry(3, "acme", {"a"}), WriteEntry(4, "beta", {"b"})})
              .ok());
  // Pin both views at offset 4...
  std::vector<std::unique_ptr<storage::TenantDb>> dbs;
  std::vector<storage::Transaction> txns;
  std::vector<TenantSource> sources;
  for (std::string t : {"acme", "beta"}) {
    auto db = storage::TenantDb::Open(dir.File("tenants/" + t + ".db"), {.read_only = true});
    REQUIRE(db.ok());
    auto txn = storage::Transaction::Begin((*db)->db(), storage::Transaction::Mode::kRead);
    REQUIRE(txn.ok());
    txns.push_back(*std::move(txn));
    sources.push_back({.name = t, .db = (*db)->db(), .applied_offset = 4});
    dbs.push_back(*std::move(db));
  }
  // ...then the applier moves on: the snapshot must not see offset 5.
  REQUIRE((*applier)->Apply(WriteEntry(5, "acme", {"later", "-a"})).ok());

  mkdir(dir.File("snaps").c_str(), 0755);
  auto m = WriteSnapshot(dir.File("snaps"),
                         {.cluster_id = "c", .epoch = 1, .offset = 4,
                          .created_unix_ms = absl::ToUnixMillis(absl::Now())},
                         sources);
  REQUIRE(m.ok());
  txns.clear();
  CHECK(m->snapshot_id() == "snap-00000000000000000004");
  REQUIRE(m->files_size() == 2);
  for (const auto& f : m->files()) {
    std::string path = dir.File("snaps/" + m->snapshot_id() + "/" + f.name());
    CHECK(std::filesystem::file_size(path) == f.size_bytes());
    CHECK(*Sha256File(path) == f.sha256());
  }
  CHECK(IdsIn(dir.File("snaps/snap-00000000000000000004/tenants/acme.db")) ==
        std::set<std::string>{"a"});
  CHECK(IdsIn(dir.File("snaps/snap-00000000000000000004/tenants/beta.db")) ==
        std::set<std::string>{"b"});
  CHECK(WriteSnapshot(dir.File("snaps"), {.offset = 4}, {}).status().code() ==
        absl::StatusCode::kAlreadyExists);
}

TEST_CASE("store: list, chunks, pins, retention, cleanup", "[unit][snapshot]") {
  testing::TempDir dir;
  SnapshotStore store(dir.File("snaps"));
  REQUIRE(store.Cleanup().ok());
  absl::Time now = absl::Now();
  for (uint64_t off : {10, 20, 30}) {
    REQUIRE(WriteSnapshot(store.dir(),
                          {.cluster_id = "c", .offset = off,
                           .created_unix_ms = absl::ToUnixMillis(now - absl::Hours(40 - off))},
                          {})
                .ok());
  }
  std::filesystem::create_directories(dir.File("snaps/snap-00000000000000000040.tmp"));
  std::filesystem::create_directories(dir.File("snaps/snap-00000000000000000050"));
  auto list = store.List();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  CHECK((*list)[0].offset() == 30);
  CHECK(store.Get("snap-nope").status().code() == absl::StatusCode::kNotFound);
  REQUIRE(store.Cleanup().ok());
  CHECK(!std::filesystem::exists(dir.File("snaps/snap-00000000000000000050")));

  // K = 1, nothing truncated yet (oldest retained entry 1).
  // Retention 25h: 10 (30h old), 20 (20h old), 30 (10h old). R = the newest
  // >= 25h old = 10; next = 20 (the oldest younger); 30 is the newest.
  auto r = store.ApplyRetention(now, {.keep = 1, .retention = absl::Hours(25)}, 1);
  REQUIRE(r.ok());
  CHECK(*r == 10);
  CHECK(store.List()->size() == 3);
  // Retention 15h: R = 20, next = 30, so 10 goes unless pinned.
  store.Pin("snap-00000000000000000010");
  r = store.ApplyRetention(now, {.keep = 1, .retention = absl::Hours(15)}, 1);
  CHECK(*r == 20);
  CHECK(store.List()->size() == 3);
  store.Unpin("snap-00000000000000000010");
  r = store.ApplyRetention(now, {.keep = 1, .retention = absl::Hours(15)}, 1);
  CHECK(store.List()->size() == 2);
  // Retention 0: R = 30 = the newest; 20 goes.
  r = store.ApplyRetention(now, {.keep = 1, .retention = absl::ZeroDuration()}, 1);
  CHECK(*r == 30);
  CHECK(store.List()->size() == 1);
  CHECK(store.ApplyRetention(now, {.keep = 0}, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

std::vector<uint64_t> Offsets(const SnapshotStore& store) {
  auto list = store.List();
  REQUIRE(list.ok());
  std::vector<uint64_t> out;
  for (const auto& m : *list) out.push_back(m.offset());
  return out;
}

TEST_CASE("retention keeps the newest K, the pinned, the floor and the next truncation point",
          "[unit][snapshot]") {
  testing::TempDir dir;
  SnapshotStore store(dir.File("snaps"));
  REQUIRE(store.Cleanup().ok());
  // Snapshot o was cut at minute o; it is minute 110; retention 60 min.
  const absl::Time base = absl::FromUnixSeconds(1'700'000'000);
  for (uint64_t o = 10; o <= 100; o += 10) {
    REQUIRE(WriteSnapshot(store.dir(),
                          {.cluster_id = "c", .offset = o,
                           .created_unix_ms = absl::ToUnixMillis(base + absl::Minutes(o))},
                          {})
                .ok());
  }
  const RetentionPolicy policy{.keep = 3, .retention = absl::Minutes(60)};
  absl::Time now = base + absl::Minutes(110);
  // R = 50 (the newest cut at or before minute 50), next = 60, newest three
  // = 100, 90, 80, pinned = 30; the log was never truncated, so no floor.
  // 70 is deleted although it is younger than the retention.
  store.Pin("snap-00000000000000000030");
  auto r = store.ApplyRetention(now, policy, 1);
  REQUIRE(r.ok());
  CHECK(*r == 50);
  CHECK(Offsets(store) == std::vector<uint64_t>{100, 90, 80, 60, 50, 30});
  store.Unpin("snap-00000000000000000030");

  // The log truncated entries <= 50: 50 is now the floor as well.
  r = store.ApplyRetention(now, policy, 51);
  CHECK(*r == 50);
  CHECK(Offsets(store) == std::vector<uint64_t>{100, 90, 80, 60, 50});

  // 15 minutes later 60 is old enough: R = 60, next = 80; 50 stays as the
  // floor until the log has truncated to 60.
  now += absl::Minutes(15);
  r = store.ApplyRetention(now, policy, 51);
  CHECK(*r == 60);
  CHECK(Offsets(store) == std::vector<uint64_t>{100, 90, 80, 60, 50});
  r = store.ApplyRetention(now, policy, 61);
  CHECK(*r == 60);
  CHECK(Offsets(store) == std::vector<uint64_t>{100, 90, 80, 60});

  // K = 1: the newest, next (80) and R (60, also the floor) stay.
  REQUIRE(WriteSnapshot(store.dir(),
                        {.cluster_id = "c", .offset = 105,
                         .created_unix_ms = absl::ToUnixMillis(base + absl::Minutes(105))},
                        {})
              .ok());
  r = store.ApplyRetention(now, {.keep = 1, .retention = absl::Minutes(60)}, 61);
  CHECK(*r == 60);
  CHECK(Offsets(store) == std::vector<uint64_t>{105, 80, 60});
}

TEST_CASE("steady snapshots: bounded count, entries younger than the retention kept, "
          "truncation moves on",
          "[unit][snapshot]") {
  testing::TempDir dir;
  SnapshotStore store(dir.File("snaps"));
  REQUIRE(store.Cleanup().ok());
  // One entry per minute (entry o written at minute o), a snapshot every 10
  // minutes, retention 2 h, K = 3, for 10 hours; the log truncates to what
  // retention returns.
  const absl::Time base = absl::FromUnixSeconds(1'700'000'000);
  const RetentionPolicy policy{.keep = 3, .retention = absl::Hours(2)};
  const int64_t retention_min = 120;
  uint64_t oldest_retained = 1;
  for (int64_t minute = 1; minute <= 600; minute += 5) {
    const absl::Time now = base + absl::Minutes(minute);
    if (minute % 10 == 1) {
      REQUIRE(WriteSnapshot(store.dir(),
                            {.cluster_id = "c", .offset = static_cast<uint64_t>(minute),
                             .created_unix_ms = absl::ToUnixMillis(now)},
                            {})
                  .ok());
    }
    auto upto = store.ApplyRetention(now, policy, oldest_retained);
    REQUIRE(upto.ok());
    INFO("minute " << minute << ", truncate to " << *upto);
    // Entries younger than the retention are never truncated.
    if (*upto > 0) CHECK(static_cast<int64_t>(*upto) <= minute - retention_min);
    oldest_retained = std::max(oldest_retained, *upto + 1);
    std::vector<uint64_t> offsets = Offsets(store);
    CHECK(offsets.size() <= 3 + 3);
    CHECK(offsets.front() == static_cast<uint64_t>(minute - (minute - 1) % 10));  // newest kept
    // Every retained entry can be replayed from a kept snapshot.
    if (oldest_retained > 1) {
      CHECK(std::find(offsets.begin(), offsets.end(), oldest_retained - 1) != offsets.end());
    }
    // The log holds at most about two retentions of entries.
    CHECK(minute - static_cast<int64_t>(oldest_retained) <= 2 * retention_min + 40);
  }
  CHECK(oldest_retained > 600 - 2 * retention_min - 40);
}

TEST_CASE("chunks are at most 256 KiB and resume at a byte offset", "[unit][snapshot]") {
  testing::TempDir dir;
  auto applier = replica::Applier::Open({.replica_dir = dir.path()});
  REQUIRE((*applier)->Apply(CreateEntry(1, "big")).ok());
  std::vector<v1::LogEntry> writes;
  for (int i = 0; i < 60; ++i) {
    writes.push_back(WriteEntry(2 + i, "big", {std::string(900, 'a' + i % 26) + std::to_string(i)}));
  }
  REQUIRE((*applier)->ApplyBatch(writes).ok());
  auto db = storage::TenantDb::Open(dir.File("tenants/big.db"), {.read_only = true});
  auto txn = storage::Transaction::Begin((*db)->db(), storage::Transaction::Mode::kRead);
  TenantSource src{.name = "big", .db = (*db)->db()};
  SnapshotStore store(dir.File("snaps"));
  REQUIRE(store.Cleanup().ok());
  auto m = WriteSnapshot(store.dir(), {.offset = 61}, {&src, 1});
  REQUIRE(m.ok());
  const auto& f = m->files(0);
  std::string all;
  uint64_t off = 0;
  while (true) {
    auto c = store.ReadChunk(*m, f.name(), off);
    REQUIRE(c.ok());
    CHECK(c->data.size() <= kChunkBytes);
    CHECK(c->file_size == f.size_bytes());
    if (c->data.empty()) break;
    all += c->data;
    off += c->data.size();
  }
  CHECK(Sha256Hex(all) == f.sha256());
  CHECK(store.ReadChunk(*m, f.name(), f.size_bytes() + 1).status().code() ==
        absl::StatusCode::kOutOfRange);
  CHECK(store.ReadChunk(*m, "tenants/x.db", 0).status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace arbiter::snapshot
