#ifndef ARBITER_TESTS_TESTING_GRPC_PROBE_H_
#define ARBITER_TESTS_TESTING_GRPC_PROBE_H_

// Real gRPC clients of the standard services every Arbiter server exposes.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/keys.h"

namespace arbiter::testing {

// A channel to 127.0.0.1:port whose calls send `key` (keys.h; "" for none).
std::shared_ptr<grpc::Channel> LocalChannel(int port, const std::string& key = kTestKey);

enum class Health { kServing, kNotServing, kUnreachable };

// grpc.health.v1.Health/Check for `service` ("" = the whole server).
Health CheckHealth(grpc::Channel* channel, const std::string& service = "",
                   absl::Duration timeout = absl::Seconds(2));

// Polls CheckHealth until it returns `want`. DEADLINE_EXCEEDED naming the
// last state otherwise.
absl::Status WaitForHealth(grpc::Channel* channel, Health want,
                           absl::Duration timeout);

// The services listed by server reflection (grpc.reflection.v1alpha).
// In reflection_probe.cc: see there why.
absl::StatusOr<std::vector<std::string>> ListServices(grpc::Channel* channel);

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_GRPC_PROBE_H_
