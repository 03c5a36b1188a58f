#ifndef ARBITER_COMMON_METRICS_METRICS_H_
#define ARBITER_COMMON_METRICS_METRICS_H_

// Prometheus metrics (issue #15, docs/OPERATIONS.md), with Debian's
// prometheus-cpp: one registry per process, instruments created where the
// work happens, gauges read when scraped, and one HTTP listener serving the
// text format at /metrics.
//
//   * Counters and histograms: `Registry()` with prometheus-cpp's builders
//     (BuildCounter(), BuildHistogram()), kept in a function-local static
//     next to the code they measure. Updating one is a few atomic adds.
//   * State that already lives somewhere (a head offset, a replication
//     state, a subscriber count): `AddGauge(name, help, fn)`; `fn` runs on
//     every scrape, on the listener's thread, and must be thread-safe and
//     cheap. Gauges cannot be removed: register them once, for objects that
//     live as long as the process (the services' cores).
//   * RPC metrics of every service: common/server installs
//     RpcMetricsInterceptorFactory() (rpc_metrics.h) in every server.
//   * MetricsListener::Start(listen) serves both. Names follow Prometheus'
//     conventions: arbiter_<service>_<what>_<unit>, counters end in _total.
//
// No label takes a value from a request (actor, resource, tenant): label
// values are fixed sets (methods, codes, states).
//
// Thread-safe: every function may be called from any thread.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/labels.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"

namespace arbiter::metrics {

// The process's registry.
prometheus::Registry& Registry();

// Histogram buckets, in seconds: 10 µs to 10 s, three per decade.
const std::vector<double>& LatencyBuckets();
// Histogram buckets for counts (entries per batch): 1 to 100,000.
const std::vector<double>& CountBuckets();

// A gauge whose value is fn() at scrape time; `labels` fixed. Several
// calls with the same name (and different labels) form one family; `help`
// is taken from the first.
void AddGauge(const std::string& name, const std::string& help, std::function<double()> fn,
              const prometheus::Labels& labels = {});

// The text exposition of everything registered (what /metrics answers).
std::string Scrape();

// An HTTP listener serving Scrape() at /metrics.
class MetricsListener {
 public:
  // `listen` is HOST:PORT (port 0 picks one). UNAVAILABLE naming the
  // address if it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsListener>> Start(const std::string& listen);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  int port() const { return port_; }

 private:
  struct Impl;
  explicit MetricsListener(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace arbiter::metrics

#endif  // ARBITER_COMMON_METRICS_METRICS_H_
