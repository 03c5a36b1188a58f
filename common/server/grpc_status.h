#ifndef ARBITER_COMMON_SERVER_GRPC_STATUS_H_
#define ARBITER_COMMON_SERVER_GRPC_STATUS_H_

// The one place where library errors become RPC errors (STYLE.md, "Errors").

#include <cstddef>

#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
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

// INVALID_ARGUMENT with the reason when `request` did not parse (invalid
// UTF-8 in a string field, bytes that are not protobuf; see
// arbiter/v1/request_traits.h), else OK. Every handler checks it first.
absl::Status CheckParsed(const google::protobuf::Message& request);

// A unary call answered at once with `status`.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx,
                                    const absl::Status& status);

// A server stream that ends at once with `status`; deletes itself.
template <typename Response>
class FailedStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FailedStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// The reverse, for clients of our own services.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace arbiter::server

#endif  // ARBITER_COMMON_SERVER_GRPC_STATUS_H_
