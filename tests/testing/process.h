#ifndef ARBITER_TESTS_TESTING_PROCESS_H_
#define ARBITER_TESTS_TESTING_PROCESS_H_

// Real child processes for integration tests: spawn a binary with arguments,
// send signals, wait for exit with a bound. Output goes to a log file so a
// failing test can show it.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace arbiter::testing {

// How a process ended.
struct ExitInfo {
  bool exited = false;  // exited normally (else killed by `signal`)
  int code = 0;         // exit code when exited
  int signal = 0;       // the terminating signal otherwise
};

// Not thread-safe. Kills the child (SIGKILL) on destruction if still running.
class Process {
 public:
  // Starts `argv[0]` with `argv` and `env` added to the environment; stdout
  // and stderr are appended to `log_path`. `cpu` >= 0 pins the child to that
  // CPU from its first instruction (the calling thread's affinity is set
  // around the spawn, which the child inherits, and restored); -1 leaves
  // the child's affinity as the caller's.
  static absl::StatusOr<Process> Start(std::vector<std::string> argv,
                                       const std::string& log_path,
                                       std::vector<std::string> env = {},
                                       int cpu = -1);
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();

  void Signal(int sig);

  // Waits up to `timeout` for the process to end. DEADLINE_EXCEEDED if it
  // did not.
  absl::StatusOr<ExitInfo> Wait(absl::Duration timeout);

  // SIGKILL and reap.
  void Kill();

  const std::string& log_path() const { return log_path_; }
  // The last `max_bytes` of the log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  Process(pid_t pid, std::string log_path)
      : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<ExitInfo> exit_;
};

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Waits until `path` holds a port number (written by --port_file). 
absl::StatusOr<int> WaitForPortFile(const std::string& path,
                                    absl::Duration timeout,
                                    Process* process = nullptr);

// The path of a binary built by this project, e.g. "services/log/arbiter-log".
std::string BinaryPath(const std::string& relative);

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_PROCESS_H_
