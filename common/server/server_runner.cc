#include "common/server/server_runner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <fstream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/numbers.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/metrics/rpc_metrics.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "glog/logging.h"

namespace arbiter::server {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// INVALID_ARGUMENT naming `flag` unless `address` is HOST:PORT, port 0..65535.
absl::Status ValidateAddress(absl::string_view flag, const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": expected HOST:PORT with a port in 0..65535, got \"", address, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ServerOptions::Validate() const {
  ARBITER_RETURN_IF_ERROR(ValidateAddress("--listen", listen));
  if (drain_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_grace: must not be negative");
  }
  if (!health_listen.empty()) {
    ARBITER_RETURN_IF_ERROR(ValidateAddress("--health_listen", health_listen));
  }
  if (!metrics_listen.empty()) {
    ARBITER_RETURN_IF_ERROR(ValidateAddress("--metrics_listen", metrics_listen));
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key: give both or neither");
  }
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca: needs --tls_cert and --tls_key");
  }
  for (const std::string* f : {&tls_cert, &tls_key, &tls_client_ca}) {
    if (!f->empty() && ::access(f->c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS file ", *f, " cannot be read: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  CHECK_EQ(pthread_sigmask(SIG_BLOCK, &set, nullptr), 0);
}

ServerRunner::ServerRunner(ServerOptions options)
    : options_(std::move(options)) {}

ServerRunner::~ServerRunner() { Stop(); }

void ServerRunner::AddService(grpc::Service* service, std::string full_name) {
  CHECK(server_ == nullptr) << "AddService after Start";
  services_.push_back(service);
  service_names_.push_back(std::move(full_name));
}

absl::Status ServerRunner::Start() {
  CHECK(server_ == nullptr) << "Start called twice";
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which would let a second process bind
  // the same port and silently share its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options_.tls_cert.empty()) {
    auto files = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        options_.tls_key, options_.tls_cert, options_.tls_client_ca, kTlsReloadIntervalSeconds);
    grpc::experimental::TlsServerCredentialsOptions tls(files);
    tls.watch_identity_key_cert_pairs();
    if (options_.tls_client_ca.empty()) {
      tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    } else {
      tls.watch_root_certs();
      tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    }
    credentials = grpc::experimental::TlsServerCredentials(tls);
  }
  builder.AddListeningPort(options_.listen, credentials, &port_);
  for (grpc::Service* service : services_) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(metrics::RpcMetricsInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen,
                     " (address in use or not local?)"));
  }
  if (!options_.health_listen.empty()) {
    grpc::ServerBuilder health;
    health.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    health.AddListeningPort(options_.health_listen, grpc::InsecureServerCredentials(),
                            &health_port_);
    health_server_ = health.BuildAndStart();
    if (health_server_ == nullptr || health_port_ == 0) {
      health_server_.reset();
      server_->Shutdown();
      server_.reset();
      return absl::UnavailableError(absl::StrCat("cannot listen on --health_listen ",
                                                 options_.health_listen));
    }
    LOG(INFO) << "health only, plaintext, on " << options_.health_listen << " (port "
              << health_port_ << ")";
    if (!options_.health_port_file.empty()) {
      absl::Status s =
          WriteFileAtomically(options_.health_port_file, absl::StrCat(health_port_, "\n"));
      if (!s.ok()) {
        health_server_->Shutdown();
        health_server_.reset();
        server_->Shutdown();
        server_.reset();
        return s;
      }
    }
  }
  StartMetrics();
  SetServing(options_.initially_serving);
  if (!options_.port_file.empty()) {
    absl::Status s = WriteFileAtomically(options_.port_file,
                                         absl::StrCat(port_, "\n"));
    if (!s.ok()) {
      server_->Shutdown();
      server_.reset();
      return s;
    }
  }
  LOG(INFO) << "listening on " << options_.listen << " (port " << port_ << ")"
            << (options_.tls_cert.empty()             ? ", plaintext"
                : options_.tls_client_ca.empty()      ? ", TLS"
                                                      : ", TLS with client certificates");
  return absl::OkStatus();
}

void ServerRunner::StartMetrics() {
  if (options_.metrics_listen.empty()) return;
  absl::StatusOr<std::unique_ptr<metrics::MetricsListener>> listener =
      metrics::MetricsListener::Start(options_.metrics_listen);
  if (!listener.ok()) {
    LOG(ERROR) << "--metrics_listen: " << listener.status().message()
               << "; serving without metrics";
    return;
  }
  metrics_ = std::move(*listener);
  LOG(INFO) << "metrics on http://" << options_.metrics_listen << "/metrics (port "
            << metrics_->port() << ")";
  if (!options_.metrics_port_file.empty()) {
    absl::Status s =
        WriteFileAtomically(options_.metrics_port_file, absl::StrCat(metrics_->port(), "\n"));
    if (!s.ok()) LOG(ERROR) << "--metrics_port_file: " << s;
  }
}

void ServerRunner::SetServing(bool serving) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
    if (health == nullptr) continue;
    health->SetServingStatus("", serving);
    for (const std::string& name : service_names_) {
      health->SetServingStatus(name, serving);
    }
  }
}

int ServerRunner::WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  while (!stop_requested_.load()) {
    timespec timeout{0, 100'000'000};  // re-check stop_requested_ every 100ms
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig > 0) {
      LOG(INFO) << "received signal " << sig << " (" << strsignal(sig)
                << "), draining";
      return sig;
    }
  }
  return 0;
}

void ServerRunner::RequestStop() { stop_requested_.store(true); }

void ServerRunner::Drain() {
  if (server_ == nullptr || stopped_) return;
  stopped_ = true;
  SetServing(false);
  LOG(INFO) << "health NOT_SERVING; serving for the grace period of "
            << options_.drain_grace;
  absl::SleepFor(options_.drain_grace);
  LOG(INFO) << "shutting down (in-flight calls get "
            << options_.shutdown_deadline << ")";
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.shutdown_deadline));
  server_->Wait();
  if (health_server_ != nullptr) {
    health_server_->Shutdown(std::chrono::system_clock::now());
    health_server_->Wait();
  }
  metrics_.reset();  // its gauges read objects main() destroys next
  LOG(INFO) << "server stopped";
}

void ServerRunner::Stop() {
  if (server_ == nullptr || stopped_) return;
  stopped_ = true;
  SetServing(false);
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  if (health_server_ != nullptr) {
    health_server_->Shutdown(std::chrono::system_clock::now());
    health_server_->Wait();
  }
  metrics_.reset();
}

}  // namespace arbiter::server
