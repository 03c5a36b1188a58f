#include "tests/testing/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace arbiter::testing {

absl::StatusOr<Process> Process::Start(std::vector<std::string> argv,
                                       const std::string& log_path,
                                       std::vector<std::string> env, int cpu) {
  // The child inherits the spawning thread's affinity; only this thread's
  // mask is changed, and only for the spawn.
  cpu_set_t saved;
  bool pinned = false;
  if (cpu >= 0) {
    if (sched_getaffinity(0, sizeof(saved), &saved) != 0) {
      return absl::InternalError(absl::StrCat("sched_getaffinity: ", std::strerror(errno)));
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("sched_setaffinity to cpu ", cpu, ": ", std::strerror(errno)));
    }
    pinned = true;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);

  // The child must not inherit a blocked signal mask (the server binaries
  // block SIGTERM themselves and take it with sigtimedwait).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (auto& e : env) envs.push_back(std::move(e));
  if (getenv("GLOG_v") == nullptr) envs.push_back("GLOG_v=0");

  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, cargv[0], &actions, &attr, cargv.data(),
                       cenv.data());
  if (pinned) (void)sched_setaffinity(0, sizeof(saved), &saved);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("posix_spawn ", argv[0], ": ", std::strerror(rc)));
  }
  return Process(pid, log_path);
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_),
      log_path_(std::move(other.log_path_)),
      exit_(other.exit_) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    Kill();
    pid_ = other.pid_;
    log_path_ = std::move(other.log_path_);
    exit_ = other.exit_;
    other.pid_ = -1;
  }
  return *this;
}

Process::~Process() { Kill(); }

bool Process::running() {
  if (pid_ < 0 || exit_.has_value()) return false;
  auto r = Wait(absl::ZeroDuration());
  return !r.ok();
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !exit_.has_value()) ::kill(pid_, sig);
}

absl::StatusOr<ExitInfo> Process::Wait(absl::Duration timeout) {
  if (exit_.has_value()) return *exit_;
  if (pid_ < 0) return absl::FailedPreconditionError("no process");
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      ExitInfo info;
      info.exited = WIFEXITED(status);
      info.code = info.exited ? WEXITSTATUS(status) : 0;
      info.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      exit_ = info;
      return info;
    }
    if (r < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running after ",
                       absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void Process::Kill() {
  if (pid_ < 0 || exit_.has_value()) return;
  ::kill(pid_, SIGKILL);
  (void)Wait(absl::Seconds(30));
}

std::string Process::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = s.substr(s.size() - max_bytes);
  return s;
}

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp",
                                  "/arbiter-test-XXXXXX");
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr) abort();
  path_ = p;
}

TempDir::~TempDir() {
  if (getenv("ARBITER_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<int> WaitForPortFile(const std::string& path,
                                    absl::Duration timeout, Process* process) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    std::string text;
    if (in && std::getline(in, text)) {
      int port = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port) &&
          port > 0) {
        return port;
      }
    }
    if (process != nullptr && !process->running()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "process exited before writing ", path, "; log:\n",
          process->LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "no port in ", path, " after ", absl::FormatDuration(timeout)));
}

std::string BinaryPath(const std::string& relative) {
  return absl::StrCat(ARBITER_BINARY_DIR, "/", relative);
}

}  // namespace arbiter::testing
