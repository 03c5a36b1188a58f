#ifndef ARBITER_COMMON_SERVER_GRPC_STATUS_H_
#define ARBITER_COMMON_SERVER_GRPC_STATUS_H_

// The one place where library errors become RPC errors (STYLE.md, "Errors").

#include <cstddef>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace arbiter::server {

// The longest error message sent, as it travels: gRPC carries it in the
// grpc-message header percent-encoded (bytes outside printable ASCII take
// three), and clients refuse headers over 8 KiB with a different error.
inline constexpr size_t kMaxEncodedErrorMessage = 4096;

// Converts with the same code and message (absl and gRPC share all 17
// codes). INTERNAL, DATA_LOSS and UNKNOWN are logged here, once, since they
// mean a bug or damaged data rather than a bad request. A message longer
// than kMaxEncodedErrorMessage encoded is cut at a UTF-8 boundary and says
// how many bytes were left out.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The call's deadline; InfiniteFuture when it has none.
absl::Time RpcDeadline(const grpc::ServerContextBase& ctx);

// The reverse, for clients of our own services.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace arbiter::server

#endif  // ARBITER_COMMON_SERVER_GRPC_STATUS_H_
