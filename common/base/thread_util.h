#ifndef ARBITER_COMMON_BASE_THREAD_UTIL_H_
#define ARBITER_COMMON_BASE_THREAD_UTIL_H_

// Small per-thread settings.

namespace arbiter {

// Names the calling thread (at most 15 characters are kept, a Linux limit)
// and, with `latency_critical`, asks the scheduler to run it ahead of the
// process's other threads (nice -10). The threads that carry a write to the
// readers (the writer's receiver and apply loop, a reader's watcher) do
// little work but must not wait behind request threads on a busy host.
// Raising priority needs CAP_SYS_NICE (root, or granted to the container):
// without it the thread keeps the default and a warning is logged once per
// process. Never fails.
void SetCurrentThread(const char* name, bool latency_critical = false);

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_THREAD_UTIL_H_
