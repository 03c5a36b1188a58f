#include "services/reader/reader_metrics.h"

#include <limits>
#include <memory>
#include <optional>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "common/metrics/metrics.h"

namespace arbiter::reader {
namespace {

// Why the reader serves or not, from a fixed set (a label value).
std::string Reason(const ReplicaView* view, const FreshnessGate& gate) {
  if (gate.drain_state() != ReaderDrainState::kActive) return "draining";
  if (view == nullptr || view->generation == 0 || view->tenants == nullptr) return "no_replica";
  if (view->replication_state != storage::ReplicationState::kLive) return "not_live";
  if (!gate.CheckAt(*view, gate.clock()->Now()).ok()) return "stale";
  return "serving";
}

struct Instruments {
  prometheus::Counter* allowed;
  prometheus::Counter* denied;
  prometheus::Counter* error;
  prometheus::Histogram* consistency_wait;
};

// Created on first use (AddReaderGauges makes it the start, so that every
// series is exported from the start).
const Instruments& Get() {
  static const Instruments instruments = [] {
    auto& decisions = prometheus::BuildCounter()
                          .Name("arbiter_reader_decisions_total")
                          .Help("Authorize answers, by result: allowed, denied, error")
                          .Register(metrics::Registry());
    return Instruments{
        .allowed = &decisions.Add({{"result", "allowed"}}),
        .denied = &decisions.Add({{"result", "denied"}}),
        .error = &decisions.Add({{"result", "error"}}),
        .consistency_wait =
            &prometheus::BuildHistogram()
                 .Name("arbiter_reader_consistency_wait_seconds")
                 .Help("Time a request waited for the replica to reach its consistency token")
                 .Register(metrics::Registry())
                 .Add({}, prometheus::Histogram::BucketBoundaries(metrics::LatencyBuckets())),
    };
  }();
  return instruments;
}

}  // namespace

void AddReaderGauges(const ReplicaWatcher* watcher, const FreshnessGate* gate,
                     const WatchHub* watches) {
  Get();
  metrics::AddGauge("arbiter_reader_watch_streams", "Watch streams open",
                    [=] { return static_cast<double>(watches->active()); });
  metrics::AddGauge("arbiter_reader_watch_changes_sent",
                    "Fact changes sent on Watch streams since the reader started",
                    [=] { return static_cast<double>(watches->changes_sent()); });
  metrics::AddGauge("arbiter_reader_serving",
                    "1 while the reader answers: its host's replica is live, fresh and not "
                    "drained; 0 while it refuses (arbiter_reader_state says why)",
                    [=] { return Reason(watcher->view().get(), *gate) == "serving" ? 1 : 0; });
  for (const char* reason : {"serving", "no_replica", "not_live", "stale", "draining"}) {
    metrics::AddGauge(
        "arbiter_reader_state", "1 for the reason the reader serves or refuses, 0 for the others",
        [=] { return Reason(watcher->view().get(), *gate) == reason ? 1 : 0; },
        {{"reason", reason}});
  }
  metrics::AddGauge("arbiter_reader_view_offset",
                    "Every log entry up to this offset is in the view the reader answers from",
                    [=] {
                      auto v = watcher->view();
                      return v ? static_cast<double>(v->applied_offset) : 0.0;
                    });
  metrics::AddGauge(
      "arbiter_reader_staleness_seconds",
      "Seconds since the view was last proved to hold everything the log had made durable "
      "(+Inf before the first proof)",
      [=] {
        auto v = watcher->view();
        std::optional<absl::Duration> age;
        if (v) age = storage::Age(v->fresh_as_of, gate->clock()->Now());
        return age ? absl::ToDoubleSeconds(*age) : std::numeric_limits<double>::infinity();
      });
  // Summed over the view's tenants (index layers mapped from the host's
  // shared files count in every reader that maps them).
  auto index_total = [watcher](bool bytes) {
    double total = 0;
    auto v = watcher->view();
    if (!v || !v->tenants) return total;
    for (const auto& [name, tenant] : *v->tenants) {
      if (tenant.snapshot == nullptr || tenant.snapshot->facts == nullptr) continue;
      total += static_cast<double>(bytes ? tenant.snapshot->facts->byte_size()
                                         : tenant.snapshot->facts->size());
    }
    return total;
  };
  metrics::AddGauge("arbiter_reader_index_facts", "Live facts in the view's indexes, all tenants",
                    [index_total] { return index_total(false); });
  metrics::AddGauge("arbiter_reader_index_bytes",
                    "Bytes of the view's index layers, all tenants (mapped files and heap)",
                    [index_total] { return index_total(true); });
  metrics::AddGauge("arbiter_reader_view_tenants", "Tenants in the view (the keys' included)",
                    [=] {
                      auto v = watcher->view();
                      return v && v->tenants ? static_cast<double>(v->tenants->size()) : 0.0;
                    });
}

void RecordDecision(const absl::Status& status, bool allowed) {
  const Instruments& i = Get();
  (!status.ok() ? i.error : allowed ? i.allowed : i.denied)->Increment();
}

void RecordConsistencyWait(absl::Duration waited) {
  Get().consistency_wait->Observe(absl::ToDoubleSeconds(waited));
}

}  // namespace arbiter::reader
