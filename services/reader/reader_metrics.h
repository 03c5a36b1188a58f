#ifndef ARBITER_SERVICES_READER_READER_METRICS_H_
#define ARBITER_SERVICES_READER_READER_METRICS_H_

// The reader's Prometheus metrics (common/metrics/metrics.h,
// docs/OPERATIONS.md):
//
//   arbiter_reader_serving                  1 while it answers (fresh, live, not drained)
//   arbiter_reader_state{reason}            1 for the current reason: serving, no_replica,
//                                           not_live, stale, draining
//   arbiter_reader_view_offset              the view's applied offset
//   arbiter_reader_staleness_seconds        since the view was last proved fresh
//   arbiter_reader_view_tenants             tenants in the view
//   arbiter_reader_index_facts              live facts in the view's indexes
//   arbiter_reader_index_bytes              bytes of their layers (mapped and heap)
//   arbiter_reader_decisions_total{result}  Authorize answers: allowed, denied, error
//   arbiter_reader_consistency_wait_seconds time a request waited for its consistency
//   arbiter_reader_watch_streams            Watch streams open
//   arbiter_reader_watch_changes_sent       changes sent on Watch streams since start
//
// Thread-safe.

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/reader/freshness_gate.h"
#include "services/reader/replica_watcher.h"
#include "services/reader/watch_streams.h"

namespace arbiter::reader {

// Registers the gauges, read from `watcher`'s view and `gate` on each scrape.
// Both must live as long as the process. Call once.
void AddReaderGauges(const ReplicaWatcher* watcher, const FreshnessGate* gate,
                     const WatchHub* watches);

// One Authorize answer: `status` not OK is an error, else allowed or denied.
void RecordDecision(const absl::Status& status, bool allowed);

// One wait for a consistency token to be reached, whatever its outcome.
void RecordConsistencyWait(absl::Duration waited);

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_READER_METRICS_H_
