// Snapshots over real gRPC: a snapshot's facts equal a replay of the log to
// the same offset, tenant by tenant; chunked fetch with CRC32C, resume,
// errors; and the log's WAL stays bounded while subscribers read.

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/api/api.h"
#include "absl/strings/str_format.h"
#include "common/base/crc32c.h"
#include "common/base/sha256.h"
#include "common/storage/tenant_db.h"
#include "tests/integration/log_test_util.h"

namespace arbiter::testing {
namespace {

grpc::Status Fetch(LogServer& log, const std::string& id, const std::string& file,
                   uint64_t from, std::string* out, int* chunks = nullptr) {
  grpc::ClientContext ctx;
  WithDeadline(&ctx, absl::Seconds(30));
  v1::FetchSnapshotRequest req;
  req.set_snapshot_id(id);
  req.set_file(file);
  req.set_byte_offset(from);
  auto reader = log.stub()->FetchSnapshot(&ctx, req);
  v1::FetchSnapshotResponse chunk;
  uint64_t expect = from;
  int n = 0;
  while (reader->Read(&chunk)) {
    CHECK(chunk.byte_offset() == expect);
    CHECK(chunk.data().size() <= 256 * 1024);
    CHECK(chunk.crc32c() == Crc32c(chunk.data()));
    expect += chunk.data().size();
    out->append(chunk.data());
    ++n;
  }
  if (chunks) *chunks = n;
  return reader->Finish();
}

using FactSet = std::set<Fact>;

TEST_CASE("a snapshot's facts equal a replay of the log to its offset",
          "[integration][log][snapshot]") {
  TempDir dir;
  LogServer log(dir, {"--snapshot_every_entries=40"});
  log.Start();
  for (const char* t : {"acme", "beta", "gamma"}) REQUIRE(log.CreateTenant(t).ok());
  REQUIRE(log.SetPolicy("acme", kTestPolicy).ok());
  REQUIRE(log.SetPolicy("beta", kTestPolicy).ok());

  std::mt19937 rng(7);
  for (int i = 0; i < 120; ++i) {
    std::string tenant = rng() % 2 ? "acme" : "beta";
    v1::WriteRequest w;
    if (rng() % 4 == 0) {
      w.set_tenant(tenant);
      auto* d = w.add_operations()->mutable_delete_pattern();
      if (rng() % 2) {
        d->set_predicate("is_public");
        auto* a = d->add_args();
        a->set_type("Repository");
        a->set_id(absl::StrCat("repo-", rng() % 10));
      } else {
        d->set_predicate("has_role");
        d->add_args()->set_type("User");  // typed wildcard
        auto* role = d->add_args();
        role->set_type("String");
        role->set_id("reader");
        d->add_args();  // wildcard
      }
    } else {
      w = InsertRequest(tenant, {{"public", absl::StrCat("repo-", rng() % 10)},
                                 {rng() % 2 ? "reader" : "maintainer",
                                  absl::StrCat("user-", rng() % 10)}});
    }
    REQUIRE(log.Write(w).ok());
  }
  const uint64_t head = log.Head().head_offset();

  // Wait for a snapshot that covers at least 80 entries.
  v1::SnapshotManifest m;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    v1::ListSnapshotsResponse list;
    grpc::ClientContext ctx;
    REQUIRE(log.stub()->ListSnapshots(WithDeadline(&ctx), {}, &list).ok());
    if (list.snapshots_size() > 0 && list.snapshots(0).offset() >= 80) {
      m = list.snapshots(0);
      for (int i = 1; i < list.snapshots_size(); ++i) {
        CHECK(list.snapshots(i).offset() < list.snapshots(i - 1).offset());
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(m.offset() >= 80);
  CHECK(m.offset() <= head);
  CHECK(m.cluster_id() == log.Head().cluster_id());
  CHECK(m.snapshot_id() == absl::StrFormat("snap-%020d", m.offset()));
  REQUIRE(m.tenants_size() == 4);  // and the reserved "_system" (the keys)

  // Replay the log to the snapshot's offset.
  std::map<std::string, FactSet> replay;
  for (const v1::LogEntry& e : log.ReadAll(1)) {
    if (e.offset() > m.offset()) break;
    v1::LogPayload p;
    REQUIRE(p.ParseFromString(e.payload()));
    FactSet& facts = replay[e.tenant()];
    if (!p.has_write()) continue;
    for (const auto& op : p.write().operations()) {
      if (op.has_insert()) {
        facts.insert(api::FromProto(op.insert()));
      } else {
        for (auto it = facts.begin(); it != facts.end();) {
          it = api::Matches(op.delete_pattern(), *it) ? facts.erase(it) : std::next(it);
        }
      }
    }
  }

  // Fetch every file, verify it against the manifest, compare tenant by tenant.
  std::map<std::string, std::string> file_of;
  for (const auto& t : m.tenants()) {
    file_of[t.name()] = t.file();
    CHECK(t.applied_offset() <= m.offset());
  }
  mkdir(dir.File("restored").c_str(), 0755);
  for (const auto& f : m.files()) {
    std::string data;
    int chunks = 0;
    REQUIRE(Fetch(log, m.snapshot_id(), f.name(), 0, &data, &chunks).ok());
    CHECK(data.size() == f.size_bytes());
    CHECK(Sha256Hex(data) == f.sha256());
    CHECK(chunks == static_cast<int>((f.size_bytes() + 256 * 1024 - 1) / (256 * 1024)));
    // Resume from the middle.
    std::string tail;
    REQUIRE(Fetch(log, m.snapshot_id(), f.name(), f.size_bytes() / 2, &tail).ok());
    CHECK(tail == data.substr(f.size_bytes() / 2));
    std::string name = f.name().substr(f.name().rfind('/') + 1);
    std::ofstream(dir.File("restored/" + name), std::ios::binary) << data;
  }
  for (const auto& [tenant, file] : file_of) {
    auto db = storage::TenantDb::Open(dir.File("restored/" + tenant + ".db"),
                                      {.read_only = false});
    REQUIRE(db.ok());
    FactSet stored;
    REQUIRE((*db)->ForEachFact([&](const Fact& f) {
      stored.insert(f);
      return true;
    }).ok());
    INFO("tenant " << tenant);
    CHECK(stored == replay[tenant]);
  }
  CHECK(replay["acme"].size() + replay["beta"].size() > 0);

  // Errors.
  std::string ignored;
  CHECK(Fetch(log, "snap-nope", "tenants/acme.db", 0, &ignored).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  CHECK(Fetch(log, m.snapshot_id(), "tenants/nope.db", 0, &ignored).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  CHECK(Fetch(log, m.snapshot_id(), m.files(0).name(), m.files(0).size_bytes() + 1,
              &ignored)
            .error_code() == grpc::StatusCode::OUT_OF_RANGE);
}

TEST_CASE("a bulk load is followed by a snapshot, by facts or by bytes",
          "[integration][log][snapshot]") {
  // 30 writes of 1,000 facts are only 30 entries: with snapshots by entries
  // off and an hour's interval, only the size triggers can cut one.
  constexpr int kWrites = 30;
  constexpr int kFactsPerWrite = 1000;
  TempDir dir;
  std::vector<std::string> flags = {"--snapshot_every_entries=0", "--snapshot_interval=1h"};
  bool by_facts = true;
  uint64_t threshold = 0;
  SECTION("facts") {
    threshold = 10000;
    flags.push_back(absl::StrCat("--snapshot_every_facts=", threshold));
    flags.push_back("--snapshot_every_bytes=0");
  }
  SECTION("bytes") {
    by_facts = false;
    threshold = 300000;  // a write of 1,000 facts is about 60 KB
    flags.push_back("--snapshot_every_facts=0");
    flags.push_back(absl::StrCat("--snapshot_every_bytes=", threshold));
  }
  LogServer log(dir, flags);
  log.Start();
  REQUIRE(log.CreateTenant("acme").ok());
  REQUIRE(log.SetPolicy("acme", kTestPolicy).ok());
  uint64_t first = 0, last = 0;
  for (int i = 0; i < kWrites; ++i) {
    std::vector<std::pair<std::string, std::string>> facts;
    for (int k = 0; k < kFactsPerWrite; ++k) {
      facts.push_back({"reader", absl::StrCat("user-", i, "-", k)});
    }
    REQUIRE(log.Write(InsertRequest("acme", facts), &last).ok());
    if (i == 0) first = last;
  }
  REQUIRE(last == first + kWrites - 1);
  // What each load entry adds to the trigger's count.
  std::map<uint64_t, uint64_t> weight;
  for (const v1::LogEntry& e : log.ReadAll(first)) {
    weight[e.offset()] = by_facts ? kFactsPerWrite : e.payload().size();
  }
  REQUIRE(weight.size() == static_cast<size_t>(kWrites));
  auto residual = [&](uint64_t snapshot_offset) {
    uint64_t sum = 0;
    for (const auto& [offset, w] : weight) sum += offset > snapshot_offset ? w : 0;
    return sum;
  };

  // Every threshold's worth of the load is followed by a snapshot, so the
  // newest one eventually leaves less than a threshold behind it.
  v1::SnapshotManifest newest;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    v1::ListSnapshotsResponse list;
    grpc::ClientContext ctx;
    REQUIRE(log.stub()->ListSnapshots(WithDeadline(&ctx), {}, &list).ok());
    if (list.snapshots_size() > 0 && list.snapshots(0).offset() >= first &&
        residual(list.snapshots(0).offset()) < threshold) {
      newest = list.snapshots(0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  INFO("load " << first << ".." << last << ", newest snapshot at " << newest.offset());
  REQUIRE(newest.offset() >= first);
  CHECK(newest.offset() <= last);
  CHECK(residual(newest.offset()) < threshold);
  REQUIRE(newest.tenants_size() == 2);  // and the reserved "_system", first by name
  CHECK(newest.tenants(0).name() == "_system");
  CHECK(newest.tenants(1).applied_offset() == newest.offset());
}

TEST_CASE("the log's WAL stays bounded while subscribers read continuously",
          "[integration][log][wal]") {
  TempDir dir;
  constexpr int64_t kBound = 256 * 1024;
  LogServer log(dir, {absl::StrCat("--wal_checkpoint_bytes=", kBound)});
  log.Start();
  REQUIRE(log.CreateTenant("acme").ok());
  REQUIRE(log.SetPolicy("acme", kTestPolicy).ok());

  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) (void)log.ReadAll(1);  // replays from 1, again and again
    });
  }
  const std::string wal = log.data_dir() + "/log.db-wal";
  int64_t max_wal = 0;
  std::atomic<bool> writing{true};
  std::thread sampler([&] {
    while (writing.load()) {
      struct stat st;
      if (::stat(wal.c_str(), &st) == 0) max_wal = std::max<int64_t>(max_wal, st.st_size);
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        std::vector<std::pair<std::string, std::string>> facts;
        for (int k = 0; k < 10; ++k) {
          facts.push_back({"public", absl::StrCat(t, "-", i, "-", k, std::string(900, 'x'))});
        }
        REQUIRE(log.Write(InsertRequest("acme", facts)).ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  writing = false;
  sampler.join();
  stop = true;
  for (auto& r : readers) r.join();
  // ~4 MB went through the WAL; it never held more than a few bounds.
  INFO("largest WAL seen: " << max_wal << " bytes");
  CHECK(max_wal > 0);
  CHECK(max_wal <= 4 * kBound);
}

TEST_CASE("a crash in the middle of a snapshot leaves no partial snapshot",
          "[integration][log][snapshot]") {
  TempDir dir;
  LogServer log(dir, {"--snapshot_every_entries=5"});
  log.Start({"--crash_at=mid_snapshot"});
  REQUIRE(log.CreateTenant("acme").ok());
  REQUIRE(log.SetPolicy("acme", kTestPolicy).ok());
  for (int i = 0; i < 5; ++i) {
    if (!log.Write(InsertRequest("acme", {{"public", absl::StrCat("r", i)}})).ok()) break;
  }
  auto exit = log.process()->Wait(absl::Seconds(30));
  REQUIRE(exit.ok());
  CHECK(exit->code == 3);
  // The files were written, the manifest was not.
  bool partial = false;
  for (const auto& e : std::filesystem::directory_iterator(log.data_dir() + "/snapshots")) {
    partial = partial || e.path().filename().string().find(".tmp") != std::string::npos;
  }
  CHECK(partial);
  log.Kill();
  log.Start();
  v1::ListSnapshotsResponse list;
  // A complete snapshot is cut again after restart; never a partial one.
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    REQUIRE(log.stub()->ListSnapshots(WithDeadline(&ctx), {}, &list).ok());
    if (list.snapshots_size() > 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(list.snapshots_size() == 1);
  CHECK(list.snapshots(0).files_size() == 2);  // the tenant and "_system"
  for (const auto& e : std::filesystem::directory_iterator(log.data_dir() + "/snapshots")) {
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  }
}

TEST_CASE("lost materialized state is restored from the newest snapshot",
          "[integration][log][snapshot]") {
  TempDir dir;
  LogServer log(dir, {"--snapshot_every_entries=10", "--snapshot_retention=0s"});
  log.Start();
  REQUIRE(log.CreateTenant("acme").ok());
  REQUIRE(log.SetPolicy("acme", kTestPolicy).ok());
  for (int i = 0; i < 25; ++i) {
    REQUIRE(log.Write(InsertRequest("acme", {{"maintainer", absl::StrCat("u", i)}})).ok());
  }
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && log.Head().oldest_retained_offset() <= 1) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(log.Head().oldest_retained_offset() > 1);
  log.Kill();
  std::filesystem::remove_all(log.data_dir() + "/state");
  log.Start();
  // The stored-fact check sees every fact again: 25 maintainers, which the
  // narrower policy does not allow.
  grpc::Status s = log.SetPolicy("acme", kNarrowerPolicy);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(s.error_message(), Catch::Contains("25 stored fact"));
  CHECK_THAT(log.process()->LogTail(100000), Catch::Contains("restoring it from snap-"));
}

}  // namespace
}  // namespace arbiter::testing
