// A few hundred property cases, fast enough for every `ctest -L unit` run.
// tests/unit/eval/property_test.cc runs thousands under the `property` label.

#include <catch2/catch.hpp>

#include "tests/unit/eval/property_checks.h"

namespace arbiter::eval::testing {
namespace {

TEST_CASE("properties: list and actions agree with authorize (github model)",
          "[unit][eval]") {
  int compared = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) compared += CheckGithubProperties(seed, 3);
  CHECK(compared >= 200);
}

TEST_CASE("properties: recursion over random cyclic folders equals the oracle",
          "[unit][eval]") {
  int compared = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) compared += CheckFolderRecursion(seed);
  CHECK(compared >= 200);
}

}  // namespace
}  // namespace arbiter::eval::testing
