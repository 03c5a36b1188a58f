#include "common/base/crash_point.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

namespace arbiter {
namespace {
// Set once before threads start; read many times after.
std::atomic<const std::string*> armed{nullptr};
}  // namespace

void SetCrashPoint(absl::string_view name) {
  armed.store(name.empty() ? nullptr : new std::string(name));  // lives forever
}

void MaybeCrash(absl::string_view name) {
  const std::string* point = armed.load(std::memory_order_relaxed);
  if (point != nullptr && *point == name) {
    std::fprintf(stderr, "crash point %s reached: exiting\n", point->c_str());
    _exit(3);
  }
}

}  // namespace arbiter
