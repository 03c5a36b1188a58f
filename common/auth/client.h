#ifndef ARBITER_COMMON_AUTH_CLIENT_H_
#define ARBITER_COMMON_AUTH_CLIENT_H_

// The client side of API keys: a channel whose every call carries
// "authorization: Bearer <key>" (a client interceptor, so no call site can
// forget it). Used by every Arbiter client: the writer and the reader
// towards the log, the CLI, the tests and the benchmarks.

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace arbiter::auth {

// A client's TLS (docs/SECURITY.md): no `ca`, plaintext; else TLS trusting
// the CA in that PEM file, presenting `cert` / `key` when given (mTLS). The
// files are re-read every server::kTlsReloadIntervalSeconds.
struct ClientTls {
  std::string ca;
  std::string cert;
  std::string key;
};
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientTls& tls);

// A channel to `target`; with a non-empty `key` every call on it sends it.
std::shared_ptr<grpc::Channel> CreateKeyedChannel(
    const std::string& target, const std::string& key,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials =
        grpc::InsecureChannelCredentials(),
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

}  // namespace arbiter::auth

#endif  // ARBITER_COMMON_AUTH_CLIENT_H_
