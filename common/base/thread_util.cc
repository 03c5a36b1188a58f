#include "common/base/thread_util.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
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

}  // namespace arbiter
