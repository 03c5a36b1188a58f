#include "services/writer/writer_metrics.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/progress.h"
#include "common/metrics/metrics.h"
#include "glog/logging.h"

namespace arbiter::writer {
namespace {

// One Status() serves every gauge of a scrape (it lists every tenant).
class StatusCache {
 public:
  explicit StatusCache(HostMonitor* monitor) : monitor_(monitor) {}

  // The status, read at most once per kMaxAge and shared by the gauges (it
  // lists every tenant: no copy per gauge); null if it cannot be read.
  std::shared_ptr<const v1::GetStatusResponse> Get() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - read_at_ > kMaxAge) {
      absl::StatusOr<v1::GetStatusResponse> s = monitor_->Status();
      status_ = s.ok() ? std::make_shared<const v1::GetStatusResponse>(std::move(*s)) : nullptr;
      read_at_ = now;
    }
    return status_;
  }

 private:
  static constexpr absl::Duration kMaxAge = absl::Milliseconds(500);
  HostMonitor* const monitor_;
  absl::Mutex mu_;
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::shared_ptr<const v1::GetStatusResponse> status_ ABSL_GUARDED_BY(mu_);
};

struct Instruments {
  prometheus::Histogram* apply_entries;
  prometheus::Histogram* apply_seconds;
  prometheus::Counter* restore_bytes;
};

const Instruments& Get() {
  static const Instruments instruments{
      .apply_entries = &prometheus::BuildHistogram()
                            .Name("arbiter_host_apply_batch_entries")
                            .Help("Log entries per batch the writer applied")
                            .Register(metrics::Registry())
                            .Add({}, prometheus::Histogram::BucketBoundaries(
                                         metrics::CountBuckets())),
      .apply_seconds = &prometheus::BuildHistogram()
                            .Name("arbiter_host_apply_duration_seconds")
                            .Help("Time the writer took to apply one batch")
                            .Register(metrics::Registry())
                            .Add({}, prometheus::Histogram::BucketBoundaries(
                                         metrics::LatencyBuckets())),
      .restore_bytes = &prometheus::BuildCounter()
                            .Name("arbiter_host_restore_bytes_total")
                            .Help("Snapshot bytes the writer fetched from the log")
                            .Register(metrics::Registry())
                            .Add({}),
  };
  return instruments;
}

// The current (or last) restore, for the progress gauge and log lines.
class RestoreProgress {
 public:
  void Start(uint64_t total) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    total_ = total;
    done_ = 0;
    started_ = last_line_ = absl::Now();
  }
  void Add(uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    done_ += bytes;
    const absl::Time now = absl::Now();
    if (now - last_line_ < absl::Seconds(5) || total_ == 0) return;
    last_line_ = now;
    LOG(INFO) << "restore: "
              << FormatProgress(static_cast<int64_t>(done_), static_cast<int64_t>(total_),
                                now - started_, ProgressUnit::kBytes);
  }
  double Ratio() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (total_ == 0) return done_ == 0 ? 0.0 : 1.0;
    return std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time started_ ABSL_GUARDED_BY(mu_);
  absl::Time last_line_ ABSL_GUARDED_BY(mu_);
};

RestoreProgress& Progress() {
  static auto* progress = new RestoreProgress();
  return *progress;
}

}  // namespace

void RecordApplyBatch(size_t entries, absl::Duration took) {
  const Instruments& i = Get();
  i.apply_entries->Observe(static_cast<double>(entries));
  i.apply_seconds->Observe(absl::ToDoubleSeconds(took));
}

void RestoreStarted(uint64_t total_bytes) { Progress().Start(total_bytes); }

void RestoreBytes(uint64_t bytes) {
  Get().restore_bytes->Increment(static_cast<double>(bytes));
  Progress().Add(bytes);
}

void AddHostGauges(HostMonitor* monitor) {
  Get();  // every series exported from the start
  metrics::AddGauge("arbiter_host_restore_progress_ratio",
                    "Share of the current (or last) snapshot restore fetched, 0..1",
                    [] { return Progress().Ratio(); });
  auto cache = std::make_shared<StatusCache>(monitor);
  auto gauge = [cache](const char* name, const char* help, auto fn,
                       const prometheus::Labels& labels = {}) {
    metrics::AddGauge(
        name, help,
        [cache, fn] {
          std::shared_ptr<const v1::GetStatusResponse> s = cache->Get();
          return s ? static_cast<double>(fn(*s)) : 0.0;
        },
        labels);
  };
  for (const auto& [label, state] :
       {std::pair{"restoring", v1::REPLICATION_STATE_RESTORING},
        std::pair{"replaying", v1::REPLICATION_STATE_REPLAYING},
        std::pair{"live", v1::REPLICATION_STATE_LIVE}}) {
    gauge("arbiter_host_replication_state",
          "1 for the host's replication state (restoring, replaying, live), 0 for the others",
          [state = state](const v1::GetStatusResponse& s) {
            return s.replication_state() == state ? 1 : 0;
          },
          {{"state", label}});
  }
  for (const auto& [label, state] :
       {std::pair{"active", v1::DRAIN_STATE_ACTIVE}, std::pair{"draining", v1::DRAIN_STATE_DRAINING},
        std::pair{"drained", v1::DRAIN_STATE_DRAINED}}) {
    gauge("arbiter_host_drain_state",
          "1 for the host's drain state (active, draining, drained), 0 for the others",
          [state = state](const v1::GetStatusResponse& s) {
            return s.drain_state() == state ? 1 : 0;
          },
          {{"state", label}});
  }
  gauge("arbiter_host_applied_offset", "Every log entry up to this offset is applied",
        [](const v1::GetStatusResponse& s) { return s.applied_offset(); });
  gauge("arbiter_host_head_offset", "The log's durable head as the host last heard it",
        [](const v1::GetStatusResponse& s) { return s.head_offset(); });
  gauge("arbiter_host_lag_entries", "Log entries the host has heard of but not applied",
        [](const v1::GetStatusResponse& s) {
          return s.head_offset() > s.applied_offset() ? s.head_offset() - s.applied_offset()
                                                      : 0;
        });
  gauge("arbiter_host_staleness_seconds",
        "Seconds since the replica last proved it held everything the log had made durable",
        [](const v1::GetStatusResponse& s) { return static_cast<double>(s.staleness_ms()) / 1e3; });
  gauge("arbiter_host_generation", "The data generation in use (changes on each re-restore)",
        [](const v1::GetStatusResponse& s) { return s.generation(); });
  gauge("arbiter_host_readers", "Readers registered on this host",
        [](const v1::GetStatusResponse& s) { return s.readers_size(); });
  gauge("arbiter_host_tenants", "Tenant replicas on this host",
        [](const v1::GetStatusResponse& s) { return s.tenants_size(); });
  metrics::AddGauge("arbiter_host_status_ok",
                    "1 while the host's status can be read, 0 when it cannot (the other host "
                    "gauges then read 0)",
                    [cache] { return cache->Get() != nullptr ? 1.0 : 0.0; });
}

}  // namespace arbiter::writer
