#ifndef ARBITER_COMMON_SERVER_GRPC_STATUS_H_
#define ARBITER_COMMON_SERVER_GRPC_STATUS_H_

// The one place where library errors become RPC errors (STYLE.md, "Errors").

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace arbiter::server {

// Converts with the same code and message (absl and gRPC share all 17
// codes). INTERNAL, DATA_LOSS and UNKNOWN are logged here, once, since they
// mean a bug or damaged data rather than a bad request.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for clients of our own services.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace arbiter::server

#endif  // ARBITER_COMMON_SERVER_GRPC_STATUS_H_
