#ifndef ARBITER_COMMON_AUTH_AUTH_FLAGS_H_
#define ARBITER_COMMON_AUTH_AUTH_FLAGS_H_

// Authentication as command-line flags, shared by every server (arbiter-log,
// arbiter-reader, arbiter-writer) so they are spelled the same everywhere:
//
//   --insecure_no_auth   accept every call without an API key (local
//                        experiments only; a warning is logged)
//
// and by every client of the log (the writer, the reader):
//
//   --log_key_file=PATH  the API key (replicate or operator scope) sent to
//                        arbiter-log (also by arbiter-log to a peer
//                        front-end it fetches a snapshot from)
//
// and TLS (docs/SECURITY.md): --tls_cert, --tls_key (this server's
// certificate chain and key, PEM; also presented as the client certificate
// to the log), --tls_client_ca (require client certificates signed by it),
// --tls_ca (trust this CA for the log; without it the log is plaintext),
// --health_listen / --health_port_file (a plaintext health-only port).

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/access.h"
#include "common/auth/client.h"
#include "common/server/server_runner.h"

namespace arbiter::auth {

AccessOptions AccessOptionsFromFlags();

// --tls_cert, --tls_key, --tls_client_ca, --health_listen,
// --health_port_file into `options` (checked by ServerOptions::Validate).
void ApplyServerTlsFlags(server::ServerOptions* options);

// How to reach the log: --tls_ca, with --tls_cert / --tls_key as the client
// certificate.
ClientTls LogTlsFromFlags();

// The key in --log_key_file; "" when the flag is empty. The file's errors
// (auth::ReadKeyFile) name --log_key_file.
absl::StatusOr<std::string> LogKeyFromFlags();

}  // namespace arbiter::auth

#endif  // ARBITER_COMMON_AUTH_AUTH_FLAGS_H_
