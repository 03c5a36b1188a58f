#ifndef ARBITER_TESTS_TESTING_HOST_H_
#define ARBITER_TESTS_TESTING_HOST_H_

// One host as real processes on 127.0.0.1: an arbiter-writer and any number
// of arbiter-readers sharing one data directory, following a log that runs
// elsewhere (e.g. a Cluster's). For tests and benchmarks that need more than
// the one host a Cluster owns: a second host restoring from a snapshot, or
// an extra reader started late on an existing data directory.
//
//   auto c = Cluster::Start({.start_writer = false});
//   Host b(c->dir() + "/hostB", c->log_port());
//   b.StartWriter(); b.StartReader(0);   // reader ids "reader-0", ...
//
// Readers are numbered by the caller (any i >= 0, started in any order); a
// reader restarted with the same i gets its previous port back. Every
// process's output goes to <dir>/<writer|reader-i>.stderr. The destructor
// SIGKILLs whatever still runs (the data directory is left in place; it
// lives under the caller's temporary directory).
//
// Not thread-safe, except the stubs (gRPC stubs are thread-safe).

#include <signal.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/base/value.h"
#include "tests/testing/process.h"

namespace arbiter::testing {

struct HostOptions {
  std::vector<std::string> writer_flags;
  std::vector<std::string> reader_flags;
  // >= 0: every process of the host runs pinned to this CPU.
  int cpu = -1;
};

class Host {
 public:
  // `dir` is created if missing; the data directory is <dir>/data.
  Host(std::string dir, int log_port, HostOptions options = {});
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const std::string& data_dir() const { return data_dir_; }

  // Starts the writer and waits for its port file (not for LIVE).
  absl::Status StartWriter(const std::vector<std::string>& extra_flags = {});
  // Sends `sig` and waits for the exit (up to 60 s).
  absl::Status StopWriter(int sig = SIGTERM);
  Process* writer_process() { return writer_ ? &*writer_ : nullptr; }
  // REQUIRES: StartWriter() succeeded once.
  v1::WriterAdminService::Stub& writer_admin() { return *writer_stub_; }
  // The writer's admin port (of its latest start). REQUIRES: started once.
  int writer_port() const { return writer_port_; }

  // Starts reader `i` (id "reader-<i>") and waits for its port file (not
  // for SERVING).
  absl::Status StartReader(int i, const std::vector<std::string>& extra_flags = {});
  absl::Status StopReader(int i, int sig = SIGTERM);
  // nullptr when reader i is not running.
  Process* reader_process(int i);
  // REQUIRES: StartReader(i) succeeded once.
  v1::ReaderService::Stub& reader(int i) { return *readers_.at(i).stub; }
  int reader_port(int i) const { return readers_.at(i).port; }

  // Polls the writer's GetStatus until `state` and applied >= min_applied.
  absl::StatusOr<v1::GetStatusResponse> WaitForWriter(
      v1::ReplicationState state, uint64_t min_applied = 0,
      absl::Duration timeout = absl::Seconds(60));

 private:
  struct ReaderProc {
    std::optional<Process> process;
    int port = 0;
    std::unique_ptr<v1::ReaderService::Stub> stub;
  };

  const std::string dir_;
  const std::string data_dir_;
  const int log_port_;
  const HostOptions options_;
  std::optional<Process> writer_;
  std::unique_ptr<v1::WriterAdminService::Stub> writer_stub_;
  int writer_port_ = 0;
  std::map<int, ReaderProc> readers_;
  int starts_ = 0;
};

// The facts of `tenant` in the current generation of the host data
// directory `data_dir` (read-only; while a writer runs, as of some offset).
absl::StatusOr<std::set<Fact>> ReplicaFacts(const std::string& data_dir,
                                            const std::string& tenant);

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_HOST_H_
