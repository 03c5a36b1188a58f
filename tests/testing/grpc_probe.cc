#include "tests/testing/grpc_probe.h"

#include "absl/strings/str_cat.h"
#include "common/auth/client.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace arbiter::testing {

std::shared_ptr<grpc::Channel> LocalChannel(int port, const std::string& key) {
  return auth::CreateKeyedChannel(absl::StrCat("127.0.0.1:", port), key);
}

Health CheckHealth(grpc::Channel* channel, const std::string& service,
                   absl::Duration timeout) {
  auto stub = grpc::health::v1::Health::NewStub(
      std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(timeout));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) return Health::kUnreachable;
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? Health::kServing
             : Health::kNotServing;
}

absl::Status WaitForHealth(grpc::Channel* channel, Health want,
                           absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  Health last = Health::kUnreachable;
  while (absl::Now() < deadline) {
    last = CheckHealth(channel, "", absl::Milliseconds(500));
    if (last == want) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "health did not reach the wanted state; last: ",
      last == Health::kServing       ? "SERVING"
      : last == Health::kNotServing  ? "NOT_SERVING"
                                     : "unreachable"));
}

}  // namespace arbiter::testing
