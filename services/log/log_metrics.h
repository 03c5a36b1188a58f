#ifndef ARBITER_SERVICES_LOG_LOG_METRICS_H_
#define ARBITER_SERVICES_LOG_LOG_METRICS_H_

// arbiter-log's Prometheus metrics (common/metrics/metrics.h,
// docs/OPERATIONS.md):
//
//   arbiter_log_head_offset                 the newest durable offset
//   arbiter_log_write_batch_entries         entries per group commit (histogram)
//   arbiter_log_fsync_duration_seconds      one group's durable append, fsync included
//   arbiter_log_subscribers                 Subscribe streams open
//   arbiter_log_subscriber_buffered_bytes   entry bytes they hold buffered
//   arbiter_log_snapshot_age_seconds        age of the newest snapshot (+Inf: none)
//   arbiter_log_snapshot_bytes              its files' bytes
//   arbiter_log_snapshots                   snapshots kept
//
// Thread-safe.

#include <cstddef>

#include "absl/time/time.h"

namespace arbiter::log {

class LogCore;

// Registers the gauges, read from `core` on each scrape; it must live as long
// as the process. Call once.
void AddLogGauges(LogCore* core);

// One group commit of `entries` entries whose append took `append`.
void RecordGroupCommit(size_t entries, absl::Duration append);

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_LOG_METRICS_H_
