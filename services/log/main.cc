// arbiter-log: the central, durable, ordered log (DESIGN.md §1).

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/server/server_runner.h"
#include "glog/logging.h"
#include "services/log/log_service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve on; port 0 picks a free port");
ABSL_FLAG(std::string, port_file, "",
          "if set, the chosen port is written to this file once listening");
ABSL_FLAG(std::string, data_dir, "./var/log",
          "directory for the log's durable store and snapshots");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(5),
          "on SIGTERM, how long to keep serving after health goes "
          "NOT_SERVING");

int main(int argc, char** argv) {
  arbiter::server::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "arbiter-log: the central log. Validates writes, orders and stores "
      "them durably, streams them to hosts, and cuts snapshots.");
  absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  arbiter::server::ServerOptions server_options{
      .listen = absl::GetFlag(FLAGS_listen),
      .port_file = absl::GetFlag(FLAGS_port_file),
      .drain_grace = absl::GetFlag(FLAGS_drain_grace),
  };
  if (absl::Status s = server_options.Validate(); !s.ok()) {
    std::cerr << "arbiter-log: " << s.message() << "\n";
    return 2;
  }

  arbiter::log::LogService service;
  arbiter::server::ServerRunner runner(server_options);
  runner.AddService(&service, arbiter::v1::LogService::service_full_name());
  if (absl::Status s = runner.Start(); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  runner.WaitForTerminationSignal();
  runner.Drain();
  return 0;
}
