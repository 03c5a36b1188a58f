#include "tests/fuzz/fuzz_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "glog/logging.h"
#include "google/protobuf/stubs/logging.h"

namespace arbiter::fuzz {
namespace {

std::string* scratch = nullptr;

void RemoveScratch() {
  if (scratch != nullptr) RemoveTree(*scratch);
}

std::string ScratchBase() {
  if (const char* d = std::getenv("ARBITER_FUZZ_TMPDIR");
      d != nullptr && *d != '\0')
    return d;
  if (::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  if (const char* d = std::getenv("TMPDIR"); d != nullptr && *d != '\0')
    return d;
  return "/tmp";
}

}  // namespace

void QuietLogging() {
  static bool done = false;
  if (done) return;
  done = true;
  google::protobuf::SetLogHandler(nullptr);
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_FATAL;
  google::InitGoogleLogging("arbiter-fuzz");
}

const std::string& ScratchDir(std::string_view name) {
  if (scratch != nullptr) return *scratch;
  std::string base = ScratchBase();
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  std::string templ = base + "/arbiter-" + std::string(name) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a scratch directory under %s\n",
                 base.c_str());
    std::abort();
  }
  scratch = new std::string(templ);
  std::atexit(RemoveScratch);
  return *scratch;
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

bool Verbose() {
  static const bool verbose = std::getenv("ARBITER_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

void Check(bool ok, std::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace arbiter::fuzz
