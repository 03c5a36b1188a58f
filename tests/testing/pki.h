#ifndef ARBITER_TESTS_TESTING_PKI_H_
#define ARBITER_TESTS_TESTING_PKI_H_

// Certificates for TLS tests, made by the openssl command at test time: a CA
// and a certificate it signed for 127.0.0.1 and localhost, PEM files in a
// directory the caller owns. And the flags that make a Cluster speak TLS.

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/client.h"
#include "tests/testing/cluster.h"

namespace arbiter::testing {

struct Pki {
  std::string ca;    // the CA's certificate
  std::string cert;  // signed by it: CN=localhost, SAN IP:127.0.0.1, DNS:localhost
  std::string key;   // the key of `cert`

  // What a client that trusts this CA and presents `cert` passes.
  auth::ClientTls ClientTls() const { return {.ca = ca, .cert = cert, .key = key}; }
};

// Writes <dir>/<name>-ca.pem, <dir>/<name>.pem and <dir>/<name>.key (EC
// P-256, valid two days). INTERNAL naming the openssl command that failed.
absl::StatusOr<Pki> MakePki(const std::string& dir, const std::string& name);

// Every process of the cluster serves TLS with `pki.cert`; the log and the
// writer also require client certificates of `pki.ca` (mTLS: the writer's
// and readers' connections to the log, admin calls to the writer); readers
// require none (their clients are backend services). Hosts trust `pki.ca`
// and present `pki.cert`, and so do the cluster's own stubs.
void UseTls(const Pki& pki, ClusterOptions* options);

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_PKI_H_
