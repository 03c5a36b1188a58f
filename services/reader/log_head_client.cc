#include "services/reader/log_head_client.h"

#include "absl/strings/str_split.h"

#include "absl/strings/str_cat.h"
#include "common/auth/client.h"

namespace arbiter::reader {

LogHeadClient::LogHeadClient(const std::string& address, std::string key, auth::ClientTls tls)
    : key_(std::move(key)), tls_(std::move(tls)) {
  for (absl::string_view a : absl::StrSplit(address, ',')) addresses_.emplace_back(a);
  absl::MutexLock l(&mu_);
  stubs_.resize(addresses_.size());
}

v1::LogService::Stub* LogHeadClient::stub(size_t i) {
  absl::MutexLock l(&mu_);
  if (stubs_[i] == nullptr) {
    stubs_[i] = v1::LogService::NewStub(
        auth::CreateKeyedChannel(addresses_[i], key_, auth::ChannelCredentials(tls_)));
  }
  return stubs_[i].get();
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
  const size_t i = current_->load() % addresses_.size();
  const std::string address = addresses_[i];
  stub(i)->async()->GetHead(
      &call->ctx, &call->request, &call->response,
      [call, address, i, n = addresses_.size(), current = current_](grpc::Status s) {
        std::unique_ptr<Call> owned(call);
        if (s.ok()) {
          owned->done(std::move(owned->response));
          return;
        }
        size_t expected = i;  // the next call tries the next front-end
        current->compare_exchange_strong(expected, (i + 1) % n);
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
