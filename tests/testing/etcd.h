#ifndef ARBITER_TESTS_TESTING_ETCD_H_
#define ARBITER_TESTS_TESTING_ETCD_H_

// A real etcd cluster (Debian's etcd-server) for tests: N members on
// 127.0.0.1, each with a client and a peer port picked free by the kernel
// and a data directory of its own in a fresh temporary directory. Members
// can be killed and restarted (same ports, same data).
//
//   auto etcd = EtcdCluster::Start(3);
//   store options .endpoints = (*etcd)->endpoints();

#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/process.h"

namespace arbiter::testing {

// Not thread-safe.
class EtcdCluster {
 public:
  // Starts `members` members and waits until the cluster answers a read.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(int members = 1);
  ~EtcdCluster();

  // "127.0.0.1:<client port>" of every member, member order.
  std::vector<std::string> endpoints() const;
  int size() const { return static_cast<int>(members_.size()); }

  // Sends `sig` to member i and waits for it to exit.
  absl::Status Stop(int i, int sig = SIGKILL);
  // Starts member i again (it rejoins with its data).
  absl::Status Restart(int i);
  // The index of the member that is the Raft leader now (etcdctl endpoint
  // status of every running member); NOT_FOUND while none is.
  absl::StatusOr<int> Leader() const;
  // Whether member i is running.
  bool running(int i) const { return members_[i].process.has_value(); }
  // Waits until a linearizable read through member i succeeds.
  absl::Status WaitReady(int i, absl::Duration timeout = absl::Seconds(30)) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    std::optional<Process> process;
  };
  EtcdCluster() = default;
  absl::Status Launch(int i, bool first_start);

  TempDir root_;
  std::vector<Member> members_;
  std::string initial_cluster_;
};

// A TCP port of 127.0.0.1 that was free a moment ago (bound and released).
absl::StatusOr<int> PickFreePort();

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_ETCD_H_
