#include "services/log/log_metrics.h"

#include <limits>

#include <prometheus/histogram.h>

#include "absl/time/clock.h"
#include "common/metrics/metrics.h"
#include "services/log/log_core.h"

namespace arbiter::log {
namespace {

prometheus::Histogram& Histogram(const char* name, const char* help,
                                 const std::vector<double>& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(metrics::Registry()).Add(
      {}, prometheus::Histogram::BucketBoundaries(buckets));
}

// The newest snapshot's manifest, if any (read from disk: a scrape is rare).
std::optional<v1::SnapshotManifest> Newest(LogCore* core) {
  auto list = core->snapshots()->List();
  if (!list.ok() || list->empty()) return std::nullopt;
  return list->front();  // newest first
}

struct Instruments {
  prometheus::Histogram* batch;
  prometheus::Histogram* fsync;
};

const Instruments& Get() {
  static const Instruments instruments{
      .batch = &Histogram("arbiter_log_write_batch_entries", "Entries per group commit",
                          metrics::CountBuckets()),
      .fsync = &Histogram(
          "arbiter_log_fsync_duration_seconds",
          "Time of one group commit's durable append (the store's transaction, fsync included)",
          metrics::LatencyBuckets()),
  };
  return instruments;
}

}  // namespace

void AddLogGauges(LogCore* core) {
  Get();  // every series exported from the start
  metrics::AddGauge("arbiter_log_head_offset", "The newest durable log offset",
                    [core] { return static_cast<double>(core->GetHead().head_offset()); });
  metrics::AddGauge("arbiter_log_subscribers", "Subscribe streams open (hosts following)",
                    [core] { return static_cast<double>(core->subscriptions()->active()); });
  metrics::AddGauge(
      "arbiter_log_subscriber_buffered_bytes",
      "Bytes of log entries all Subscribe streams hold buffered (bounded by "
      "--subscribers_max_buffer_bytes)",
      [core] { return static_cast<double>(core->subscriptions()->buffered_bytes()); });
  metrics::AddGauge("arbiter_log_snapshot_age_seconds",
                    "Seconds since the newest snapshot was cut (+Inf when there is none)",
                    [core] {
                      auto m = Newest(core);
                      if (!m) return std::numeric_limits<double>::infinity();
                      return absl::ToDoubleSeconds(absl::Now() -
                                                   absl::FromUnixMillis(m->created_unix_ms()));
                    });
  metrics::AddGauge("arbiter_log_snapshot_bytes", "Bytes of the newest snapshot's files", [core] {
    auto m = Newest(core);
    double bytes = 0;
    if (m) {
      for (const auto& f : m->files()) bytes += static_cast<double>(f.size_bytes());
    }
    return bytes;
  });
  metrics::AddGauge("arbiter_log_snapshots", "Snapshots kept", [core] {
    auto list = core->snapshots()->List();
    return list.ok() ? static_cast<double>(list->size()) : 0.0;
  });
}

void RecordGroupCommit(size_t entries, absl::Duration append) {
  const Instruments& i = Get();
  i.batch->Observe(static_cast<double>(entries));
  i.fsync->Observe(absl::ToDoubleSeconds(append));
}

}  // namespace arbiter::log
