// Every service binary starts on port 0, serves health and reflection, and
// drains on SIGTERM: NOT_SERVING at once, exit 0 shortly after the grace.

#include <signal.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/process.h"

namespace arbiter::testing {
namespace {

struct Binary {
  std::string path;
  std::string service;
  std::vector<std::string> extra_flags;
  // Without a writer and its data a reader fails closed: it answers health
  // and reflection, but NOT_SERVING (its drain is tested in reader_test).
  bool serves_alone = true;
};

Binary Pick() {
  return GENERATE(
      Binary{"services/log/arbiter-log", "arbiter.v1.LogService", {}},
      // Nothing listens on port 1: the writer and reader must start (and stay
      // healthy as servers) without a reachable log.
      Binary{"services/writer/arbiter-writer", "arbiter.v1.WriterAdminService",
             {"--log_address=127.0.0.1:1"}},
      Binary{"services/reader/arbiter-reader", "arbiter.v1.ReaderService",
             {"--log_address=127.0.0.1:1"}, /*serves_alone=*/false});
}

TEST_CASE("a service starts, serves health and reflection, drains on SIGTERM",
          "[integration][server]") {
  Binary binary = Pick();
  INFO(binary.path);
  TempDir dir;
  std::vector<std::string> argv = {
      BinaryPath(binary.path), "--listen=127.0.0.1:0",
      "--port_file=" + dir.File("port"), "--data_dir=" + dir.File("data"),
      "--drain_grace=300ms"};
  argv.insert(argv.end(), binary.extra_flags.begin(), binary.extra_flags.end());
  auto process = Process::Start(argv, dir.File("log.txt"));
  REQUIRE(process.ok());
  auto port = WaitForPortFile(dir.File("port"), absl::Seconds(30), &*process);
  REQUIRE(port.ok());
  auto channel = LocalChannel(*port);

  const Health alone = binary.serves_alone ? Health::kServing : Health::kNotServing;
  REQUIRE(WaitForHealth(channel.get(), alone, absl::Seconds(10)).ok());
  CHECK(CheckHealth(channel.get(), binary.service) == alone);

  auto services = ListServices(channel.get());
  REQUIRE(services.ok());
  CHECK_THAT(*services, Catch::VectorContains(binary.service));
  CHECK_THAT(*services, Catch::VectorContains(std::string("grpc.health.v1.Health")));

  absl::Time signalled = absl::Now();
  process->Signal(SIGTERM);
  // NOT_SERVING at once, while the server still answers during the grace.
  INFO(process->LogTail());
  CHECK(WaitForHealth(channel.get(), Health::kNotServing, absl::Seconds(5)).ok());
  // Close our connection: an idle client that never reads its socket would
  // hold the server's graceful GOAWAY for ~5 s (see docs/ARCHITECTURE.md).
  channel.reset();

  auto exit = process->Wait(absl::Seconds(15));
  REQUIRE(exit.ok());
  CHECK(exit->exited);
  CHECK(exit->code == 0);
  // It kept serving for (about) the grace period before it stopped.
  CHECK(absl::Now() - signalled >= absl::Milliseconds(300));
}

TEST_CASE("a bad flag value exits 2 with a message naming the flag",
          "[integration][server]") {
  Binary binary = Pick();
  TempDir dir;
  auto process = Process::Start(
      {BinaryPath(binary.path), "--listen=nonsense"}, dir.File("log.txt"));
  REQUIRE(process.ok());
  auto exit = process->Wait(absl::Seconds(15));
  REQUIRE(exit.ok());
  CHECK(exit->exited);
  CHECK(exit->code == 2);
  CHECK_THAT(process->LogTail(), Catch::Contains("--listen"));
}

TEST_CASE("a port already in use is a clear start-up error",
          "[integration][server]") {
  TempDir dir;
  auto first = Process::Start(
      {BinaryPath("services/log/arbiter-log"), "--listen=127.0.0.1:0",
       "--port_file=" + dir.File("port"), "--data_dir=" + dir.File("d1")},
      dir.File("log1.txt"));
  REQUIRE(first.ok());
  auto port = WaitForPortFile(dir.File("port"), absl::Seconds(30), &*first);
  REQUIRE(port.ok());
  auto second = Process::Start(
      {BinaryPath("services/log/arbiter-log"),
       absl::StrCat("--listen=127.0.0.1:", *port),
       "--data_dir=" + dir.File("d2")},
      dir.File("log2.txt"));
  REQUIRE(second.ok());
  auto exit = second->Wait(absl::Seconds(15));
  REQUIRE(exit.ok());
  CHECK(exit->code == 1);
  CHECK_THAT(second->LogTail(), Catch::Contains("cannot listen"));
}

}  // namespace
}  // namespace arbiter::testing
