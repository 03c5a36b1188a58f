// common/metrics: gauges read at scrape time, bucket boundaries, the
// /metrics listener on a real port, and the RPC interceptor on a real gRPC
// server (the health service: every Arbiter server has it; not through
// tests/testing/grpc_probe.h, whose reflection client clashes with gRPC's
// reflection library in one binary when the linker keeps both). ServerRunner's
// use of both (--metrics_listen) is tested with real processes in
// tests/integration/metrics_test.cc.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "common/metrics/metrics.h"
#include "common/metrics/rpc_metrics.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/http.h"

namespace arbiter::metrics {
namespace {

TEST_CASE("a gauge is read on every scrape, with its labels", "[unit][metrics]") {
  // Gauges live as long as the process (the registry is global): the
  // function owns what it reads.
  auto calls = std::make_shared<int>(0);
  AddGauge("arbiter_test_gauge", "a test gauge", [calls] { return ++*calls; },
           {{"kind", "a"}});
  AddGauge("arbiter_test_gauge", "ignored: the first help stays", [] { return 7.5; },
           {{"kind", "b"}});
  std::string first = Scrape();
  CHECK(absl::StrContains(first, "# HELP arbiter_test_gauge a test gauge"));
  CHECK(absl::StrContains(first, "# TYPE arbiter_test_gauge gauge"));
  CHECK(absl::StrContains(first, "arbiter_test_gauge{kind=\"a\"} 1"));
  CHECK(absl::StrContains(first, "arbiter_test_gauge{kind=\"b\"} 7.5"));
  CHECK(absl::StrContains(Scrape(), "arbiter_test_gauge{kind=\"a\"} 2"));
}

TEST_CASE("buckets: latency from 10 us to 10 s, counts from 1 to 100000", "[unit][metrics]") {
  const auto& latency = LatencyBuckets();
  REQUIRE(latency.size() == 19);  // 6 decades x 3, and 10 s
  CHECK(latency.front() == Approx(1e-5));
  CHECK(latency.back() == Approx(10));
  for (size_t i = 1; i < latency.size(); ++i) CHECK(latency[i] > latency[i - 1]);
  CHECK(CountBuckets().front() == Approx(1));
  CHECK(CountBuckets().back() == Approx(1e5));
}

TEST_CASE("the listener serves /metrics on port 0, and a taken port is UNAVAILABLE",
          "[unit][metrics]") {
  AddGauge("arbiter_test_listener", "a test gauge", [] { return 42; });
  auto listener = MetricsListener::Start("127.0.0.1:0");
  REQUIRE(listener.ok());
  REQUIRE((*listener)->port() > 0);
  auto body = testing::HttpGet((*listener)->port(), "/metrics");
  REQUIRE(body.ok());
  CHECK(absl::StrContains(*body, "arbiter_test_listener 42"));

  auto again = MetricsListener::Start(absl::StrCat("127.0.0.1:", (*listener)->port()));
  REQUIRE(!again.ok());
  CHECK(again.status().code() == absl::StatusCode::kUnavailable);
  CHECK(absl::StrContains(again.status().message(),
                          absl::StrCat("127.0.0.1:", (*listener)->port())));
}

TEST_CASE("every RPC of a server is counted by method and code, and timed",
          "[unit][metrics]") {
  // A server as common/server builds one (server_runner.cc installs the same
  // factory; its own test would link reflection twice with tests/testing).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  // gRPC adds the health service to a server that has another service.
  v1::ReaderService::CallbackService unimplemented;
  builder.RegisterService(&unimplemented);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(RpcMetricsInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(factories));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  auto check = [&health](const std::string& service) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    return health->Check(&ctx, req, &resp).error_code();
  };
  CHECK(check("") == grpc::StatusCode::OK);
  CHECK(check("") == grpc::StatusCode::OK);
  // A service nobody registered: NOT_FOUND from the health service.
  CHECK(check("no.such.Service") == grpc::StatusCode::NOT_FOUND);
  const std::string body = Scrape();
  INFO(body);
  CHECK(absl::StrContains(body, "arbiter_rpc_requests_total{code=\"OK\",method=\"Check\","
                                "service=\"grpc.health.v1.Health\"} 2"));
  CHECK(absl::StrContains(body, "arbiter_rpc_requests_total{code=\"NOT_FOUND\","
                                "method=\"Check\",service=\"grpc.health.v1.Health\"} 1"));
  CHECK(absl::StrContains(body, "arbiter_rpc_duration_seconds_count{method=\"Check\","
                                "service=\"grpc.health.v1.Health\"} 3"));
  CHECK(absl::StrContains(body, "arbiter_rpc_duration_seconds_bucket{method=\"Check\","
                                "service=\"grpc.health.v1.Health\",le=\"10\"} 3"));
  server->Shutdown();
}

}  // namespace
}  // namespace arbiter::metrics
