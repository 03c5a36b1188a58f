#ifndef ARBITER_SERVICES_READER_LOG_HEAD_CLIENT_H_
#define ARBITER_SERVICES_READER_LOG_HEAD_CLIENT_H_

// Asks arbiter-log for its head (LogService.GetHead) with gRPC's callback
// client API: never blocks the calling thread (a server callback), the
// answer arrives on a gRPC thread. Used by fully_consistent reads and to
// confirm a consistency token ahead of the head this host heard of. The
// channel is created on first use. `address` may list several front-ends of
// one log, comma-separated: a call goes to the one that answered last, and
// after a failure the next call goes to the next one.
//
// Thread-safe.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "common/auth/client.h"

namespace arbiter::reader {

class LogHeadClient {
 public:
  using Callback = std::function<void(absl::StatusOr<v1::GetHeadResponse>)>;

  // `key`: the API key sent to the log ('' for none); `tls`: how to reach it.
  LogHeadClient(const std::string& address, std::string key, auth::ClientTls tls = {});

  // Calls `done` exactly once, on a gRPC thread (or inline when the call
  // cannot be started). UNAVAILABLE (naming the log) when the log cannot be
  // reached by `deadline`.
  void GetHead(absl::Time deadline, Callback done) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  v1::LogService::Stub* stub(size_t i) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<std::string> addresses_;
  const std::string key_;
  const auth::ClientTls tls_;
  // The front-end the next call goes to (shared with calls in flight).
  const std::shared_ptr<std::atomic<size_t>> current_ =
      std::make_shared<std::atomic<size_t>>(0);
  absl::Mutex mu_;
  std::vector<std::unique_ptr<v1::LogService::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_LOG_HEAD_CLIENT_H_
