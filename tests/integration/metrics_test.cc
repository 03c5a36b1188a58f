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
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/http.h"
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

// The value of the series `name` whose labels include every one of
// `labels`, in Prometheus' text format; nullopt if there is none.
std::optional<double> Sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels = {}) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#' || !absl::ConsumePrefix(&line, name)) continue;
    if (line.empty() || (line[0] != ' ' && line[0] != '{')) continue;  // a longer name
    bool match = true;
    for (const auto& [k, v] : labels) {
      if (line.find(absl::StrCat(k, "=\"", v, "\"")) == absl::string_view::npos) match = false;
    }
    if (!match) continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    absl::string_view number = line.substr(space + 1);
    if (number == "+Inf") return std::numeric_limits<double>::infinity();
    if (absl::SimpleAtod(number, &value)) return value;
  }
  return std::nullopt;
}

std::string Scrape(Cluster& c, const std::string& process) {
  auto port = c.MetricsPort(process);
  REQUIRE(port.ok());
  auto body = HttpGet(*port, "/metrics");
  INFO(process << ": " << body.status());
  REQUIRE(body.ok());
  return *body;
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

TEST_CASE("every service exports its metrics, with values that follow the traffic",
          "[integration][metrics]") {
  auto c = Cluster::Start({.readers = 1});
  REQUIRE(c.ok());
  Cluster& cluster = **c;
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
  const uint64_t offset = written.offset();
  REQUIRE(cluster.WaitForWriter(v1::REPLICATION_STATE_LIVE, offset).ok());
  REQUIRE(WaitForHealth(cluster.Channel(cluster.reader_port(0)).get(), Health::kServing,
                        absl::Seconds(30))
              .ok());
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
  CHECK(Sample(log, "arbiter_log_head_offset") >= static_cast<double>(offset));
  CHECK(Sample(log, "arbiter_log_subscribers") >= 1);  // the writer follows
  CHECK(Sample(log, "arbiter_log_subscriber_buffered_bytes") >= 0);
  CHECK(Sample(log, "arbiter_log_write_batch_entries_count") >= 3);
  CHECK(Sample(log, "arbiter_log_write_batch_entries_bucket", {{"le", "+Inf"}}) >= 3);
  CHECK(Sample(log, "arbiter_log_fsync_duration_seconds_count") >= 3);
  CHECK(Sample(log, "arbiter_log_fsync_duration_seconds_sum") > 0);
  CHECK(Sample(log, "arbiter_log_snapshot_age_seconds").has_value());
  CHECK(Sample(log, "arbiter_log_snapshot_bytes") >= 0);
  CHECK(Sample(log, "arbiter_log_snapshots") >= 0);
  CHECK(Sample(log, "arbiter_rpc_requests_total",
               {{"service", "arbiter.v1.LogService"}, {"method", "Write"}, {"code", "OK"}}) >= 1);
  CHECK(Sample(log, "arbiter_rpc_duration_seconds_count",
               {{"service", "arbiter.v1.LogService"}, {"method", "Write"}}) >= 1);

  const std::string writer = Scrape(cluster, "writer");
  INFO(writer);
  CHECK(Sample(writer, "arbiter_host_replication_state", {{"state", "live"}}) == 1);
  CHECK(Sample(writer, "arbiter_host_replication_state", {{"state", "restoring"}}) == 0);
  CHECK(Sample(writer, "arbiter_host_replication_state", {{"state", "replaying"}}) == 0);
  CHECK(Sample(writer, "arbiter_host_drain_state", {{"state", "active"}}) == 1);
  CHECK(Sample(writer, "arbiter_host_drain_state", {{"state", "drained"}}) == 0);
  CHECK(Sample(writer, "arbiter_host_applied_offset") >= static_cast<double>(offset));
  CHECK(Sample(writer, "arbiter_host_head_offset") >= static_cast<double>(offset));
  CHECK(Sample(writer, "arbiter_host_lag_entries") >= 0);
  CHECK(Sample(writer, "arbiter_host_staleness_seconds").value_or(1e9) < 10);
  CHECK(Sample(writer, "arbiter_host_generation") >= 1);
  CHECK(Sample(writer, "arbiter_host_readers") >= 1);
  CHECK(Sample(writer, "arbiter_host_tenants") >= 2);  // acme and the keys (_system)
  CHECK(Sample(writer, "arbiter_host_status_ok") == 1);
  CHECK(Sample(writer, "arbiter_host_apply_batch_entries_count") >= 1);
  CHECK(Sample(writer, "arbiter_host_apply_duration_seconds_count") >= 1);
  // The log had no snapshot when the host started: nothing to fetch.
  CHECK(Sample(writer, "arbiter_host_restore_bytes_total") >= 0);
  CHECK(Sample(writer, "arbiter_host_restore_progress_ratio") >= 0);

  const std::string reader = Scrape(cluster, "reader0");
  INFO(reader);
  CHECK(Sample(reader, "arbiter_reader_serving") == 1);
  CHECK(Sample(reader, "arbiter_reader_state", {{"reason", "serving"}}) == 1);
  CHECK(Sample(reader, "arbiter_reader_state", {{"reason", "stale"}}) == 0);
  CHECK(Sample(reader, "arbiter_reader_view_offset") >= static_cast<double>(offset));
  CHECK(Sample(reader, "arbiter_reader_staleness_seconds").value_or(1e9) < 10);
  CHECK(Sample(reader, "arbiter_reader_view_tenants") >= 2);
  // alice's role, plus the operator key's fact in _system.
  CHECK(Sample(reader, "arbiter_reader_index_facts") >= 2);
  CHECK(Sample(reader, "arbiter_reader_index_bytes") > 0);
  CHECK(Sample(reader, "arbiter_reader_decisions_total", {{"result", "allowed"}}) == 1);
  CHECK(Sample(reader, "arbiter_reader_decisions_total", {{"result", "denied"}}) == 1);
  CHECK(Sample(reader, "arbiter_reader_decisions_total", {{"result", "error"}}) == 1);
  CHECK(Sample(reader, "arbiter_reader_consistency_wait_seconds_count") >= 0);
  CHECK(Sample(reader, "arbiter_rpc_requests_total",
               {{"service", "arbiter.v1.ReaderService"}, {"method", "Authorize"}, {"code", "OK"}}) ==
        2);
  CHECK(Sample(reader, "arbiter_rpc_requests_total",
               {{"service", "arbiter.v1.ReaderService"},
                {"method", "Authorize"},
                {"code", "INVALID_ARGUMENT"}}) == 1);
  CHECK(Sample(reader, "arbiter_rpc_duration_seconds_bucket",
               {{"service", "arbiter.v1.ReaderService"}, {"method", "Authorize"}, {"le", "10"}}) ==
        3);
  // Health checks are RPCs too.
  CHECK(Sample(reader, "arbiter_rpc_requests_total",
               {{"service", "grpc.health.v1.Health"}, {"method", "Check"}}) >= 1);

  // Every metric the alerting rules name is exported by one of the services.
  std::ifstream rules_file(std::string(ARBITER_SOURCE_DIR) + "/helm/monitoring/arbiter-rules.yaml");
  const std::string rules((std::istreambuf_iterator<char>(rules_file)),
                          std::istreambuf_iterator<char>());
  REQUIRE(!rules.empty());
  const std::string all = log + writer + reader;
  std::set<std::string> named;
  const std::regex metric("arbiter_[a-z_]+");
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), metric);
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
    INFO("named by helm/monitoring/arbiter-rules.yaml: " << name);
    CHECK(absl::StrContains(all, absl::StrCat("# TYPE ", name, " ")));
  }
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

}  // namespace
}  // namespace arbiter::testing
