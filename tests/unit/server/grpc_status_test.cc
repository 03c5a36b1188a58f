#include "common/server/grpc_status.h"

#include <catch2/catch.hpp>

#include "arbiter/v1/request_traits.h"

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

grpc::ByteBuffer Bytes(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

TEST_CASE("a request that does not parse is INVALID_ARGUMENT naming the field",
          "[unit][server]") {
  // A valid WriteRequest whose third operation's first argument id holds
  // 0xff (never valid in UTF-8), built by hand: protobuf refuses to
  // serialize it... only when parsing, so serialize first and patch.
  v1::WriteRequest w;
  w.set_tenant("acme");
  for (int i = 0; i < 3; ++i) {
    auto* f = w.add_operations()->mutable_insert();
    f->set_predicate("is_public");
    f->add_args()->set_type("Repository");
    f->mutable_args(0)->set_id(i == 2 ? "ab#cd" : "ok");
  }
  std::string wire = w.SerializeAsString();
  wire[wire.find("ab#cd") + 2] = '\xff';
  grpc::ByteBuffer buffer = Bytes(wire);
  v1::WriteRequest parsed;
  REQUIRE(grpc::SerializationTraits<v1::WriteRequest>::Deserialize(&buffer, &parsed).ok());
  absl::Status s = CheckParsed(parsed);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("operations[2].insert.args[0].id (arbiter.v1.Value.id) is not "
                             "valid UTF-8 (byte 3 of 5)"));
  CHECK(parsed.operations_size() == 0);  // nothing of it is used

  // Overlong forms and surrogates are not UTF-8 either; a good request
  // parses as before.
  for (const std::string& bad : {std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    v1::AuthorizeRequest a;
    a.set_tenant("acme");
    a.set_action("read#");
    std::string raw = a.SerializeAsString();
    raw.replace(raw.find("read#") + 4, 1, bad);
    raw[raw.find("read") - 1] = static_cast<char>(4 + bad.size());  // the field's length
    grpc::ByteBuffer b = Bytes(raw);
    v1::AuthorizeRequest out;
    REQUIRE(grpc::SerializationTraits<v1::AuthorizeRequest>::Deserialize(&b, &out).ok());
    CHECK_THAT(std::string(CheckParsed(out).message()), Catch::Contains("field action"));
  }
  grpc::ByteBuffer good = Bytes(w.SerializeAsString());
  v1::WriteRequest ok;
  REQUIRE(grpc::SerializationTraits<v1::WriteRequest>::Deserialize(&good, &ok).ok());
  CHECK(CheckParsed(ok).ok());
  CHECK(ok.operations_size() == 3);

  // Not protobuf at all.
  grpc::ByteBuffer junk = Bytes("\xff\xff\xff\xff");
  v1::GetHeadRequest head;
  REQUIRE(grpc::SerializationTraits<v1::GetHeadRequest>::Deserialize(&junk, &head).ok());
  CHECK_THAT(std::string(CheckParsed(head).message()),
             Catch::Contains("not protobuf wire format"));
}

}  // namespace
}  // namespace arbiter::server
