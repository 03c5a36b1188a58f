// arbiter-reader: answers authorization questions from the host's replica
// (DESIGN.md §1).

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/server/server_runner.h"
#include "glog/logging.h"
#include "services/reader/reader_service.h"

namespace {
std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}
}  // namespace

ABSL_FLAG(std::string, listen, "127.0.0.1:50053",
          "HOST:PORT to serve on; port 0 picks a free port");
ABSL_FLAG(std::string, port_file, "",
          "if set, the chosen port is written to this file once listening");
ABSL_FLAG(std::string, data_dir, "./var/host",
          "the host's data directory, as the host's arbiter-writer uses it");
ABSL_FLAG(std::string, log_address,
          EnvOr("ARBITER_LOG_ADDRESS", "127.0.0.1:50051"),
          "arbiter-log's HOST:PORT, for fully_consistent reads (default from "
          "$ARBITER_LOG_ADDRESS)");
ABSL_FLAG(absl::Duration, max_staleness, absl::Seconds(2),
          "serve only while the replica proved fresh within this long");
ABSL_FLAG(absl::Duration, max_consistency_wait, absl::Seconds(5),
          "longest wait for the replica to reach a consistency token");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(5),
          "on SIGTERM or host drain, how long to keep serving after health "
          "goes NOT_SERVING");

int main(int argc, char** argv) {
  arbiter::server::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "arbiter-reader: answers Authorize, List, Actions and Query from the "
      "host's local replica; fails closed when the replica is not fresh.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  arbiter::server::ServerOptions server_options{
      .listen = absl::GetFlag(FLAGS_listen),
      .port_file = absl::GetFlag(FLAGS_port_file),
      .drain_grace = absl::GetFlag(FLAGS_drain_grace),
  };
  if (absl::Status s = server_options.Validate(); !s.ok()) {
    std::cerr << "arbiter-reader: " << s.message() << "\n";
    return 2;
  }

  arbiter::reader::ReaderService service;
  arbiter::server::ServerRunner runner(server_options);
  runner.AddService(&service, arbiter::v1::ReaderService::service_full_name());
  if (absl::Status s = runner.Start(); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  runner.WaitForTerminationSignal();
  runner.Drain();
  return 0;
}
