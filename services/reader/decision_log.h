#ifndef ARBITER_SERVICES_READER_DECISION_LOG_H_
#define ARBITER_SERVICES_READER_DECISION_LOG_H_

// The reader's decision log (issue #15): a sampled share of Authorize
// answers as JSON lines (v1::DecisionLogEntry in protobuf's JSON mapping),
// appended to a file or written to stdout.
//
// Off the request path: Record only moves the entry into a bounded queue
// (a short critical section, never I/O); one thread writes and flushes.
// A full queue drops the entry, counted in
// arbiter_reader_decision_log_dropped_total; a failed write drops its
// batch the same way and is logged (at most every 10 s). Written entries
// count in arbiter_reader_decision_log_written_total.
//
// The file is opened with O_APPEND and never reopened: rotate it with
// logrotate's copytruncate.
//
// Thread-safe.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/reader.pb.h"

namespace arbiter::reader {

struct DecisionLogOptions {
  // A file path, or "-" for stdout.
  std::string path;
  // The share of answers logged, in [0, 1].
  double sample = 1.0;
  // Entries waiting to be written beyond which new ones are dropped.
  int64_t max_queued = 10000;
};

class DecisionLog {
 public:
  // INVALID_ARGUMENT naming --decision_log_sample or
  // --decision_log_max_queued; the open error naming the path.
  static absl::StatusOr<std::unique_ptr<DecisionLog>> Open(DecisionLogOptions options);
  // Writes what is queued, then closes the file.
  ~DecisionLog();
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  // Whether to log this answer: a draw with probability `sample`. Call it
  // before building the entry.
  bool Sampled() const;
  // This reader's id, written in every entry from now on (it is known only
  // once the server listens).
  void SetReader(std::string id);
  // Queues `entry` (its `time` set from `at` by the writing thread), or
  // drops it when the queue is full.
  void Record(v1::DecisionLogEntry entry, absl::Time at);

 private:
  DecisionLog(DecisionLogOptions options, int fd);
  void WriteLoop();

  const DecisionLogOptions options_;
  const int fd_;  // owned unless it is stdout
  absl::Mutex mu_;
  struct Queued {
    v1::DecisionLogEntry entry;
    absl::Time at;
  };
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string reader_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_DECISION_LOG_H_
