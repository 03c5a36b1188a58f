#ifndef ARBITER_TESTS_TESTING_CLUSTER_H_
#define ARBITER_TESTS_TESTING_CLUSTER_H_

// A whole Arbiter suite of real processes on 127.0.0.1 for integration tests:
// one arbiter-log, one host (an arbiter-writer and N arbiter-readers sharing
// a data directory), each on a port chosen by the kernel, each in a fresh
// temporary directory. Processes can be stopped, killed and restarted; the
// log comes back on the same port, so hosts reconnect by themselves.
//
//   auto c = Cluster::Start({.readers = 2});
//   c->Write(...); c->KillWriter(SIGKILL); c->StartWriter();
//   REQUIRE(c->WaitForWriter(LIVE, offset).ok());

#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/auth/client.h"
#include "tests/testing/process.h"

namespace arbiter::testing {

struct ClusterOptions {
  int readers = 0;
  bool start_writer = true;
  std::vector<std::string> log_flags;
  std::vector<std::string> writer_flags;
  std::vector<std::string> reader_flags;
  // >= 0: arbiter-log runs pinned to this CPU (Process::Start's `cpu`).
  int log_cpu = -1;
  // The cluster's own stubs connect with TLS when `client_tls.ca` is set
  // (tests/testing/pki.h: UseTls sets it with the services' flags).
  auth::ClientTls client_tls;
};

// Not thread-safe, except the stubs (gRPC stubs are thread-safe).
class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(ClusterOptions options);
  ~Cluster();

  // The log. Start() picks its port once; later starts reuse it.
  absl::Status StartLog(const std::vector<std::string>& extra_flags = {});
  // Sends `sig` and waits for the exit (SIGKILL: at once).
  absl::Status StopLog(int sig = SIGTERM);
  int log_port() const { return log_port_; }
  Process* log_process() { return log_ ? &*log_ : nullptr; }
  v1::LogService::Stub& log() { return *log_stub_; }
  const std::string& log_data_dir() const { return log_data_dir_; }

  absl::Status StartWriter(const std::vector<std::string>& extra_flags = {});
  absl::Status StopWriter(int sig = SIGTERM);
  Process* writer_process() { return writer_ ? &*writer_ : nullptr; }
  // The writer's admin port (of its latest start). REQUIRES: started once.
  int writer_port() const { return writer_port_; }
  v1::WriterAdminService::Stub& writer_admin() { return *writer_stub_; }
  const std::string& host_data_dir() const { return host_data_dir_; }

  absl::Status StartReader(int i, const std::vector<std::string>& extra_flags = {});
  absl::Status StopReader(int i, int sig = SIGTERM);
  v1::ReaderService::Stub& reader(int i) { return *readers_[i].stub; }
  int reader_port(int i) const { return readers_[i].port; }

  // Polls the writer's GetStatus until `state` and applied >= min_applied.
  absl::StatusOr<v1::GetStatusResponse> WaitForWriter(
      v1::ReplicationState state, uint64_t min_applied = 0,
      absl::Duration timeout = absl::Seconds(60));

  // Convenience calls to the log with a 30 s deadline.
  absl::StatusOr<uint64_t> CreateTenant(const std::string& tenant);
  absl::StatusOr<uint64_t> SetPolicy(const std::string& tenant,
                                     const std::string& source);
  absl::StatusOr<uint64_t> Write(const v1::WriteRequest& request);

  const std::string& dir() const { return root_.path(); }

  // A channel to 127.0.0.1:port sending the test key, over TLS when the
  // options ask for it.
  std::shared_ptr<grpc::Channel> Channel(int port) const;

  // The Prometheus port of "log", "writer" or "reader<i>" (each process
  // serves /metrics on a port of its own, written to a port file).
  absl::StatusOr<int> MetricsPort(const std::string& process) const;

 private:
  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {}
  struct ReaderProc {
    std::optional<Process> process;
    int port = 0;
    std::unique_ptr<v1::ReaderService::Stub> stub;
  };

  ClusterOptions options_;
  TempDir root_;
  std::string log_data_dir_, host_data_dir_;
  std::optional<Process> log_;
  int log_port_ = 0;
  std::unique_ptr<v1::LogService::Stub> log_stub_;
  std::optional<Process> writer_;
  int writer_port_ = 0;
  std::unique_ptr<v1::WriterAdminService::Stub> writer_stub_;
  std::vector<ReaderProc> readers_;
  int starts_ = 0;
};

// A deadline `d` from now, for ClientContext::set_deadline.
std::chrono::system_clock::time_point DeadlineIn(absl::Duration d);

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_CLUSTER_H_
