#ifndef ARBITER_TESTS_UNIT_STORAGE_TEST_UTIL_H_
#define ARBITER_TESTS_UNIT_STORAGE_TEST_UTIL_H_

// Helpers for the storage tests: a per-test temporary directory and status
// assertions that print the status on failure.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include <catch2/catch.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace arbiter::storage::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base ? base : "/tmp") +
                          "/arbiter_storage_test.XXXXXX";
    char* made = mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace arbiter::storage::testing

#define ARBITER_REQUIRE_OK(expr)                                        \
  do {                                                                  \
    const auto& arbiter_req_ = (expr);                                  \
    INFO(::arbiter::storage::testing::StatusOf(arbiter_req_).ToString()); \
    REQUIRE(::arbiter::storage::testing::StatusOf(arbiter_req_).ok());  \
  } while (false)

#define ARBITER_REQUIRE_CODE(expr, code_)                                 \
  do {                                                                    \
    const auto& arbiter_req_ = (expr);                                    \
    INFO(::arbiter::storage::testing::StatusOf(arbiter_req_).ToString()); \
    REQUIRE(::arbiter::storage::testing::StatusOf(arbiter_req_).code() == \
            (code_));                                                     \
  } while (false)

#endif  // ARBITER_TESTS_UNIT_STORAGE_TEST_UTIL_H_
