#ifndef ARBITER_COMMON_HOST_CHANGE_SIGNAL_H_
#define ARBITER_COMMON_HOST_CHANGE_SIGNAL_H_

// How the writer tells the host's readers that control.db changed, so a
// reader learns of a newly applied offset within about a millisecond instead
// of at its next poll (issue #10, DESIGN.md §9.4):
//
//   writer: after each control.db commit, ChangeSignal::Notify() writes a
//           counter into <data>/notify (one pwrite, no fsync);
//   reader: ChangeWatcher::Wait() blocks in poll(2) on an inotify watch of
//           that file and returns on the write (IN_MODIFY), or at the
//           timeout: readers keep a slow poll as a safety net (a missed
//           event, a writer that died without writing).
//
// The file holds {u64 counter, i64 CLOCK_BOOTTIME ns of the write}: readers
// use the time only to report how long a change took to reach them;
// control.db stays the one source of truth. Signals are not queued: several
// writes before a Wait wake it once.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace arbiter::host {

// Thread-compatible (one writer thread at a time per instance).
class ChangeSignal {
 public:
  ChangeSignal() = default;
  ~ChangeSignal();
  ChangeSignal(const ChangeSignal&) = delete;
  ChangeSignal& operator=(const ChangeSignal&) = delete;

  // Creates (or opens) the file at `path`. INTERNAL on an I/O error.
  absl::Status Open(const std::string& path);
  // Wakes every watcher. Best effort: an error is logged once, never
  // returned (readers still poll).
  void Notify();

 private:
  int fd_ = -1;
  uint64_t counter_ = 0;
  bool warned_ = false;
};

// Not thread-safe: one waiting thread.
class ChangeWatcher {
 public:
  explicit ChangeWatcher(std::string path) : path_(std::move(path)) {}
  ~ChangeWatcher();
  ChangeWatcher(const ChangeWatcher&) = delete;
  ChangeWatcher& operator=(const ChangeWatcher&) = delete;

  // Returns true when the file was written since the previous call (or
  // appeared), false at the timeout. Until the file exists, and when inotify
  // is unavailable, it sleeps until the timeout (plain polling).
  bool Wait(absl::Duration timeout);
  // Ends a Wait() in progress at once (from any thread).
  void Interrupt();
  // The CLOCK_BOOTTIME (ns) of the newest signal, or 0 when unknown.
  int64_t LastSignalBoottimeNs() const;

 private:
  bool EnsureWatch();

  const std::string path_;
  int inotify_fd_ = -1;
  int watch_ = -1;
  int wake_fd_ = -1;  // eventfd for Interrupt()
};

}  // namespace arbiter::host

#endif  // ARBITER_COMMON_HOST_CHANGE_SIGNAL_H_
