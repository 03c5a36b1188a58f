#include "tests/testing/keys.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "common/auth/api_key.h"
#include "glog/logging.h"

namespace arbiter::testing {

std::string TestKeyFile(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/operator.key");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    absl::Status s = auth::WriteKeyFile(path, kTestKey);
    CHECK(s.ok()) << s;
  }
  return path;
}

std::string BootstrapKeyFlag(const std::string& dir) {
  return "--bootstrap_key_file=" + TestKeyFile(dir);
}

std::string LogKeyFlag(const std::string& dir) { return "--log_key_file=" + TestKeyFile(dir); }

}  // namespace arbiter::testing
