// Subscribe over real gRPC: replay from 0 and from the middle, live delivery,
// heartbeats, cluster mismatch, OUT_OF_RANGE after truncation, and a stalled
// subscriber that neither blocks writers nor grows without bound.

#include <atomic>
#include <thread>

#include "common/auth/client.h"
#include "tests/integration/log_test_util.h"

namespace arbiter::testing {
namespace {

void Setup(LogServer& log) {
  REQUIRE(log.CreateTenant("acme").ok());
  REQUIRE(log.SetPolicy("acme", kTestPolicy).ok());
}

// A LogService stub on its own channel with a small HTTP/2 window (no BDP
// probing), so the server's writes to a subscriber that stops reading block
// soon.
std::unique_ptr<v1::LogService::Stub> SmallWindowStub(LogServer& log) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  return v1::LogService::NewStub(auth::CreateKeyedChannel(
      absl::StrCat("127.0.0.1:", log.port()), kTestKey, grpc::InsecureChannelCredentials(), args));
}

TEST_CASE("subscribe replays from 0 and from the middle, then streams live",
          "[integration][log][subscribe]") {
  TempDir dir;
  LogServer log(dir);
  log.Start();
  Setup(log);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(log.Write(InsertRequest("acme", {{"public", absl::StrCat("r", i)}})).ok());
  }
  auto all = log.ReadAll(0);
  REQUIRE(all.size() == kBootstrapEntries + 22);
  CHECK(all.front().offset() == 1);
  auto middle = log.ReadAll(10);
  REQUIRE(middle.size() == kBootstrapEntries + 13);
  CHECK(middle.front().offset() == 10);
  CHECK(middle.front().payload() == all[9].payload());

  // Live: subscribe at the head, then write; heartbeats flow while idle.
  grpc::ClientContext ctx;
  WithDeadline(&ctx, absl::Seconds(30));
  v1::SubscribeRequest req;
  req.set_from_offset(kBootstrapEntries + 23);
  req.set_expected_cluster_id(log.Head().cluster_id());
  auto reader = log.stub()->Subscribe(&ctx, req);
  v1::SubscribeResponse msg;
  int heartbeats = 0;
  absl::Time start = absl::Now();
  while (heartbeats < 3 && reader->Read(&msg)) {
    CHECK(msg.cluster_id() == log.Head().cluster_id());
    CHECK(msg.epoch() == 1);
    CHECK(msg.durable_head() == kBootstrapEntries + 22);
    REQUIRE(msg.has_heartbeat());
    ++heartbeats;
  }
  CHECK(heartbeats == 3);
  // ~250 ms apart (generous bounds: a loaded CI machine).
  CHECK(absl::Now() - start < absl::Seconds(5));
  CHECK(absl::Now() - start > absl::Milliseconds(300));

  std::thread writer([&] {
    REQUIRE(log.Write(InsertRequest("acme", {{"public", "live"}})).ok());
  });
  absl::Time written = absl::Now();
  bool got = false;
  while (reader->Read(&msg)) {
    if (msg.has_entry()) {
      CHECK(msg.entry().offset() == kBootstrapEntries + 23);
      CHECK(msg.durable_head() >= kBootstrapEntries + 23);
      got = true;
      break;
    }
  }
  writer.join();
  CHECK(got);
  CHECK(absl::Now() - written < absl::Seconds(5));
  ctx.TryCancel();
  (void)reader->Finish();
}

TEST_CASE("subscribe with another cluster's id is FAILED_PRECONDITION",
          "[integration][log][subscribe]") {
  TempDir dir;
  LogServer log(dir);
  log.Start();
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  v1::SubscribeRequest req;
  req.set_expected_cluster_id("someone-else");
  auto reader = log.stub()->Subscribe(&ctx, req);
  v1::SubscribeResponse msg;
  CHECK(!reader->Read(&msg));
  grpc::Status s = reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_CASE("subscribe from a truncated offset is OUT_OF_RANGE naming the oldest",
          "[integration][log][subscribe]") {
  TempDir dir;
  LogServer log(dir, {"--snapshot_every_entries=10", "--snapshot_retention=0s"});
  log.Start();
  Setup(log);
  for (int i = 0; i < 30; ++i) {
    REQUIRE(log.Write(InsertRequest("acme", {{"public", absl::StrCat("r", i)}})).ok());
  }
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  uint64_t oldest = 1;
  while (absl::Now() < deadline && (oldest = log.Head().oldest_retained_offset()) <= 1) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(oldest > 1);
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  v1::SubscribeRequest req;
  req.set_from_offset(1);
  auto reader = log.stub()->Subscribe(&ctx, req);
  v1::SubscribeResponse msg;
  CHECK(!reader->Read(&msg));
  grpc::Status s = reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::OUT_OF_RANGE);
  CHECK_THAT(s.error_message(), Catch::Contains("oldest retained offset is"));
  // From the oldest retained offset on, the log still streams.
  REQUIRE(log.Write(InsertRequest("acme", {{"public", "after"}})).ok());
  const uint64_t first = log.Head().oldest_retained_offset();
  auto rest = log.ReadAll(first);
  REQUIRE(!rest.empty());
  CHECK(rest.front().offset() == first);
  CHECK(rest.back().offset() == log.Head().head_offset());
}

TEST_CASE("a stalled subscriber does not stop writes and is cancelled",
          "[integration][log][subscribe]") {
  TempDir dir;
  LogServer log(dir, {"--subscriber_stall_timeout=2s"});
  log.Start();
  Setup(log);

  // A subscriber that reads one message and then stops reading.
  auto stalled_stub = SmallWindowStub(log);
  grpc::ClientContext stalled_ctx;
  WithDeadline(&stalled_ctx, absl::Seconds(120));
  v1::SubscribeRequest req;
  req.set_from_offset(1);
  auto stalled = stalled_stub->Subscribe(&stalled_ctx, req);
  v1::SubscribeResponse msg;
  REQUIRE(stalled->Read(&msg));

  // A healthy subscriber reads everything meanwhile.
  std::atomic<uint64_t> healthy_last{0};
  grpc::ClientContext healthy_ctx;
  WithDeadline(&healthy_ctx, absl::Seconds(120));
  auto healthy = log.stub()->Subscribe(&healthy_ctx, req);
  std::thread healthy_reader([&] {
    v1::SubscribeResponse m;
    while (healthy->Read(&m)) {
      if (m.has_entry()) healthy_last = m.entry().offset();
    }
  });

  // 1,000 writes of 10 facts from 8 writers.
  absl::Time start = absl::Now();
  std::atomic<int> ok{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 125; ++i) {
        std::vector<std::pair<std::string, std::string>> facts;
        for (int k = 0; k < 10; ++k) {
          facts.push_back({"public", absl::StrCat("repo-", t, "-", i, "-", k,
                                                  std::string(60, 'x'))});
        }
        if (log.Write(InsertRequest("acme", facts)).ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& w : writers) w.join();
  absl::Duration took = absl::Now() - start;
  CHECK(ok.load() == 1000);
  CHECK(took < absl::Seconds(60));
  INFO("1000 writes took " << absl::FormatDuration(took));

  // The healthy subscriber gets everything, live.
  const uint64_t head = log.Head().head_offset();
  CHECK(head == kBootstrapEntries + 1002);
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (healthy_last.load() < head && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  CHECK(healthy_last.load() == head);

  // The stalled one is cancelled after the stall timeout.
  deadline = absl::Now() + absl::Seconds(30);
  while (log.process()->LogTail(20000).find("stalled") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  CHECK_THAT(log.process()->LogTail(20000), Catch::Contains("stalled"));
  int drained = 0;
  while (stalled->Read(&msg)) ++drained;
  grpc::Status s = stalled->Finish();
  INFO("stalled subscriber drained " << drained << " buffered messages");
  CHECK(drained < 1002);  // it never got everything: it was cut off
  // RESOURCE_EXHAUSTED, unless this client came back to read only after the
  // server's cancel grace (2 s) and the call had been cancelled outright.
  INFO(s.error_message());
  CHECK((s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         (s.error_code() == grpc::StatusCode::CANCELLED &&
          log.process()->LogTail(20000).find("cancelling stalled") != std::string::npos)));

  healthy_ctx.TryCancel();
  healthy_reader.join();
  (void)healthy->Finish();
}

TEST_CASE("a subscriber that never reads again is cancelled outright",
          "[integration][log][subscribe]") {
  TempDir dir;
  LogServer log(dir, {"--subscriber_stall_timeout=1s"});
  log.Start();
  Setup(log);
  auto stub = SmallWindowStub(log);
  grpc::ClientContext ctx;
  WithDeadline(&ctx, absl::Seconds(120));
  v1::SubscribeRequest req;
  req.set_from_offset(1);
  auto stalled = stub->Subscribe(&ctx, req);
  v1::SubscribeResponse msg;
  REQUIRE(stalled->Read(&msg));
  for (int i = 0; i < 300; ++i) {
    std::vector<std::pair<std::string, std::string>> facts;
    for (int k = 0; k < 10; ++k) {
      facts.push_back({"public", absl::StrCat("r", i, "-", k, std::string(100, 'x'))});
    }
    REQUIRE(log.Write(InsertRequest("acme", facts)).ok());
  }
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (log.process()->LogTail(20000).find("cancelling stalled") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  CHECK_THAT(log.process()->LogTail(20000), Catch::Contains("cancelling stalled"));
  // The server is healthy: heartbeats still flow to a new subscriber.
  grpc::ClientContext ctx2;
  WithDeadline(&ctx2, absl::Seconds(10));
  req.set_from_offset(log.Head().head_offset() + 1);
  auto fresh = log.stub()->Subscribe(&ctx2, req);
  REQUIRE(fresh->Read(&msg));
  CHECK(msg.has_heartbeat());
  ctx2.TryCancel();
  (void)fresh->Finish();
  while (stalled->Read(&msg)) {
  }
  CHECK(!stalled->Finish().ok());
}

// Memory across streams (#11 item 6): many streams that never read hold at
// most --subscribers_max_buffer_bytes together; a stream that needs room cuts
// the stalest, and streams past --max_subscribers are refused.
TEST_CASE("streams that never read share one bounded buffer and the stalest is cut",
          "[integration][log][subscribe]") {
  TempDir dir;
  LogServer log(dir, {"--subscriber_stall_timeout=120s", "--subscribers_max_buffer_bytes=4194304",
                      "--max_subscribers=12"});
  log.Start();
  Setup(log);
  // About 12 MB of entries (400 of ~30 KB): three times the whole budget.
  for (int i = 0; i < 400; ++i) {
    std::vector<std::pair<std::string, std::string>> facts;
    for (int k = 0; k < 30; ++k) {
      facts.push_back({"public", absl::StrCat("r", i, "-", k, std::string(900, 'x'))});
    }
    REQUIRE(log.Write(InsertRequest("acme", facts)).ok());
  }
  auto stub = SmallWindowStub(log);
  v1::SubscribeRequest req;
  req.set_from_offset(1);
  // Ten streams that read one message and stop.
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>>> stalled;
  v1::SubscribeResponse msg;
  for (int i = 0; i < 10; ++i) {
    ctxs.push_back(std::make_unique<grpc::ClientContext>());
    WithDeadline(ctxs.back().get(), absl::Seconds(120));
    stalled.push_back(stub->Subscribe(ctxs.back().get(), req));
    REQUIRE(stalled.back()->Read(&msg));
  }
  // Their pending writes must be over a second old to count as stale.
  absl::SleepFor(absl::Milliseconds(1500));

  // A healthy reader gets everything: room is made for it.
  grpc::ClientContext healthy_ctx;
  WithDeadline(&healthy_ctx, absl::Seconds(120));
  auto healthy = log.stub()->Subscribe(&healthy_ctx, req);
  const uint64_t head = log.Head().head_offset();
  uint64_t last = 0;
  while (last < head && healthy->Read(&msg)) {
    if (msg.has_entry()) last = msg.entry().offset();
  }
  CHECK(last == head);
  CHECK_THAT(log.process()->LogTail(50000), Catch::Contains("cutting the stalest stream"));

  // Eleven streams are open: the twelfth is admitted, the thirteenth not.
  grpc::ClientContext ctx12, ctx13;
  WithDeadline(&ctx12, absl::Seconds(10));
  WithDeadline(&ctx13, absl::Seconds(10));
  req.set_from_offset(head + 1);
  auto twelfth = log.stub()->Subscribe(&ctx12, req);
  REQUIRE(twelfth->Read(&msg));
  auto thirteenth = log.stub()->Subscribe(&ctx13, req);
  CHECK_FALSE(thirteenth->Read(&msg));
  grpc::Status refused = thirteenth->Finish();
  CHECK(refused.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(refused.error_message(), Catch::Contains("--max_subscribers"));

  // At least one stalled stream was cut with the reason: reading one on,
  // it ends with the status; the others catch up to the head and are
  // cancelled here.
  int cut = 0;
  for (size_t i = 0; i < stalled.size(); ++i) {
    bool ended = true;
    while (stalled[i]->Read(&msg)) {
      if (msg.has_entry() && msg.entry().offset() == head) {
        ended = false;
        break;
      }
    }
    if (!ended) ctxs[i]->TryCancel();
    grpc::Status st = stalled[i]->Finish();
    if (ended && st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        st.error_message().find("subscriber buffers were full") != std::string::npos) {
      ++cut;
    }
  }
  CHECK(cut >= 1);
  ctx12.TryCancel();
  (void)twelfth->Finish();
  healthy_ctx.TryCancel();
  (void)healthy->Finish();
}

}  // namespace
}  // namespace arbiter::testing
