#include "services/reader/decision_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include <prometheus/counter.h>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/metrics.h"
#include "glog/logging.h"
#include "google/protobuf/util/json_util.h"

namespace arbiter::reader {
namespace {

struct Counters {
  prometheus::Counter* written;
  prometheus::Counter* dropped;
};

const Counters& Get() {
  static const Counters counters{
      .written = &prometheus::BuildCounter()
                      .Name("arbiter_reader_decision_log_written_total")
                      .Help("Decision log entries written")
                      .Register(metrics::Registry())
                      .Add({}),
      .dropped = &prometheus::BuildCounter()
                      .Name("arbiter_reader_decision_log_dropped_total")
                      .Help("Decision log entries dropped: the queue was full or the write failed")
                      .Register(metrics::Registry())
                      .Add({}),
  };
  return counters;
}

// All of `data`, or the errno of the failure.
int WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecisionLog>> DecisionLog::Open(DecisionLogOptions options) {
  if (!(options.sample >= 0.0 && options.sample <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--decision_log_sample: ", options.sample, " is not a ratio in [0, 1]"));
  }
  if (options.max_queued < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--decision_log_max_queued: ", options.max_queued, " must be at least 1"));
  }
  if (options.path.empty()) {
    return absl::InvalidArgumentError("--decision_log: empty path (use - for stdout)");
  }
  int fd = STDOUT_FILENO;
  if (options.path != "-") {
    fd = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--decision_log: cannot open \"", options.path, "\": ", std::strerror(errno)));
    }
  }
  Get();  // the counters are exported from the start
  return std::unique_ptr<DecisionLog>(new DecisionLog(std::move(options), fd));
}

DecisionLog::DecisionLog(DecisionLogOptions options, int fd)
    : options_(std::move(options)), fd_(fd) {
  writer_ = std::thread([this] { WriteLoop(); });
}

DecisionLog::~DecisionLog() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  writer_.join();
  if (fd_ != STDOUT_FILENO) ::close(fd_);
}

bool DecisionLog::Sampled() const {
  if (options_.sample >= 1.0) return true;
  if (options_.sample <= 0.0) return false;
  thread_local absl::InsecureBitGen gen;
  return absl::Bernoulli(gen, options_.sample);
}

void DecisionLog::SetReader(std::string id) {
  absl::MutexLock l(&mu_);
  reader_ = std::move(id);
}

void DecisionLog::Record(v1::DecisionLogEntry entry, absl::Time at) {
  {
    absl::MutexLock l(&mu_);
    if (static_cast<int64_t>(queue_.size()) < options_.max_queued) {
      queue_.push_back(Queued{std::move(entry), at});
      return;
    }
  }
  Get().dropped->Increment();
}

void DecisionLog::WriteLoop() {
  google::protobuf::util::JsonPrintOptions json;
  json.always_print_primitive_fields = true;
  json.preserve_proto_field_names = true;
  std::deque<Queued> batch;
  std::string out, reader;
  absl::Time last_warning = absl::InfinitePast();
  for (;;) {
    bool stop = false;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      batch.swap(queue_);
      stop = stopping_;
      reader = reader_;
    }
    out.clear();
    size_t lines = 0;
    for (Queued& q : batch) {
      q.entry.set_reader(reader);
      q.entry.set_time(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", q.at, absl::UTCTimeZone()));
      std::string line;
      if (!google::protobuf::util::MessageToJsonString(q.entry, &line, json).ok()) {
        Get().dropped->Increment();  // not expected: the service logs UTF-8 strings only
        continue;
      }
      absl::StrAppend(&out, line, "\n");
      ++lines;
    }
    if (lines > 0) {
      if (int err = WriteAll(fd_, out); err == 0) {
        Get().written->Increment(static_cast<double>(lines));
      } else {
        Get().dropped->Increment(static_cast<double>(lines));
        if (absl::Now() - last_warning > absl::Seconds(10)) {
          last_warning = absl::Now();
          LOG(WARNING) << "--decision_log " << options_.path << ": " << std::strerror(err)
                       << "; entries are dropped";
        }
      }
    }
    batch.clear();
    if (stop) {
      absl::MutexLock l(&mu_);
      if (queue_.empty()) return;
    }
  }
}

}  // namespace arbiter::reader
