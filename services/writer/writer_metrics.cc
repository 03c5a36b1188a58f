#include "services/writer/writer_metrics.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/metrics/metrics.h"

namespace arbiter::writer {
namespace {

// One Status() serves every gauge of a scrape (it lists every tenant).
class StatusCache {
 public:
  explicit StatusCache(HostMonitor* monitor) : monitor_(monitor) {}

  // The status, read at most once per kMaxAge; nullopt if it cannot be read.
  std::optional<v1::GetStatusResponse> Get() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - read_at_ > kMaxAge) {
      absl::StatusOr<v1::GetStatusResponse> s = monitor_->Status();
      status_ = s.ok() ? std::optional<v1::GetStatusResponse>(std::move(*s)) : std::nullopt;
      read_at_ = now;
    }
    return status_;
  }

 private:
  static constexpr absl::Duration kMaxAge = absl::Milliseconds(500);
  HostMonitor* const monitor_;
  absl::Mutex mu_;
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::optional<v1::GetStatusResponse> status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void AddHostGauges(HostMonitor* monitor) {
  auto cache = std::make_shared<StatusCache>(monitor);
  auto gauge = [cache](const char* name, const char* help, auto fn,
                       const prometheus::Labels& labels = {}) {
    metrics::AddGauge(
        name, help,
        [cache, fn] {
          std::optional<v1::GetStatusResponse> s = cache->Get();
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
                    [cache] { return cache->Get().has_value() ? 1.0 : 0.0; });
}

}  // namespace arbiter::writer
