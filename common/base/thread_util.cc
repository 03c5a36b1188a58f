#include "common/base/thread_util.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>

namespace arbiter {

void SetCurrentThread(const char* name, ThreadPriority priority) {
  const std::string short_name = std::string(name).substr(0, 15);
  pthread_setname_np(pthread_self(), short_name.c_str());
  if (priority == ThreadPriority::kNormal) return;
  const int nice = -10;  // kLatencyCritical
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) != 0) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      // glog is not a dependency of base: stderr, as glog would.
      std::fprintf(stderr, "thread %s keeps the default priority: setpriority: %s\n",
                   short_name.c_str(), std::strerror(errno));
    }
  }
}

size_t StackBytesBelow(const void* here) {
  // 0: not read yet; UINTPTR_MAX: unknown.
  thread_local uintptr_t low = 0;
  if (low == 0) {
    low = UINTPTR_MAX;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* addr = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr != nullptr) {
        low = reinterpret_cast<uintptr_t>(addr);
      }
      pthread_attr_destroy(&attr);
    }
  }
  const uintptr_t at = reinterpret_cast<uintptr_t>(here);
  if (low == UINTPTR_MAX) return SIZE_MAX;
  return at > low ? at - low : 0;
}

}  // namespace arbiter
