// with_cluster: runs a command against a fresh local Arbiter suite, so that
// clients written in other languages are tested against real processes.
//
//   with_cluster [--readers=N] [--tls] -- COMMAND [ARGS...]
//
// Starts arbiter-log, arbiter-writer and N (default 1) arbiter-readers on
// 127.0.0.1 port 0 in a temporary directory (tests/testing/cluster.h); with
// --tls every service serves TLS with certificates made by openssl, and the
// log and the writer require client certificates (tests/testing/pki.h). Waits
// until the writer is LIVE and every reader reports SERVING, then runs
// COMMAND with these environment variables and exits with its exit code:
//   ARBITER_LOG_ADDRESS, ARBITER_WRITER_ADDRESS, ARBITER_READER_ADDRESS
//                       (the first reader), ARBITER_READER_ADDRESSES (all,
//                       comma-separated): the `arbiter` CLI reads the first three
//   ARBITER_CLI         the built `arbiter` binary
//   ARBITER_KEY         the cluster's operator API key
//   ARBITER_KEY_FILE    a file holding it
//   ARBITER_TLS_CA, ARBITER_TLS_CERT, ARBITER_TLS_KEY
//                       with --tls: the CA to trust and a client certificate
//                       and key it signed (PEM files); unset otherwise
//   ARBITER_SOURCE_DIR, ARBITER_BINARY_DIR
//   ARBITER_TEST_TMPDIR a scratch directory, removed afterwards
// When COMMAND fails, the services' log tails are printed.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/pki.h"

extern char** environ;

namespace arbiter::testing {
namespace {

int Usage() {
  std::cerr << "usage: with_cluster [--readers=N] [--tls] -- COMMAND [ARGS...]\n";
  return 2;
}

std::string Tail(const std::string& path, size_t max_bytes = 3000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

int Main(int argc, char** argv) {
  int readers = 1;
  bool tls = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (absl::StartsWith(a, "--readers=") &&
        absl::SimpleAtoi(a.substr(strlen("--readers=")), &readers) && readers >= 1) {
      continue;
    }
    if (a == "--tls") {
      tls = true;
      continue;
    }
    return Usage();
  }
  if (i >= argc) return Usage();

  ClusterOptions options{.readers = readers};
  TempDir certs;
  std::optional<Pki> pki;
  if (tls) {
    auto made = MakePki(certs.path(), "interop");
    if (!made.ok()) {
      std::cerr << "with_cluster: " << made.status() << "\n";
      return 2;
    }
    pki = *made;
    UseTls(*pki, &options);
  }
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) {
    std::cerr << "with_cluster: " << cluster.status() << "\n";
    return 2;
  }
  Cluster& c = **cluster;
  if (auto s = c.WaitForWriter(v1::REPLICATION_STATE_LIVE); !s.ok()) {
    std::cerr << "with_cluster: " << s.status() << "\n";
    return 2;
  }
  std::vector<std::string> reader_addresses;
  for (int r = 0; r < readers; ++r) {
    auto channel = c.Channel(c.reader_port(r));
    if (auto s = WaitForHealth(channel.get(), Health::kServing, absl::Seconds(30)); !s.ok()) {
      std::cerr << "with_cluster: reader " << r << ": " << s << "\n";
      return 2;
    }
    reader_addresses.push_back(absl::StrCat("127.0.0.1:", c.reader_port(r)));
  }
  std::string scratch = c.dir() + "/scratch";
  std::filesystem::create_directories(scratch);

  setenv("ARBITER_LOG_ADDRESS", absl::StrCat("127.0.0.1:", c.log_port()).c_str(), 1);
  setenv("ARBITER_WRITER_ADDRESS", absl::StrCat("127.0.0.1:", c.writer_port()).c_str(), 1);
  setenv("ARBITER_READER_ADDRESS", reader_addresses[0].c_str(), 1);
  setenv("ARBITER_READER_ADDRESSES", absl::StrJoin(reader_addresses, ",").c_str(), 1);
  setenv("ARBITER_CLI", BinaryPath("services/cli/arbiter").c_str(), 1);
  setenv("ARBITER_KEY", kTestKey, 1);  // the cluster's operator key (testing/keys.h)
  setenv("ARBITER_KEY_FILE", TestKeyFile(c.dir()).c_str(), 1);
  setenv("ARBITER_SOURCE_DIR", ARBITER_SOURCE_DIR, 1);
  setenv("ARBITER_BINARY_DIR", ARBITER_BINARY_DIR, 1);
  setenv("ARBITER_TEST_TMPDIR", scratch.c_str(), 1);
  unsetenv("ARBITER_TENANT");
  for (const auto& [name, value] :
       {std::pair<const char*, std::string>{"ARBITER_TLS_CA", pki ? pki->ca : ""},
        {"ARBITER_TLS_CERT", pki ? pki->cert : ""},
        {"ARBITER_TLS_KEY", pki ? pki->key : ""}}) {
    if (value.empty()) {
      unsetenv(name);
    } else {
      setenv(name, value.c_str(), 1);
    }
  }

  pid_t pid;
  if (int err = posix_spawnp(&pid, argv[i], nullptr, nullptr, argv + i, environ); err != 0) {
    std::cerr << "with_cluster: cannot run " << argv[i] << ": " << strerror(err) << "\n";
    return 2;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code != 0) {
    std::cerr << "\nwith_cluster: command exited with " << code << "; service logs:\n";
    std::vector<std::string> names = {"log.stderr", "writer.stderr"};
    for (int r = 0; r < readers; ++r) names.push_back(absl::StrCat("reader", r, ".stderr"));
    for (const auto& n : names) {
      std::cerr << "---- " << n << " (tail)\n" << Tail(c.dir() + "/" + n) << "\n";
    }
  }
  return code;
}

}  // namespace
}  // namespace arbiter::testing

int main(int argc, char** argv) { return arbiter::testing::Main(argc, argv); }
