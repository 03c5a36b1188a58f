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

#include "services/writer/host_monitor.h"

namespace arbiter::writer {

// Registers the gauges; `monitor` must live as long as the process. Call once.
void AddHostGauges(HostMonitor* monitor);

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_WRITER_METRICS_H_
