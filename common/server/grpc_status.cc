#include "common/server/grpc_status.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "arbiter/v1/request_traits.h"
#include "absl/strings/string_view.h"
#include "glog/logging.h"

namespace arbiter::server {
namespace {

size_t EncodedSize(unsigned char c) { return c >= 0x20 && c <= 0x7e && c != '%' ? 1 : 3; }

std::string CapMessage(absl::string_view m) {
  size_t total = 0;
  for (unsigned char c : m) total += EncodedSize(c);
  if (total <= kMaxEncodedErrorMessage) return std::string(m);
  constexpr size_t kRoom = 80;  // for the note below
  size_t cut = 0;
  for (size_t enc = 0; cut < m.size(); ++cut) {
    enc += EncodedSize(static_cast<unsigned char>(m[cut]));
    if (enc > kMaxEncodedErrorMessage - kRoom) break;
  }
  while (cut > 0 && (static_cast<unsigned char>(m[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(m.substr(0, cut), "\n... (message cut: ", m.size() - cut,
                      " more bytes)");
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      LOG(ERROR) << "rpc failed: " << status;
      break;
    default:
      break;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CapMessage(status.message()));
}

absl::Status CheckParsed(const google::protobuf::Message& request) {
  std::string why = v1::ParseFailure(request);
  if (why.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(why);
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Time RpcDeadline(const grpc::ServerContextBase& ctx) {
  const auto d = ctx.deadline();
  // gRPC's "no deadline" is the far future; absl::FromChrono would overflow.
  if (d >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(d);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace arbiter::server
