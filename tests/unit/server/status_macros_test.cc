#include "common/base/status_macros.h"

#include <catch2/catch.hpp>

namespace arbiter {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ARBITER_ASSIGN_OR_RETURN(int half, Half(x));
  ARBITER_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  ARBITER_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST_CASE("status macros propagate the first error", "[unit][base]") {
  CHECK(*Quarter(8) == 2);
  CHECK(Quarter(6).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(3).message() == "odd");
}

TEST_CASE("Annotate prefixes context and keeps the code", "[unit][base]") {
  absl::Status s = Annotate(absl::NotFoundError("no such file"), "opening x");
  CHECK(s.code() == absl::StatusCode::kNotFound);
  CHECK(s.message() == "opening x: no such file");
  CHECK(Annotate(absl::OkStatus(), "ctx").ok());
}

}  // namespace
}  // namespace arbiter
