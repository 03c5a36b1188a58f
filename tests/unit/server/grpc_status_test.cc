#include "common/server/grpc_status.h"

#include <catch2/catch.hpp>

namespace arbiter::server {
namespace {

// absl and gRPC number their 17 codes identically; ToGrpcStatus relies on it.
#define ARBITER_SAME_CODE(absl_code, grpc_code)                      \
  static_assert(static_cast<int>(absl::StatusCode::absl_code) ==     \
                static_cast<int>(grpc::StatusCode::grpc_code))
ARBITER_SAME_CODE(kOk, OK);
ARBITER_SAME_CODE(kCancelled, CANCELLED);
ARBITER_SAME_CODE(kUnknown, UNKNOWN);
ARBITER_SAME_CODE(kInvalidArgument, INVALID_ARGUMENT);
ARBITER_SAME_CODE(kDeadlineExceeded, DEADLINE_EXCEEDED);
ARBITER_SAME_CODE(kNotFound, NOT_FOUND);
ARBITER_SAME_CODE(kAlreadyExists, ALREADY_EXISTS);
ARBITER_SAME_CODE(kPermissionDenied, PERMISSION_DENIED);
ARBITER_SAME_CODE(kResourceExhausted, RESOURCE_EXHAUSTED);
ARBITER_SAME_CODE(kFailedPrecondition, FAILED_PRECONDITION);
ARBITER_SAME_CODE(kAborted, ABORTED);
ARBITER_SAME_CODE(kOutOfRange, OUT_OF_RANGE);
ARBITER_SAME_CODE(kUnimplemented, UNIMPLEMENTED);
ARBITER_SAME_CODE(kInternal, INTERNAL);
ARBITER_SAME_CODE(kUnavailable, UNAVAILABLE);
ARBITER_SAME_CODE(kDataLoss, DATA_LOSS);
ARBITER_SAME_CODE(kUnauthenticated, UNAUTHENTICATED);

TEST_CASE("ToGrpcStatus keeps the code and the message", "[unit][server]") {
  CHECK(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status s = ToGrpcStatus(absl::NotFoundError("tenant \"x\" not found"));
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == "tenant \"x\" not found");
  grpc::Status internal = ToGrpcStatus(absl::InternalError("boom"));
  CHECK(internal.error_code() == grpc::StatusCode::INTERNAL);
}

TEST_CASE("FromGrpcStatus is the inverse", "[unit][server]") {
  absl::Status original = absl::InvalidArgumentError("actor.type: empty");
  CHECK(FromGrpcStatus(ToGrpcStatus(original)) == original);
  CHECK(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST_CASE("ToGrpcStatus cuts a message that would not fit in a header", "[unit][server]") {
  std::string small(kMaxEncodedErrorMessage, 'x');
  CHECK(ToGrpcStatus(absl::InvalidArgumentError(small)).error_message() == small);
  // Newlines and non-ASCII travel percent-encoded: three bytes each.
  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += "policy.polar:1:1: test \"t\" failed: \xc3\xa9\n";
  grpc::Status s = ToGrpcStatus(absl::InvalidArgumentError(lines));
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  const std::string& m = s.error_message();
  size_t encoded = 0;
  for (unsigned char c : m) encoded += c >= 0x20 && c <= 0x7e && c != '%' ? 1 : 3;
  CHECK(encoded <= kMaxEncodedErrorMessage);
  CHECK_THAT(m, Catch::Contains("(message cut: "));
  CHECK(m.rfind("policy.polar:1:1: test", 0) == 0);
  // Never in the middle of a UTF-8 sequence.
  const size_t cut = m.find("\n... (message cut");
  REQUIRE(cut != std::string::npos);
  CHECK((static_cast<unsigned char>(m[cut - 1]) & 0xC0) != 0xC0);
}

}  // namespace
}  // namespace arbiter::server
