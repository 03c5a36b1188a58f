// TLS and mTLS against real processes (issue #13, docs/SECURITY.md), with
// certificates made by openssl at test time: plaintext clients refused on a
// TLS port, a wrong CA refused, mTLS without a client certificate refused, a
// renewed certificate picked up without a restart, and a whole cluster (log,
// writer, reader) talking TLS with client certificates.

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/auth/client.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/keys.h"
#include "tests/testing/pki.h"
#include "tests/testing/process.h"

namespace arbiter::testing {
namespace {

void Run(const std::string& command) {
  INFO(command);
  REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
}

Pki MakePki(const TempDir& dir, const std::string& name) {
  auto pki = testing::MakePki(dir.path(), name);
  REQUIRE(pki.ok());
  return *pki;
}

std::unique_ptr<v1::LogService::Stub> Log(int port, const auth::ClientTls& tls) {
  return v1::LogService::NewStub(auth::CreateKeyedChannel(
      absl::StrCat("127.0.0.1:", port), kTestKey, auth::ChannelCredentials(tls)));
}

grpc::Status Head(v1::LogService::Stub& log, absl::Duration timeout = absl::Seconds(5)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(timeout));
  v1::GetHeadResponse resp;
  return log.GetHead(&ctx, v1::GetHeadRequest(), &resp);
}

TEST_CASE("TLS: plaintext and a wrong CA are refused, the right CA is accepted, a renewed certificate is served",
          "[integration][tls]") {
  TempDir certs;
  const Pki server = MakePki(certs, "server");
  const Pki other = MakePki(certs, "other");
  auto c = Cluster::Start({.start_writer = false,
                           .log_flags = {"--tls_cert=" + server.cert,
                                         "--tls_key=" + server.key}});
  REQUIRE(c.ok());
  const int port = (*c)->log_port();
  CHECK(Head(*Log(port, {.ca = server.ca})).ok());
  CHECK(Head(*Log(port, {}), absl::Seconds(2)).error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(Head(*Log(port, {.ca = other.ca}), absl::Seconds(2)).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  CHECK_THAT((*c)->log_process()->LogTail(), Catch::Contains(", TLS"));

  // A renewed certificate (here from another CA) is served without a restart.
  Run(absl::StrCat("cp ", other.cert, " ", server.cert));
  Run(absl::StrCat("cp ", other.key, " ", server.key));
  absl::Time until = absl::Now() + absl::Seconds(30);
  grpc::Status renewed;
  while (absl::Now() < until) {
    renewed = Head(*Log(port, {.ca = other.ca}), absl::Seconds(2));
    if (renewed.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  CHECK(renewed.ok());
}

TEST_CASE("mTLS: a client without a certificate, or with one of another CA, is refused",
          "[integration][tls]") {
  TempDir certs;
  const Pki server = MakePki(certs, "server");
  const Pki client = MakePki(certs, "client");
  const Pki stranger = MakePki(certs, "stranger");
  auto c = Cluster::Start({.start_writer = false,
                           .log_flags = {"--tls_cert=" + server.cert, "--tls_key=" + server.key,
                                         "--tls_client_ca=" + client.ca}});
  REQUIRE(c.ok());
  const int port = (*c)->log_port();
  CHECK(Head(*Log(port, {.ca = server.ca}), absl::Seconds(2)).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  CHECK(Head(*Log(port, {.ca = server.ca, .cert = stranger.cert, .key = stranger.key}),
             absl::Seconds(2))
            .error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(Head(*Log(port, {.ca = server.ca, .cert = client.cert, .key = client.key})).ok());
  // TLS does not replace the key: a client certificate without one is still refused.
  auto keyless = v1::LogService::NewStub(auth::CreateKeyedChannel(
      absl::StrCat("127.0.0.1:", port), "",
      auth::ChannelCredentials({.ca = server.ca, .cert = client.cert, .key = client.key})));
  CHECK(Head(*keyless).error_code() == grpc::StatusCode::UNAUTHENTICATED);
}

TEST_CASE("a whole cluster over mTLS: writer and reader follow the log, answers over TLS",
          "[integration][tls]") {
  TempDir certs;
  // One CA for the cluster: each process presents its certificate as
  // server and as client (pki.h: the log and the writer require one).
  const Pki pki = MakePki(certs, "cluster");
  ClusterOptions options{.readers = 1};
  UseTls(pki, &options);
  auto c = Cluster::Start(options);
  REQUIRE(c.ok());
  auto created = (*c)->CreateTenant("acme");
  REQUIRE(created.ok());
  auto status = (*c)->WaitForWriter(v1::REPLICATION_STATE_LIVE, *created);
  REQUIRE(status.ok());
  // The writer's admin port requires a client certificate too.
  auto no_cert = v1::WriterAdminService::NewStub(auth::CreateKeyedChannel(
      absl::StrCat("127.0.0.1:", (*c)->writer_port()), kTestKey,
      auth::ChannelCredentials({.ca = pki.ca})));
  grpc::ClientContext s_ctx;
  s_ctx.set_deadline(DeadlineIn(absl::Seconds(2)));
  v1::GetStatusResponse ignored;
  CHECK(no_cert->GetStatus(&s_ctx, v1::GetStatusRequest(), &ignored).error_code() ==
        grpc::StatusCode::UNAVAILABLE);

  // The reader answers over TLS, to a client without a certificate (it has
  // no policy yet: FAILED_PRECONDITION from the tenant, not a transport or
  // key error).
  auto reader = v1::ReaderService::NewStub(auth::CreateKeyedChannel(
      absl::StrCat("127.0.0.1:", (*c)->reader_port(0)), kTestKey,
      auth::ChannelCredentials({.ca = pki.ca})));
  v1::AuthorizeRequest req;
  req.set_tenant("acme");
  req.mutable_actor()->set_type("User");
  req.mutable_actor()->set_id("alice");
  req.set_action("read");
  req.mutable_resource()->set_type("Doc");
  req.mutable_resource()->set_id("d");
  req.mutable_consistency()->set_fully_consistent(true);
  v1::AuthorizeResponse resp;
  grpc::ClientContext r_ctx;
  r_ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
  grpc::Status s = reader->Authorize(&r_ctx, req, &resp);
  INFO(s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(s.error_message(), Catch::Contains("no policy"));
}

TEST_CASE("a TLS server's plaintext health-only port answers probes and nothing else",
          "[integration][tls]") {
  TempDir certs;
  const Pki pki = MakePki(certs, "p");
  const std::string health_port_file = certs.File("health.port");
  auto c = Cluster::Start({.start_writer = false,
                           .log_flags = {"--tls_cert=" + pki.cert, "--tls_key=" + pki.key,
                                         "--health_listen=127.0.0.1:0",
                                         "--health_port_file=" + health_port_file}});
  REQUIRE(c.ok());
  auto port = WaitForPortFile(health_port_file, absl::Seconds(10), (*c)->log_process());
  REQUIRE(port.ok());
  auto plain = LocalChannel(*port, "");
  CHECK(CheckHealth(plain.get()) == Health::kServing);
  CHECK(CheckHealth(plain.get(), "arbiter.v1.LogService") == Health::kServing);
  // Only health: the log's RPCs are not there.
  CHECK(Head(*Log(*port, {})).error_code() == grpc::StatusCode::UNIMPLEMENTED);
  // The main port stays TLS only.
  CHECK(CheckHealth(LocalChannel((*c)->log_port(), "").get()) == Health::kUnreachable);
}

TEST_CASE("a TLS flag without its pair, or a file that cannot be read, exits 2 naming it",
          "[integration][tls]") {
  TempDir dir;
  const Pki pki = MakePki(dir, "p");
  for (const auto& [flags, named] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--tls_cert=" + pki.cert}, "--tls_cert and --tls_key"},
           {{"--tls_client_ca=" + pki.ca}, "--tls_client_ca"},
           {{"--tls_cert=" + pki.cert, "--tls_key=" + dir.File("missing.key")}, "missing.key"}}) {
    std::vector<std::string> argv = {BinaryPath("services/log/arbiter-log"),
                                     "--listen=127.0.0.1:0", "--data_dir=" + dir.File("d")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto p = Process::Start(argv, dir.File("log.txt"));
    REQUIRE(p.ok());
    auto exit = p->Wait(absl::Seconds(10));
    REQUIRE(exit.ok());
    CHECK(exit->code == 2);
    CHECK_THAT(p->LogTail(), Catch::Contains(named));
  }
}

}  // namespace
}  // namespace arbiter::testing
