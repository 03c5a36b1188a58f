#ifndef ARBITER_SERVICES_WRITER_WRITER_METRICS_H_
#define ARBITER_SERVICES_WRITER_WRITER_METRICS_H_

// arbiter-writer's Prometheus metrics (common/metrics/metrics.h,
// docs/OPERATIONS.md), read from HostMonitor::Status() on each scrape:
//
//   arbiter_host_replication_state{state}  1 for the current state: restoring, replaying, live
//   arbiter_host_drain_state{state}        1 for the current state: active, draining, drained
//   arbiter_host_applied_offset            every entry up to it is applied
//   arbiter_host_head_offset               the log's durable head as last heard
//   arbiter_host_lag_entries               head - applied
//   arbiter_host_staleness_seconds         since the replica last proved itself fresh
//   arbiter_host_generation                the data generation in use (changes on re-restore)
//   arbiter_host_readers                   readers registered on the host
//   arbiter_host_tenants                   tenant replicas
//   arbiter_host_status_ok                 0 when the host's status cannot be read
//
// and, from the replication loop and the restore:
//
//   arbiter_host_apply_batch_entries       entries per applied batch (histogram)
//   arbiter_host_apply_duration_seconds    time to apply one batch (histogram)
//   arbiter_host_restore_bytes_total       snapshot bytes fetched (counter)
//   arbiter_host_restore_progress_ratio    of the current (or last) restore, 0..1

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "services/writer/host_monitor.h"

namespace arbiter::writer {

// Registers the gauges; `monitor` must live as long as the process. Call once.
void AddHostGauges(HostMonitor* monitor);

// One batch of `entries` log entries applied in `took`.
void RecordApplyBatch(size_t entries, absl::Duration took);

// A restore of `total_bytes` starts; `bytes` more of it arrived. Every few
// seconds RestoreBytes logs a progress line (done, rate, ETA). Thread-safe.
void RestoreStarted(uint64_t total_bytes);
void RestoreBytes(uint64_t bytes);

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_WRITER_METRICS_H_
