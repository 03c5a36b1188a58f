#include "common/metrics/rpc_metrics.h"

#include <array>
#include <atomic>
#include <chrono>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/metrics.h"

namespace arbiter::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr int kCodes = 17;  // grpc::StatusCode OK (0) .. UNAUTHENTICATED (16)
constexpr std::array<const char*, kCodes> kCodeNames = {
    "OK",                 "CANCELLED",           "UNKNOWN",      "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",  "NOT_FOUND",           "ALREADY_EXISTS", "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",      "OUT_OF_RANGE",
    "UNIMPLEMENTED",      "INTERNAL",            "UNAVAILABLE",  "DATA_LOSS",
    "UNAUTHENTICATED"};

// The instruments of one method, created on its first call. The counter of
// a code is created on the code's first use (a family lists only codes that
// happened).
class MethodMetrics {
 public:
  MethodMetrics(prometheus::Family<prometheus::Counter>* requests,
                prometheus::Histogram* duration, std::string service, std::string method)
      : requests_(requests),
        duration_(duration),
        service_(std::move(service)),
        method_(std::move(method)) {}

  void Record(int code, double seconds) {
    if (code < 0 || code >= kCodes) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    prometheus::Counter* counter = by_code_[code].load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Family::Add is idempotent for the same labels: racing threads get
      // the same counter.
      counter = &requests_->Add(
          {{"service", service_}, {"method", method_}, {"code", kCodeNames[code]}});
      by_code_[code].store(counter, std::memory_order_release);
    }
    counter->Increment();
    duration_->Observe(seconds);
  }

 private:
  prometheus::Family<prometheus::Counter>* const requests_;
  prometheus::Histogram* const duration_;
  const std::string service_, method_;
  std::array<std::atomic<prometheus::Counter*>, kCodes> by_code_{};
};

class RpcFamilies {
 public:
  RpcFamilies()
      : requests_(prometheus::BuildCounter()
                      .Name("arbiter_rpc_requests_total")
                      .Help("RPCs served, by service, method and status code")
                      .Register(Registry())),
        duration_(prometheus::BuildHistogram()
                      .Name("arbiter_rpc_duration_seconds")
                      .Help("Time from an RPC's arrival to its status, by service and method")
                      .Register(Registry())) {}

  // "/arbiter.v1.ReaderService/Authorize" -> its instruments.
  MethodMetrics* For(const char* path) ABSL_LOCKS_EXCLUDED(mu_) {
    // absl::string_view: Debian's Abseil has its own (heterogeneous lookup).
    absl::string_view full = path == nullptr ? absl::string_view() : absl::string_view(path);
    absl::MutexLock lock(&mu_);
    auto it = methods_.find(full);
    if (it != methods_.end()) return &it->second;
    absl::string_view service = "unknown", method = "unknown";
    if (size_t slash = full.rfind('/'); slash != absl::string_view::npos && slash > 0) {
      service = full.substr(1, slash - 1);
      method = full.substr(slash + 1);
    }
    prometheus::Histogram* duration = &duration_.Add(
        {{"service", std::string(service)}, {"method", std::string(method)}},
        prometheus::Histogram::BucketBoundaries(LatencyBuckets()));
    return &methods_
                .try_emplace(std::string(full), &requests_, duration, std::string(service),
                             std::string(method))
                .first->second;
  }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  absl::Mutex mu_;
  // Bounded by the methods the server registered (gRPC answers unknown
  // methods before interceptors run).
  absl::node_hash_map<std::string, MethodMetrics> methods_ ABSL_GUARDED_BY(mu_);
};

RpcFamilies& Families() {
  static auto* families = new RpcFamilies();
  return *families;
}

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RpcMetricsInterceptor(MethodMetrics* metrics)
      : metrics_(metrics), start_(std::chrono::steady_clock::now()) {}

  ~RpcMetricsInterceptor() override {
    if (!recorded_) Record(static_cast<int>(grpc::StatusCode::CANCELLED));
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(static_cast<int>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  void Record(int code) {
    recorded_ = true;
    metrics_->Record(code, std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                         start_)
                               .count());
  }

  MethodMetrics* const metrics_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(Families().For(info->method()));
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetricsInterceptorFactory() {
  return std::make_unique<RpcMetricsFactory>();
}

}  // namespace arbiter::metrics
