#include "common/metrics/metrics.h"

#include <exception>
#include <map>
#include <utility>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace arbiter::metrics {
namespace {

std::shared_ptr<prometheus::Registry> SharedRegistry() {
  static auto* registry = new std::shared_ptr<prometheus::Registry>(
      std::make_shared<prometheus::Registry>());
  return *registry;
}

// The gauges of AddGauge, collected on each scrape.
class GaugeFunctions : public prometheus::Collectable {
 public:
  void Add(const std::string& name, const std::string& help, std::function<double()> fn,
           const prometheus::Labels& labels) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    Family& f = families_[name];
    if (f.help.empty()) f.help = help;
    f.gauges.push_back({labels, std::move(fn)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> out;
    out.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      prometheus::MetricFamily& mf = out.emplace_back();
      mf.name = name;
      mf.help = family.help;
      mf.type = prometheus::MetricType::Gauge;
      for (const Gauge& g : family.gauges) {
        prometheus::ClientMetric& m = mf.metric.emplace_back();
        for (const auto& [label, value] : g.labels) m.label.push_back({label, value});
        m.gauge.value = g.fn();
      }
    }
    return out;
  }

 private:
  struct Gauge {
    prometheus::Labels labels;
    std::function<double()> fn;
  };
  struct Family {
    std::string help;
    std::vector<Gauge> gauges;
  };
  mutable absl::Mutex mu_;
  // By name: the exposition lists families in name order.
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<GaugeFunctions> Gauges() {
  static auto* gauges =
      new std::shared_ptr<GaugeFunctions>(std::make_shared<GaugeFunctions>());
  return *gauges;
}

std::vector<double> Decades(double from, double to, const std::vector<double>& steps) {
  std::vector<double> out;
  for (double d = from; d <= to * 1.0001; d *= 10) {
    for (double s : steps) {
      if (d * s <= to * 1.0001) out.push_back(d * s);
    }
  }
  return out;
}

}  // namespace

prometheus::Registry& Registry() { return *SharedRegistry(); }

const std::vector<double>& LatencyBuckets() {
  static const auto* buckets = new std::vector<double>(Decades(1e-5, 10, {1, 2.5, 5}));
  return *buckets;
}

const std::vector<double>& CountBuckets() {
  static const auto* buckets = new std::vector<double>(Decades(1, 1e5, {1, 2.5, 5}));
  return *buckets;
}

void AddGauge(const std::string& name, const std::string& help, std::function<double()> fn,
              const prometheus::Labels& labels) {
  Gauges()->Add(name, help, std::move(fn), labels);
}

std::string Scrape() {
  std::vector<prometheus::MetricFamily> families = SharedRegistry()->Collect();
  for (auto& f : Gauges()->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

struct MetricsListener::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
};

MetricsListener::MetricsListener(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

MetricsListener::~MetricsListener() = default;

absl::StatusOr<std::unique_ptr<MetricsListener>> MetricsListener::Start(
    const std::string& listen) {
  auto impl = std::make_unique<Impl>();
  // prometheus-cpp (civetweb underneath) throws when it cannot bind.
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on \"", listen, "\": ", e.what()));
  }
  impl->exposer->RegisterCollectable(SharedRegistry());
  impl->exposer->RegisterCollectable(Gauges());
  std::vector<int> ports = impl->exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on \"", listen, "\""));
  }
  const int port = ports.front();
  return std::unique_ptr<MetricsListener>(new MetricsListener(std::move(impl), port));
}

}  // namespace arbiter::metrics
