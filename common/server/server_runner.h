#ifndef ARBITER_COMMON_SERVER_SERVER_RUNNER_H_
#define ARBITER_COMMON_SERVER_SERVER_RUNNER_H_

// Starts a gRPC server the way every Arbiter binary does: the standard
// grpc.health.v1 service and server reflection, one listening address (port 0
// picks a free port, written to a port file once listening), TLS, RPC metrics
// and the /metrics listener (the one place for RPC-wide concerns), and a
// drain on SIGTERM/SIGINT:
//
//   health NOT_SERVING -> keep serving for the grace period (load balancers
//   move away) -> Shutdown(deadline) (new calls refused, in-flight calls
//   finish or are cancelled at the deadline) -> Wait.
//
// Usage, in main():
//   BlockTerminationSignals();           // first, before any thread starts
//   ServerRunner runner(options);
//   runner.AddService(&service, v1::LogService::service_full_name());
//   if (auto s = runner.Start(); !s.ok()) { LOG(ERROR) << s; return 1; }
//   runner.WaitForTerminationSignal();
//   runner.Drain();                       // returns when the server is down

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"

namespace arbiter::server {

struct ServerOptions {
  // HOST:PORT to listen on; port 0 picks a free port.
  std::string listen = "127.0.0.1:0";
  // If non-empty, the chosen port is written here (atomically, by rename)
  // once the server is listening.
  std::string port_file;
  // How long to keep serving after health goes NOT_SERVING.
  absl::Duration drain_grace = absl::Seconds(5);
  // How long Shutdown waits for in-flight calls before cancelling them.
  absl::Duration shutdown_deadline = absl::Seconds(10);
  // Health right after Start(): a fail-closed server (the reader) starts
  // NOT_SERVING and says SERVING only once it has proved it may.
  bool initially_serving = true;
  // TLS (docs/SECURITY.md): with a certificate chain and its key (PEM files)
  // the port speaks TLS only; with client_ca as well, every client must
  // present a certificate that CA signed (mTLS). The files are re-read every
  // kTlsReloadInterval: a renewed certificate is served without a restart.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // If non-empty, HOST:PORT of a second, plaintext port that serves only
  // grpc.health.v1 (the same status as the main port): for platform probes
  // that speak plaintext only (Kubernetes' grpc: probes) when the main port
  // is TLS. Port 0 picks one, written to health_port_file if given.
  std::string health_listen;
  std::string health_port_file;
  // If non-empty, HOST:PORT of the Prometheus listener (GET /metrics, text
  // format; common/metrics/metrics.h). Port 0 picks one, written to
  // metrics_port_file if given. A listener that cannot start is logged as an
  // error and the server runs without it: metrics never keep a service from
  // answering. RPC metrics are counted either way (an interceptor on every
  // call, common/metrics/rpc_metrics.h).
  std::string metrics_listen;
  std::string metrics_port_file;

  // INVALID_ARGUMENT naming the bad field.
  absl::Status Validate() const;
};

// How often TLS files are checked for changes (servers and clients).
inline constexpr unsigned kTlsReloadIntervalSeconds = 2;

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// later, so that WaitForTerminationSignal() can take them synchronously. Call
// it first in main().
void BlockTerminationSignals();

// Not thread-safe, except SetServing() and RequestStop(), which may be called
// from any thread once Start() returned OK.
class ServerRunner {
 public:
  explicit ServerRunner(ServerOptions options);
  ~ServerRunner();
  ServerRunner(const ServerRunner&) = delete;
  ServerRunner& operator=(const ServerRunner&) = delete;

  // Registers a service (sync or callback) under its full name (the
  // generated `Service::service_full_name()`), which the health service
  // reports too. Not owned: it must outlive the runner. REQUIRES: before
  // Start().
  void AddService(grpc::Service* service, std::string full_name);

  // Builds and starts the server with health set to initially_serving.
  // UNAVAILABLE if the
  // address cannot be bound; INTERNAL if the port file cannot be written.
  absl::Status Start();

  // The port the server listens on. REQUIRES: Start() returned OK.
  int port() const { return port_; }
  // The health-only port (0 without health_listen).
  int health_port() const { return health_port_; }
  // The metrics port (0 without metrics_listen, or if it did not start).
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }

  // Sets the overall health status and that of every registered service.
  void SetServing(bool serving);

  // Waits for SIGTERM or SIGINT (or RequestStop()); returns the signal
  // number (0 for RequestStop).
  int WaitForTerminationSignal();

  // Makes WaitForTerminationSignal() return.
  void RequestStop();

  // health NOT_SERVING, keep serving for the grace period, then Shutdown
  // with the deadline and wait for the server to stop; the metrics listener
  // stops too (a gauge may read what the caller destroys next). Idempotent.
  void Drain();

  // Shutdown at once (no grace; in-flight calls are cancelled) and wait.
  // Idempotent; the destructor calls it.
  void Stop();

  // The underlying server, for services that need it. REQUIRES: started.
  grpc::Server* server() { return server_.get(); }

 private:
  // Starts metrics_ (logs why not).
  void StartMetrics();

  ServerOptions options_;
  std::vector<grpc::Service*> services_;
  std::vector<std::string> service_names_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;  // health_listen's, if any
  std::unique_ptr<metrics::MetricsListener> metrics_;  // metrics_listen's, if any
  int port_ = 0;
  int health_port_ = 0;
  bool stopped_ = false;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace arbiter::server

#endif  // ARBITER_COMMON_SERVER_SERVER_RUNNER_H_
