#include "common/auth/auth_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/auth/api_key.h"

ABSL_FLAG(bool, insecure_no_auth, false,
          "Accept every call without an API key (local experiments only: anyone who can "
          "reach the port may read, write and administer every tenant)");
ABSL_FLAG(std::string, log_key_file, "",
          "File holding the API key (replicate or operator scope) sent to arbiter-log "
          "(by arbiter-log itself: to a peer front-end it fetches a snapshot from); "
          "empty: none (for a log run with --insecure_no_auth)");

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of this server: with --tls_key the port speaks TLS only "
          "(re-read when the file changes); also the client certificate towards the log");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: clients must present a certificate it signed (mTLS)");
ABSL_FLAG(std::string, health_listen, "",
          "HOST:PORT of a second, plaintext port serving only grpc.health.v1 (for probes that "
          "speak plaintext, when the main port is TLS); empty: none");
ABSL_FLAG(std::string, health_port_file, "", "where the --health_listen port is written");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle to trust for arbiter-log (then TLS to the log; empty: plaintext)");

namespace arbiter::auth {

void ApplyServerTlsFlags(server::ServerOptions* options) {
  options->tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options->tls_key = absl::GetFlag(FLAGS_tls_key);
  options->tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options->health_listen = absl::GetFlag(FLAGS_health_listen);
  options->health_port_file = absl::GetFlag(FLAGS_health_port_file);
}

ClientTls LogTlsFromFlags() {
  ClientTls tls{.ca = absl::GetFlag(FLAGS_tls_ca)};
  if (!tls.ca.empty()) {
    tls.cert = absl::GetFlag(FLAGS_tls_cert);
    tls.key = absl::GetFlag(FLAGS_tls_key);
  }
  return tls;
}

AccessOptions AccessOptionsFromFlags() {
  return AccessOptions{.disabled = absl::GetFlag(FLAGS_insecure_no_auth)};
}

absl::StatusOr<std::string> LogKeyFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_log_key_file);
  if (path.empty()) return std::string();
  absl::StatusOr<std::string> key = ReadKeyFile(path);
  if (!key.ok()) {
    return absl::Status(key.status().code(),
                        absl::StrCat("--log_key_file: ", key.status().message()));
  }
  return key;
}

}  // namespace arbiter::auth
