#include "common/server/server_runner.h"

#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "tests/testing/grpc_probe.h"
#include "tests/testing/process.h"

namespace arbiter::server {
namespace {

using ::arbiter::testing::CheckHealth;
using ::arbiter::testing::Health;
using ::arbiter::testing::LocalChannel;
using ::arbiter::testing::TempDir;

TEST_CASE("ServerOptions::Validate names the bad flag", "[unit][server]") {
  CHECK(ServerOptions{.listen = "127.0.0.1:0"}.Validate().ok());
  CHECK(ServerOptions{.listen = "[::1]:50051"}.Validate().ok());
  for (const char* bad : {"", "50051", ":1", "host:", "host:x", "h:70000", "h:-1"}) {
    INFO(bad);
    absl::Status s = ServerOptions{.listen = bad}.Validate();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()), Catch::StartsWith("--listen"));
  }
  CHECK_FALSE(ServerOptions{.drain_grace = absl::Seconds(-1)}.Validate().ok());
}

TEST_CASE("ServerRunner picks a port, writes it, serves health, drains",
          "[unit][server]") {
  TempDir dir;
  ServerRunner runner({.listen = "127.0.0.1:0",
                       .port_file = dir.File("port"),
                       .drain_grace = absl::Milliseconds(50)});
  REQUIRE(runner.Start().ok());
  REQUIRE(runner.port() > 0);
  std::ifstream in(dir.File("port"));
  int written = 0;
  in >> written;
  CHECK(written == runner.port());

  auto channel = LocalChannel(runner.port());
  CHECK(CheckHealth(channel.get()) == Health::kServing);
  runner.SetServing(false);
  CHECK(CheckHealth(channel.get()) == Health::kNotServing);
  runner.SetServing(true);
  CHECK(CheckHealth(channel.get()) == Health::kServing);
  runner.Drain();
  CHECK(CheckHealth(channel.get(), "", absl::Milliseconds(500)) ==
        Health::kUnreachable);
}

TEST_CASE("ServerRunner can start NOT_SERVING (fail closed)", "[unit][server]") {
  ServerRunner runner({.listen = "127.0.0.1:0", .initially_serving = false});
  REQUIRE(runner.Start().ok());
  auto channel = LocalChannel(runner.port());
  CHECK(CheckHealth(channel.get()) == Health::kNotServing);
}

TEST_CASE("ServerRunner reports an address it cannot bind", "[unit][server]") {
  ServerRunner first({.listen = "127.0.0.1:0"});
  REQUIRE(first.Start().ok());
  ServerRunner second(
      {.listen = "127.0.0.1:" + std::to_string(first.port())});
  absl::Status s = second.Start();
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(s.message()), Catch::Contains("cannot listen"));
}

TEST_CASE("RequestStop ends WaitForTerminationSignal", "[unit][server]") {
  ServerRunner runner({.listen = "127.0.0.1:0"});
  REQUIRE(runner.Start().ok());
  runner.RequestStop();
  CHECK(runner.WaitForTerminationSignal() == 0);
}

}  // namespace
}  // namespace arbiter::server
