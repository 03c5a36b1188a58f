#include "common/host/change_signal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

namespace arbiter::host {

ChangeSignal::~ChangeSignal() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status ChangeSignal::Open(const std::string& path) {
  if (fd_ >= 0) ::close(fd_);
  // 0666 less the umask: 0600 by default (SetFileAccess, --file_access).
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

namespace {
int64_t BoottimeNs() {
  timespec ts;
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

void ChangeSignal::Notify() {
  if (fd_ < 0) return;
  ++counter_;
  const int64_t record[2] = {static_cast<int64_t>(counter_), BoottimeNs()};
  if (::pwrite(fd_, record, sizeof(record), 0) != sizeof(record) && !warned_) {
    warned_ = true;
    LOG(WARNING) << "cannot signal readers (they fall back to polling): "
                 << std::strerror(errno);
  }
}

ChangeWatcher::~ChangeWatcher() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool ChangeWatcher::EnsureWatch() {
  if (wake_fd_ < 0) wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (inotify_fd_ < 0) {
    inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (inotify_fd_ < 0) return false;
  }
  if (watch_ < 0) {
    // IN_MODIFY: each Notify(); the others: the file went away (a new data
    // directory, a restore), so the watch must be made again.
    watch_ = ::inotify_add_watch(inotify_fd_, path_.c_str(),
                                 IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB);
    if (watch_ < 0) return false;
    return true;  // newly watched: report a change (it may have been missed)
  }
  return false;
}

int64_t ChangeWatcher::LastSignalBoottimeNs() const {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int64_t record[2] = {0, 0};
  const ssize_t n = ::pread(fd, record, sizeof(record), 0);
  ::close(fd);
  return n == sizeof(record) ? record[1] : 0;
}

void ChangeWatcher::Interrupt() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

bool ChangeWatcher::Wait(absl::Duration timeout) {
  if (EnsureWatch()) return true;
  const int timeout_ms = static_cast<int>(
      std::max<int64_t>(0, absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1)))));
  pollfd fds[2];
  int n = 0;
  if (watch_ >= 0) fds[n++] = {inotify_fd_, POLLIN, 0};
  if (wake_fd_ >= 0) fds[n++] = {wake_fd_, POLLIN, 0};
  if (n == 0) {
    absl::SleepFor(timeout);
    return false;
  }
  const int r = ::poll(fds, n, timeout_ms);
  if (r <= 0) return false;
  bool changed = false;
  if (wake_fd_ >= 0) {
    uint64_t v;
    while (::read(wake_fd_, &v, sizeof(v)) > 0) {
    }
  }
  if (watch_ >= 0) {
    alignas(inotify_event) char buf[4096];
    while (true) {
      const ssize_t len = ::read(inotify_fd_, buf, sizeof(buf));
      if (len <= 0) break;
      for (char* p = buf; p < buf + len;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(p);
        changed = true;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
          if (watch_ >= 0) ::inotify_rm_watch(inotify_fd_, watch_);
          watch_ = -1;
        }
        p += sizeof(inotify_event) + ev->len;
      }
    }
  }
  return changed;
}

}  // namespace arbiter::host
