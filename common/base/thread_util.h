#ifndef ARBITER_COMMON_BASE_THREAD_UTIL_H_
#define ARBITER_COMMON_BASE_THREAD_UTIL_H_

// Small per-thread settings.

#include <cstddef>

namespace arbiter {

enum class ThreadPriority {
  kNormal,
  // nice -10: the threads that carry a write to the readers (the writer's log
  // receiver and apply loop, a reader's watcher) must not wait behind
  // request threads on a busy host. Raising priority needs CAP_SYS_NICE
  // (root, or granted to the container): without it the thread keeps the
  // default and a warning is printed once per process.
  kLatencyCritical,
};
// (Measured, bench/scale at 1M facts on one core: the index maintainer at
// nice +5 fell behind steady single-fact writes under read load; it stays
// at the default.)

// Names the calling thread (at most 15 characters are kept, a Linux limit)
// and sets its priority. Never fails.
void SetCurrentThread(const char* name, ThreadPriority priority = ThreadPriority::kNormal);

// How many bytes of the calling thread's stack lie below `here` (an address
// in the caller's frame, e.g. __builtin_frame_address(0)): how much deeper
// the thread may recurse. Read once per thread from pthread_getattr_np;
// SIZE_MAX when the stack's bounds cannot be read.
size_t StackBytesBelow(const void* here);

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_THREAD_UTIL_H_
