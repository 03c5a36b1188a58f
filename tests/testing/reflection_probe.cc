// ListServices (grpc_probe.h), in a file of its own: a binary that does not
// call it does not link this reflection client's generated descriptors,
// which would clash with those of gRPC's own reflection library (linked by
// every ServerRunner) when both are loaded — a clang build then aborts at
// start ("conflicts with the existing symbol").
#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/testing/grpc_probe.h"

namespace arbiter::testing {

absl::StatusOr<std::vector<std::string>> ListServices(grpc::Channel* channel) {
  using grpc::reflection::v1alpha::ServerReflection;
  using grpc::reflection::v1alpha::ServerReflectionRequest;
  using grpc::reflection::v1alpha::ServerReflectionResponse;
  auto stub = ServerReflection::NewStub(
      std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->ServerReflectionInfo(&ctx);
  ServerReflectionRequest req;
  req.set_list_services("*");
  if (!stream->Write(req)) {
    return absl::UnavailableError("reflection: cannot send the request");
  }
  stream->WritesDone();
  ServerReflectionResponse resp;
  std::vector<std::string> names;
  if (stream->Read(&resp)) {
    for (const auto& s : resp.list_services_response().service()) {
      names.push_back(s.name());
    }
  }
  grpc::Status s = stream->Finish();
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("reflection: ", s.error_message()));
  }
  return names;
}

}  // namespace arbiter::testing
