// Thousands of property cases (label `property`): see property_checks.h.

#include <catch2/catch.hpp>

#include "tests/unit/eval/property_checks.h"

namespace arbiter::eval::testing {
namespace {

TEST_CASE("many properties: list and actions agree with authorize (github model)",
          "[property][eval]") {
  int compared = 0;
  for (uint32_t seed = 100; seed < 160; ++seed) compared += CheckGithubProperties(seed, 12);
  CHECK(compared >= 5000);
}

TEST_CASE("many properties: recursion over random cyclic folders equals the oracle",
          "[property][eval]") {
  int compared = 0;
  for (uint32_t seed = 100; seed < 1100; ++seed) compared += CheckFolderRecursion(seed);
  CHECK(compared >= 5000);
}

}  // namespace
}  // namespace arbiter::eval::testing
