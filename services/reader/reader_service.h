#ifndef ARBITER_SERVICES_READER_READER_SERVICE_H_
#define ARBITER_SERVICES_READER_READER_SERVICE_H_

// The reader's RPC edge (gRPC callback API). For every RPC:
//   1. validate (read_requests.h) — INVALID_ARGUMENT / RESOURCE_EXHAUSTED;
//   2. take the newest ReplicaView and admit it (FreshnessGate) —
//      UNAVAILABLE with the reason; NOT_FOUND for a tenant the host lacks;
//   3. settle the offset the answer must reach: a later page's minimum
//      offset, Consistency.at_least (another cluster: FAILED_PRECONDITION at
//      once; ahead of the head this host heard of: the log is asked, and a
//      token ahead of the log's head too is FAILED_PRECONDITION),
//      fully_consistent (the log's head, asked with the async client);
//   4. if the view is behind it, register a consistency waiter (no thread
//      waits) bounded by the RPC deadline and --max_consistency_wait
//      (DEADLINE_EXCEEDED), released by the poller;
//   5. evaluate inside the view (one offset) — inline on the callback thread
//      for Authorize and Actions (bounded, sub-millisecond), on the worker
//      queue for the rest and after a wait — then re-check freshness and
//      report Evaluation{offset, token, staleness, policy version}.
// No lock is held while evaluating; the view is a shared_ptr snapshot.
//
// Thread-safe.

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "common/auth/access.h"
#include "services/reader/consistency_waiters.h"
#include "services/reader/decision_log.h"
#include "services/reader/freshness_gate.h"
#include "services/reader/log_head_client.h"
#include "services/reader/replica_watcher.h"
#include "services/reader/watch_streams.h"
#include "services/reader/work_queue.h"

namespace arbiter::reader {

struct ReaderServiceOptions {
  absl::Duration max_consistency_wait = absl::Seconds(5);
  // Every call is admitted by auth::Admit against the keys of the view it
  // is answered from (its "_system" tenant, which must be fresh as well).
  auth::AccessOptions access;
  // Authorize answers are sampled into it when set (not owned).
  DecisionLog* decision_log = nullptr;
};

class ReaderService final : public v1::ReaderService::CallbackService {
 public:
  // Nothing owned; everything must outlive the service.
  ReaderService(ReaderServiceOptions options, ReplicaWatcher* watcher,
                FreshnessGate* gate, ConsistencyWaiters* waiters,
                LogHeadClient* log, WorkQueue* work, WatchHub* watches);

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* ctx,
                                      const v1::AuthorizeRequest* req,
                                      v1::AuthorizeResponse* resp) override;
  grpc::ServerUnaryReactor* AuthorizeResources(
      grpc::CallbackServerContext* ctx, const v1::AuthorizeResourcesRequest* req,
      v1::AuthorizeResourcesResponse* resp) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const v1::ListRequest* req,
                                 v1::ListResponse* resp) override;
  grpc::ServerUnaryReactor* Actions(grpc::CallbackServerContext* ctx,
                                    const v1::ActionsRequest* req,
                                    v1::ActionsResponse* resp) override;
  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* ctx,
                                  const v1::QueryRequest* req,
                                  v1::QueryResponse* resp) override;
  grpc::ServerUnaryReactor* GetFacts(grpc::CallbackServerContext* ctx,
                                     const v1::GetFactsRequest* req,
                                     v1::GetFactsResponse* resp) override;
  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* ctx,
                                    const v1::ExplainRequest* req,
                                    v1::ExplainResponse* resp) override;
  // The stream itself is the WatchHub's (watch_streams.h); here it is
  // validated and admitted like every RPC (key, freshness, tenant, the
  // token's cluster).
  grpc::ServerWriteReactor<v1::WatchResponse>* Watch(grpc::CallbackServerContext* ctx,
                                                     const v1::WatchRequest* req) override;

  // RPCs accepted and not yet finished.
  int64_t in_flight() const { return in_flight_.load(); }
  // Stops every evaluation in progress or to come with CANCELLED: the end
  // of a drain. (gRPC's own cancellation reaches a call only through a
  // callback thread, and evaluations may be occupying all of them.)
  void CancelEvaluations() { cancel_all_.store(true); }

 private:
  template <typename Req, typename Resp>
  struct Call;
  // auth::Admit against the keys of `view`: its "_system" tenant, refused
  // (UNAVAILABLE) when missing or stale, like any tenant's data.
  template <typename Req>
  absl::StatusOr<auth::Caller> AdmitIn(const grpc::ServerContextBase& ctx, const Req& req,
                                       const ReplicaView& view, bool unknown_ok = false) const;

  template <typename Req, typename Resp>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx,
                                   const Req* req, Resp* resp, bool inline_ok);
  template <typename Req, typename Resp>
  void WaitThenRun(std::shared_ptr<Call<Req, Resp>> call, int64_t target,
                   const ReplicaView& view);
  template <typename Req, typename Resp>
  void Run(const std::shared_ptr<Call<Req, Resp>>& call,
           const ReplicaView& view);

  const ReaderServiceOptions options_;
  ReplicaWatcher* const watcher_;
  FreshnessGate* const gate_;
  ConsistencyWaiters* const waiters_;
  LogHeadClient* const log_;
  WorkQueue* const work_;
  WatchHub* const watches_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> cancel_all_{false};
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_READER_SERVICE_H_
