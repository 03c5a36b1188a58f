// Prometheus metrics of the three services (issue #15), scraped from real
// processes: after some traffic, every metric docs/OPERATIONS.md lists is
// exported by its service with a sensible value, every metric the alerting
// rules (helm/monitoring/arbiter-rules.yaml) name is exported, and a metrics
// port that cannot be bound does not keep a service from serving.

#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/http.h"
#include "tests/testing/keys.h"
#include "tests/testing/metrics_text.h"
#include "tests/testing/process.h"

namespace arbiter::testing {
namespace {

constexpr char kPolicy[] = R"(
actor User {}
resource Doc {
  roles = ["viewer"];
  permissions = ["read"];
  "read" if "viewer";
}
)";

std::string Scrape(Cluster& c, const std::string& process) {
  auto port = c.MetricsPort(process);
  REQUIRE(port.ok());
  auto body = HttpGet(*port, "/metrics");
  INFO(process << ": " << body.status());
  REQUIRE(body.ok());
  return *body;
}

// A file of the source tree.
std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(ARBITER_SOURCE_DIR) + "/" + relative);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(relative);
  REQUIRE(!text.empty());
  return text;
}

v1::AuthorizeRequest Check(const std::string& user, const std::string& token) {
  v1::AuthorizeRequest r;
  r.set_tenant("acme");
  r.mutable_actor()->set_type("User");
  r.mutable_actor()->set_id(user);
  r.set_action("read");
  r.mutable_resource()->set_type("Doc");
  r.mutable_resource()->set_id("d1");
  r.mutable_consistency()->set_at_least(token);
  return r;
}

// Tenant "acme" with kPolicy and alice a viewer of d1; returns once the
// writer applied it and reader 0 serves.
v1::WriteResponse Seed(Cluster& cluster) {
  REQUIRE(cluster.CreateTenant("acme").ok());
  REQUIRE(cluster.SetPolicy("acme", kPolicy).ok());
  v1::WriteRequest w;
  w.set_tenant("acme");
  auto* f = w.add_operations()->mutable_insert();
  f->set_predicate("has_role");
  f->add_args()->set_type("User");
  f->mutable_args(0)->set_id("alice");
  f->add_args()->set_type("String");
  f->mutable_args(1)->set_id("viewer");
  f->add_args()->set_type("Doc");
  f->mutable_args(2)->set_id("d1");
  v1::WriteResponse written;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    REQUIRE(cluster.log().Write(&ctx, w, &written).ok());
  }
  REQUIRE(cluster.WaitForWriter(v1::REPLICATION_STATE_LIVE, written.offset()).ok());
  REQUIRE(WaitForHealth(cluster.Channel(cluster.reader_port(0)).get(), Health::kServing,
                        absl::Seconds(30))
              .ok());
  return written;
}

TEST_CASE("every service exports its metrics, with values that follow the traffic",
          "[integration][metrics]") {
  TempDir dir;  // the decision log's counters are exported only with a log
  auto c = Cluster::Start({.readers = 1, .reader_flags = {"--decision_log=" + dir.File("d")}});
  REQUIRE(c.ok());
  Cluster& cluster = **c;
  const v1::WriteResponse written = Seed(cluster);
  const uint64_t offset = written.offset();
  for (const auto& [user, allowed] : {std::pair{"alice", true}, std::pair{"bob", false}}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    v1::AuthorizeResponse resp;
    grpc::Status s = cluster.reader(0).Authorize(&ctx, Check(user, written.consistency_token()),
                                                 &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK(resp.allowed() == allowed);
  }
  {
    v1::AuthorizeRequest bad = Check("carol", written.consistency_token());
    bad.clear_actor();
    grpc::ClientContext ctx;
    v1::AuthorizeResponse resp;
    CHECK(cluster.reader(0).Authorize(&ctx, bad, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }

  const std::string log = Scrape(cluster, "log");
  INFO(log);
  CHECK(MetricSample(log, "arbiter_log_head_offset") >= static_cast<double>(offset));
  CHECK(MetricSample(log, "arbiter_log_subscribers") >= 1);  // the writer follows
  CHECK(MetricSample(log, "arbiter_log_subscriber_buffered_bytes") >= 0);
  CHECK(MetricSample(log, "arbiter_log_write_batch_entries_count") >= 3);
  CHECK(MetricSample(log, "arbiter_log_write_batch_entries_bucket", {{"le", "+Inf"}}) >= 3);
  CHECK(MetricSample(log, "arbiter_log_fsync_duration_seconds_count") >= 3);
  CHECK(MetricSample(log, "arbiter_log_fsync_duration_seconds_sum") > 0);
  CHECK(MetricSample(log, "arbiter_log_snapshot_age_seconds").has_value());
  CHECK(MetricSample(log, "arbiter_log_snapshot_bytes") >= 0);
  CHECK(MetricSample(log, "arbiter_log_snapshots") >= 0);
  CHECK(MetricSample(log, "arbiter_rpc_requests_total",
               {{"service", "arbiter.v1.LogService"}, {"method", "Write"}, {"code", "OK"}}) >= 1);
  CHECK(MetricSample(log, "arbiter_rpc_duration_seconds_count",
               {{"service", "arbiter.v1.LogService"}, {"method", "Write"}}) >= 1);

  const std::string writer = Scrape(cluster, "writer");
  INFO(writer);
  CHECK(MetricSample(writer, "arbiter_host_replication_state", {{"state", "live"}}) == 1);
  CHECK(MetricSample(writer, "arbiter_host_replication_state", {{"state", "restoring"}}) == 0);
  CHECK(MetricSample(writer, "arbiter_host_replication_state", {{"state", "replaying"}}) == 0);
  CHECK(MetricSample(writer, "arbiter_host_drain_state", {{"state", "active"}}) == 1);
  CHECK(MetricSample(writer, "arbiter_host_drain_state", {{"state", "drained"}}) == 0);
  CHECK(MetricSample(writer, "arbiter_host_applied_offset") >= static_cast<double>(offset));
  CHECK(MetricSample(writer, "arbiter_host_head_offset") >= static_cast<double>(offset));
  CHECK(MetricSample(writer, "arbiter_host_lag_entries") >= 0);
  CHECK(MetricSample(writer, "arbiter_host_staleness_seconds").value_or(1e9) < 10);
  CHECK(MetricSample(writer, "arbiter_host_generation") >= 1);
  CHECK(MetricSample(writer, "arbiter_host_readers") >= 1);
  CHECK(MetricSample(writer, "arbiter_host_tenants") >= 2);  // acme and the keys (_system)
  CHECK(MetricSample(writer, "arbiter_host_status_ok") == 1);
  CHECK(MetricSample(writer, "arbiter_host_apply_batch_entries_count") >= 1);
  CHECK(MetricSample(writer, "arbiter_host_apply_duration_seconds_count") >= 1);
  // The log had no snapshot when the host started: nothing to fetch.
  CHECK(MetricSample(writer, "arbiter_host_restore_bytes_total") >= 0);
  CHECK(MetricSample(writer, "arbiter_host_restore_progress_ratio") >= 0);

  const std::string reader = Scrape(cluster, "reader0");
  INFO(reader);
  CHECK(MetricSample(reader, "arbiter_reader_serving") == 1);
  CHECK(MetricSample(reader, "arbiter_reader_state", {{"reason", "serving"}}) == 1);
  CHECK(MetricSample(reader, "arbiter_reader_state", {{"reason", "stale"}}) == 0);
  CHECK(MetricSample(reader, "arbiter_reader_view_offset") >= static_cast<double>(offset));
  CHECK(MetricSample(reader, "arbiter_reader_staleness_seconds").value_or(1e9) < 10);
  CHECK(MetricSample(reader, "arbiter_reader_view_tenants") >= 2);
  // alice's role, plus the operator key's fact in _system.
  CHECK(MetricSample(reader, "arbiter_reader_index_facts") >= 2);
  CHECK(MetricSample(reader, "arbiter_reader_index_bytes") > 0);
  CHECK(MetricSample(reader, "arbiter_reader_decisions_total", {{"result", "allowed"}}) == 1);
  CHECK(MetricSample(reader, "arbiter_reader_decisions_total", {{"result", "denied"}}) == 1);
  CHECK(MetricSample(reader, "arbiter_reader_decisions_total", {{"result", "error"}}) == 1);
  CHECK(MetricSample(reader, "arbiter_reader_consistency_wait_seconds_count") >= 0);
  CHECK(MetricSample(reader, "arbiter_rpc_requests_total",
               {{"service", "arbiter.v1.ReaderService"}, {"method", "Authorize"}, {"code", "OK"}}) ==
        2);
  CHECK(MetricSample(reader, "arbiter_rpc_requests_total",
               {{"service", "arbiter.v1.ReaderService"},
                {"method", "Authorize"},
                {"code", "INVALID_ARGUMENT"}}) == 1);
  CHECK(MetricSample(reader, "arbiter_rpc_duration_seconds_bucket",
               {{"service", "arbiter.v1.ReaderService"}, {"method", "Authorize"}, {"le", "10"}}) ==
        3);
  // Health checks are RPCs too.
  CHECK(MetricSample(reader, "arbiter_rpc_requests_total",
               {{"service", "grpc.health.v1.Health"}, {"method", "Check"}}) >= 1);

  // Every metric the alerting rules and the dashboard name is exported by
  // one of the services.
  const std::string all = log + writer + reader;
  for (const std::string file : {"arbiter-rules.yaml", "arbiter-dashboard.json"}) {
    const std::string text = ReadSource("helm/monitoring/" + file);
    std::set<std::string> named;
    const std::regex metric("arbiter_[a-z_]+");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
         it != std::sregex_iterator(); ++it) {
      const std::string match = it->str();
      absl::string_view name = match;
      for (absl::string_view suffix : {"_bucket", "_count", "_sum"}) {
        name = absl::StripSuffix(name, suffix);
      }
      named.insert(std::string(name));
    }
    CHECK(named.size() >= 8);
    for (const std::string& name : named) {
      INFO("named by helm/monitoring/" << file << ": " << name);
      CHECK(absl::StrContains(all, absl::StrCat("# TYPE ", name, " ")));
    }
  }
}

TEST_CASE("the dashboard is well-formed: every panel queries, ids are unique",
          "[integration][metrics]") {
  google::protobuf::Struct dashboard;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      ReadSource("helm/monitoring/arbiter-dashboard.json"), &dashboard);
  INFO(parsed.ToString());
  REQUIRE(parsed.ok());
  const auto& fields = dashboard.fields();
  REQUIRE(fields.contains("panels"));
  CHECK(fields.at("uid").string_value() == "arbiter-overview");
  std::set<double> ids;
  int queried = 0;
  for (const auto& panel : fields.at("panels").list_value().values()) {
    const auto& p = panel.struct_value().fields();
    INFO(p.at("title").string_value());
    CHECK(ids.insert(p.at("id").number_value()).second);
    if (p.at("type").string_value() == "row") continue;
    const auto& targets = p.at("targets").list_value().values();
    CHECK(!targets.empty());
    for (const auto& t : targets) {
      CHECK(absl::StrContains(t.struct_value().fields().at("expr").string_value(), "arbiter_"));
    }
    ++queried;
  }
  CHECK(queried >= 20);
}

TEST_CASE("a metrics port already taken is logged, and the service serves without metrics",
          "[integration][metrics]") {
  auto c = Cluster::Start({.start_writer = false});
  REQUIRE(c.ok());
  auto taken = (*c)->MetricsPort("log");
  REQUIRE(taken.ok());
  TempDir dir;
  auto p = Process::Start({BinaryPath("services/log/arbiter-log"), "--listen=127.0.0.1:0",
                           "--port_file=" + dir.File("port"), "--data_dir=" + dir.File("d"),
                           absl::StrCat("--metrics_listen=127.0.0.1:", *taken),
                           "--insecure_no_auth"},
                          dir.File("log.txt"));
  REQUIRE(p.ok());
  auto port = WaitForPortFile(dir.File("port"), absl::Seconds(30), &*p);
  REQUIRE(port.ok());
  CHECK(WaitForHealth(LocalChannel(*port).get(), Health::kServing, absl::Seconds(10)).ok());
  CHECK_THAT(p->LogTail(), Catch::Contains("--metrics_listen") &&
                               Catch::Contains("serving without metrics"));
}

TEST_CASE("the decision log records each Authorize answer, off the request path",
          "[integration][metrics]") {
  TempDir dir;
  const std::string path = dir.File("decisions.jsonl");
  auto c = Cluster::Start({.readers = 1,
                           .reader_flags = {"--decision_log=" + path, "--reader_id=r-decisions"}});
  REQUIRE(c.ok());
  Cluster& cluster = **c;
  const v1::WriteResponse written = Seed(cluster);
  std::vector<v1::AuthorizeResponse> answers;
  for (const std::string user : {"alice", "bob"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    ctx.AddMetadata("x-request-id", "req-" + user);
    v1::AuthorizeResponse resp;
    REQUIRE(cluster.reader(0).Authorize(&ctx, Check(user, written.consistency_token()), &resp)
                .ok());
    answers.push_back(resp);
  }
  {
    v1::AuthorizeRequest missing = Check("carol", written.consistency_token());
    missing.set_tenant("nobody");
    missing.clear_consistency();
    grpc::ClientContext ctx;
    v1::AuthorizeResponse resp;
    CHECK(cluster.reader(0).Authorize(&ctx, missing, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
  // Written by the log's own thread: await the three lines.
  std::vector<v1::DecisionLogEntry> entries;
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (entries.size() < 3 && absl::Now() < until) {
    entries.clear();
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      v1::DecisionLogEntry e;
      INFO(line);
      REQUIRE(google::protobuf::util::JsonStringToMessage(line, &e).ok());
      entries.push_back(e);
    }
    if (entries.size() < 3) absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(entries.size() == 3);
  for (int i = 0; i < 2; ++i) {
    const v1::DecisionLogEntry& e = entries[i];
    INFO(e.ShortDebugString());
    CHECK(e.reader() == "r-decisions");
    CHECK(e.tenant() == "acme");
    CHECK(e.actor().id() == (i == 0 ? "alice" : "bob"));
    CHECK(e.action() == "read");
    CHECK(e.resource().id() == "d1");
    CHECK(e.allowed() == (i == 0));
    CHECK(e.code() == "OK");
    CHECK(e.offset() == answers[i].evaluation().offset());
    CHECK(e.policy_version() == answers[i].evaluation().policy_version());
    CHECK(e.request_id() == (i == 0 ? "req-alice" : "req-bob"));
    CHECK(e.key_id() == kTestKeyId);
    CHECK(e.latency_ms() > 0);
    CHECK(absl::StartsWith(e.time(), "20"));
  }
  CHECK(entries[2].code() == "NOT_FOUND");
  CHECK_THAT(entries[2].error(), Catch::Contains("nobody"));
  CHECK(!entries[2].allowed());
  CHECK(entries[2].offset() == 0);
  const std::string reader = Scrape(cluster, "reader0");
  CHECK(MetricSample(reader, "arbiter_reader_decision_log_written_total") == 3);
  CHECK(MetricSample(reader, "arbiter_reader_decision_log_dropped_total") == 0);
}

}  // namespace
}  // namespace arbiter::testing
