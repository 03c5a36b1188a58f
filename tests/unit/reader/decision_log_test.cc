#include "services/reader/decision_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/metrics/metrics.h"
#include "google/protobuf/util/json_util.h"
#include "tests/testing/metrics_text.h"
#include "tests/testing/process.h"

namespace arbiter::reader {
namespace {

v1::DecisionLogEntry Entry(int i) {
  v1::DecisionLogEntry e;
  e.set_tenant("acme");
  e.mutable_actor()->set_type("User");
  e.mutable_actor()->set_id(absl::StrCat("user-", i, "-\"quoted\"\n"));
  e.set_action("read");
  e.mutable_resource()->set_type("Doc");
  e.mutable_resource()->set_id("d1");
  e.set_allowed(i % 2 == 0);
  e.set_code("OK");
  e.set_offset(100 + i);
  e.set_latency_ms(0.25);
  return e;
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

double Counter(const std::string& name) {
  return testing::MetricSample(metrics::Scrape(), name).value_or(0);  // not registered yet: 0
}

TEST_CASE("decision log writes one JSON line per entry, every field present",
          "[unit][reader]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/decisions.jsonl";
  const double written = Counter("arbiter_reader_decision_log_written_total");
  {
    auto log = DecisionLog::Open({.path = path});
    REQUIRE(log.ok());
    (*log)->SetReader("reader-1");
    for (int i = 0; i < 3; ++i) {
      (*log)->Record(Entry(i), absl::FromUnixMicros(1'700'000'000'123'456 + i));
    }
  }  // the destructor writes what is queued
  const std::vector<std::string> lines = Lines(path);
  REQUIRE(lines.size() == 3);
  for (int i = 0; i < 3; ++i) {
    INFO(lines[i]);
    v1::DecisionLogEntry e;
    REQUIRE(google::protobuf::util::JsonStringToMessage(lines[i], &e).ok());
    CHECK(e.reader() == "reader-1");
    CHECK(e.time() == absl::StrCat("2023-11-14T22:13:20.12345", 6 + i, "Z"));
    CHECK(e.actor().id() == absl::StrCat("user-", i, "-\"quoted\"\n"));
    CHECK(e.allowed() == (i % 2 == 0));
    CHECK(e.offset() == static_cast<uint64_t>(100 + i));
    // Fields at their default are written too: a consumer sees every key.
    CHECK(lines[i].find("\"request_id\":\"\"") != std::string::npos);
    CHECK(lines[i].find("\"allowed\":") != std::string::npos);
  }
  CHECK(Counter("arbiter_reader_decision_log_written_total") == written + 3);

  // Appends: a restarted reader keeps what was there.
  {
    auto log = DecisionLog::Open({.path = path});
    REQUIRE(log.ok());
    (*log)->Record(Entry(7), absl::Now());
  }
  CHECK(Lines(path).size() == 4);
}

TEST_CASE("decision log samples the configured share", "[unit][reader]") {
  testing::TempDir dir;
  auto none = DecisionLog::Open({.path = dir.path() + "/a", .sample = 0});
  auto all = DecisionLog::Open({.path = dir.path() + "/b", .sample = 1});
  auto half = DecisionLog::Open({.path = dir.path() + "/c", .sample = 0.5});
  REQUIRE((none.ok() && all.ok() && half.ok()));
  int n = 0, a = 0, h = 0;
  for (int i = 0; i < 10000; ++i) {
    n += (*none)->Sampled();
    a += (*all)->Sampled();
    h += (*half)->Sampled();
  }
  CHECK(n == 0);
  CHECK(a == 10000);
  CHECK(h > 4000);  // 20 standard deviations either side
  CHECK(h < 6000);
}

TEST_CASE("decision log refuses bad options naming the flag", "[unit][reader]") {
  testing::TempDir dir;
  auto bad_sample = DecisionLog::Open({.path = dir.path() + "/x", .sample = 1.5});
  CHECK(absl::IsInvalidArgument(bad_sample.status()));
  CHECK(bad_sample.status().message().find("--decision_log_sample") != std::string::npos);
  auto bad_queue = DecisionLog::Open({.path = dir.path() + "/x", .max_queued = 0});
  CHECK(absl::IsInvalidArgument(bad_queue.status()));
  CHECK(bad_queue.status().message().find("--decision_log_max_queued") != std::string::npos);
  auto bad_path = DecisionLog::Open({.path = dir.path() + "/no/such/dir/log"});
  CHECK(absl::IsFailedPrecondition(bad_path.status()));
  CHECK(bad_path.status().message().find("/no/such/dir/log") != std::string::npos);
}

TEST_CASE("decision log drops, and counts, what a blocked file cannot take", "[unit][reader]") {
  // A FIFO nobody reads yet: the writing thread blocks once the pipe's
  // buffer (64 KiB) is full, the queue fills, and Record must neither block
  // nor grow the queue past its bound.
  testing::TempDir dir;
  const std::string fifo = dir.path() + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int keep_open = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // so the writer can open it
  REQUIRE(keep_open >= 0);
  const double dropped = Counter("arbiter_reader_decision_log_dropped_total");
  auto log = DecisionLog::Open({.path = fifo, .max_queued = 10});
  REQUIRE(log.ok());
  constexpr int kEntries = 2000;  // about 400 KiB of lines
  const absl::Time start = absl::Now();
  for (int i = 0; i < kEntries; ++i) (*log)->Record(Entry(i), absl::Now());
  CHECK(absl::Now() - start < absl::Seconds(5));  // never waited for the pipe
  const double lost = Counter("arbiter_reader_decision_log_dropped_total") - dropped;
  CHECK(lost >= kEntries - 20 - 64 * 1024 / 200);  // queued, being written, in the pipe
  // Drain the pipe so that the destructor's final writes finish.
  std::thread drain([&] {
    ::fcntl(keep_open, F_SETFL, 0);  // blocking reads from now on
    char buf[65536];
    while (::read(keep_open, buf, sizeof buf) > 0) {
    }
  });
  log->reset();  // writes what is queued and closes the write end: read sees EOF
  drain.join();
  ::close(keep_open);
}

}  // namespace
}  // namespace arbiter::reader
