#include "services/reader/log_head_client.h"

#include "absl/strings/str_cat.h"
#include "common/auth/client.h"

namespace arbiter::reader {

v1::LogService::Stub* LogHeadClient::stub() {
  absl::MutexLock l(&mu_);
  if (stub_ == nullptr) {
    stub_ = v1::LogService::NewStub(
        auth::CreateKeyedChannel(address_, key_, auth::ChannelCredentials(tls_)));
  }
  return stub_.get();
}

void LogHeadClient::GetHead(absl::Time deadline, Callback done) {
  struct Call {
    grpc::ClientContext ctx;
    v1::GetHeadRequest request;
    v1::GetHeadResponse response;
    Callback done;
  };
  auto* call = new Call;
  call->done = std::move(done);
  call->ctx.set_deadline(absl::ToChronoTime(deadline));
  const std::string address = address_;
  stub()->async()->GetHead(
      &call->ctx, &call->request, &call->response,
      [call, address](grpc::Status s) {
        std::unique_ptr<Call> owned(call);
        if (s.ok()) {
          owned->done(std::move(owned->response));
          return;
        }
        const absl::StatusCode code =
            s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                ? absl::StatusCode::kDeadlineExceeded
                : absl::StatusCode::kUnavailable;
        owned->done(absl::Status(
            code, absl::StrCat("asking the log (", address,
                               ") for its head: ", s.error_message())));
      });
}

}  // namespace arbiter::reader
