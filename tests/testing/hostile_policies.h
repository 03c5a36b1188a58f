#ifndef ARBITER_TESTS_TESTING_HOSTILE_POLICIES_H_
#define ARBITER_TESTS_TESTING_HOSTILE_POLICIES_H_

// Policies built to exhaust an evaluator (issue #11 items 1 and 2), shared by
// the engine's unit tests and the tests against real processes. Header only:
// the unit tests link no process or gRPC support.

#include <string>

#include "absl/strings/str_cat.h"

namespace arbiter::testing {

// allow holds when every p_i holds; each p_i has `literals` conditions and
// then calls p_{i+1}: rules * literals body literals nest on one path.
// `test` (a test block, or empty) is appended.
inline std::string ChainPolicy(int rules, int literals, const std::string& test = "") {
  std::string s = "allow(_actor, action: String, _resource) if p0(action);\n";
  for (int i = 0; i < rules; ++i) {
    absl::StrAppend(&s, "p", i, "(x: String) if ");
    for (int j = 0; j < literals; ++j) absl::StrAppend(&s, "x = \"a\" and ");
    absl::StrAppend(&s, i + 1 < rules ? absl::StrCat("p", i + 1, "(x);\n") : "x = \"a\";\n");
  }
  return s + test;
}

// Five `in` literals of 100 strings each: 10^10 combinations, none of which
// satisfies the last condition. `test` is appended.
inline std::string InProductPolicy(const std::string& test = "") {
  std::string list;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&list, i ? ", " : "", "\"s", i, "\"");
  std::string s = "allow(_actor, _action, _resource) if ";
  for (int i = 0; i < 5; ++i) absl::StrAppend(&s, "x", i, " in [", list, "] and ");
  return s + "x0 = \"none\";\n" + test;
}

// A test block asserting allow(User{"alice"}, "a", Doc{"d"}).
inline constexpr char kAllowTest[] =
    "test \"t\" {\n  assert allow(User{\"alice\"}, \"a\", Doc{\"d\"});\n}\n";

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_HOSTILE_POLICIES_H_
