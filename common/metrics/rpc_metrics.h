#ifndef ARBITER_COMMON_METRICS_RPC_METRICS_H_
#define ARBITER_COMMON_METRICS_RPC_METRICS_H_

// RPC metrics of every server, as a gRPC server interceptor that
// common/server/ServerRunner installs (metrics.h):
//
//   arbiter_rpc_requests_total{service, method, code}     counter
//   arbiter_rpc_duration_seconds{service, method}         histogram, 10 µs-10 s
//
// `service` is the full name ("arbiter.v1.ReaderService"), `method` the
// method's ("Authorize"), `code` the canonical status code ("OK",
// "PERMISSION_DENIED", ...). The duration runs from the call's arrival to its
// status being sent (a stream's whole life). A call that ends without a
// status (the client went away) counts as CANCELLED.

#include <memory>

#include <grpcpp/support/server_interceptor.h>

namespace arbiter::metrics {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetricsInterceptorFactory();

}  // namespace arbiter::metrics

#endif  // ARBITER_COMMON_METRICS_RPC_METRICS_H_
