#include "services/reader/reader_service.h"

#include <algorithm>
#include <chrono>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "common/auth/key_facts.h"
#include "common/server/grpc_status.h"
#include "services/reader/read_requests.h"
#include "services/reader/reader_metrics.h"

namespace arbiter::reader {

template <typename Req, typename Resp>
struct ReaderService::Call {
  grpc::CallbackServerContext* ctx = nullptr;
  grpc::ServerUnaryReactor* reactor = nullptr;
  const Req* req = nullptr;
  Resp* resp = nullptr;
  RequestPlan plan;
  absl::Time wait_deadline;
  bool inline_ok = false;
  std::atomic<int64_t>* in_flight = nullptr;
  absl::Time received;
  DecisionLog* decision_log = nullptr;
  std::string key_id;  // once admitted

  void Finish(const absl::Status& s) {
    if constexpr (std::is_same_v<Req, v1::AuthorizeRequest>) {
      RecordDecision(s, resp->allowed());
      if (decision_log != nullptr && decision_log->Sampled()) LogDecision(s);
    }
    reactor->Finish(server::ToGrpcStatus(s));
    in_flight->fetch_sub(1);
  }

  // An Authorize answer into the decision log. (A request that did not
  // parse arrives empty: request_traits.h.)
  void LogDecision(const absl::Status& s) {
    const absl::Time now = absl::Now();
    v1::DecisionLogEntry e;
    e.set_tenant(req->tenant());
    *e.mutable_actor() = req->actor();
    e.set_action(req->action());
    *e.mutable_resource() = req->resource();
    e.set_allowed(s.ok() && resp->allowed());
    e.set_code(absl::StatusCodeToString(s.code()));
    e.set_error(std::string(s.message()));
    if (s.ok()) {
      e.set_offset(resp->evaluation().offset());
      e.set_policy_version(resp->evaluation().policy_version());
    }
    e.set_latency_ms(absl::ToDoubleMilliseconds(now - received));
    e.set_key_id(key_id);
    auto id = ctx->client_metadata().find("x-request-id");
    if (id != ctx->client_metadata().end()) {
      std::string v(id->second.data(), std::min<size_t>(id->second.size(), 256));
      if (api::IsValidUtf8(v)) e.set_request_id(std::move(v));
    }
    decision_log->Record(std::move(e), now);
  }
};

ReaderService::ReaderService(ReaderServiceOptions options,
                             ReplicaWatcher* watcher, FreshnessGate* gate,
                             ConsistencyWaiters* waiters, LogHeadClient* log,
                             WorkQueue* work, WatchHub* watches)
    : options_(options),
      watcher_(watcher),
      gate_(gate),
      waiters_(waiters),
      log_(log),
      work_(work),
      watches_(watches) {}

namespace {

absl::Status TenantNotFound(const std::string& tenant) {
  return absl::NotFoundError(
      absl::StrCat("tenant \"", tenant, "\" not found on this host"));
}

}  // namespace

template <typename Req>
absl::StatusOr<auth::Caller> ReaderService::AdmitIn(const grpc::ServerContextBase& ctx,
                                                    const Req& req, const ReplicaView& view,
                                                    bool unknown_ok) const {
  if (options_.access.disabled) return auth::Admit(ctx, req, nullptr, options_.access);
  // The keys are data like any tenant's: present and fresh, or no answer.
  const TenantView* keys = view.Find(auth::kSystemTenant);
  if (keys == nullptr || keys->snapshot == nullptr || keys->snapshot->facts == nullptr) {
    return absl::UnavailableError(
        "this host holds no API keys yet (its replica has not reached the log's \"_system\" "
        "tenant)");
  }
  absl::StatusOr<absl::Duration> fresh = gate_->Check(view, *keys);
  if (!fresh.ok()) return fresh.status();
  const eval::FactIndex& facts = *keys->snapshot->facts;
  return auth::Admit(
      ctx, req, [&facts](const std::string& id) { return auth::FindKey(facts, id); },
      options_.access, unknown_ok, facts.uid());
}

template <typename Req, typename Resp>
grpc::ServerUnaryReactor* ReaderService::Handle(grpc::CallbackServerContext* ctx,
                                                const Req* req, Resp* resp,
                                                bool inline_ok) {
  in_flight_.fetch_add(1);
  auto call = std::make_shared<Call<Req, Resp>>();
  call->ctx = ctx;
  call->reactor = ctx->DefaultReactor();
  call->req = req;
  call->resp = resp;
  call->inline_ok = inline_ok;
  call->in_flight = &in_flight_;
  call->received = absl::Now();
  call->decision_log = options_.decision_log;
  grpc::ServerUnaryReactor* reactor = call->reactor;

  // The key against the view at hand, so that a caller without a valid key
  // costs no more than this; a request that waits for a newer view may use
  // a key this one does not hold yet (created just before). Run checks it
  // again against the view the answer comes from.
  std::shared_ptr<const ReplicaView> view = watcher_->view();
  absl::Status parsed = server::CheckParsed(*req);
  absl::StatusOr<RequestPlan> plan = parsed.ok() ? Validate(*req) : parsed;
  if (plan.ok()) {
    const bool waits = plan->at_least.has_value() || plan->fully_consistent;
    absl::StatusOr<auth::Caller> caller = AdmitIn(*ctx, *req, *view, /*unknown_ok=*/waits);
    if (!caller.ok()) plan = caller.status();
  }
  if (!plan.ok()) {
    call->Finish(plan.status());
    return reactor;
  }
  call->plan = std::move(*plan);
  call->plan.deadline = server::RpcDeadline(*ctx);
  call->plan.cancelled = [this, ctx] { return cancel_all_.load() || ctx->IsCancelled(); };
  if (auto admitted = gate_->Admit(*view); !admitted.ok()) {
    call->Finish(admitted.status());
    return reactor;
  }
  // The tenant is looked up in the view the answer is computed from (after
  // any wait: a token may name the tenant's CreateTenant entry).
  call->wait_deadline =
      std::min(server::RpcDeadline(*ctx), absl::Now() + options_.max_consistency_wait);

  int64_t target = call->plan.page ? call->plan.page->min_offset : 0;
  bool ask_log = call->plan.fully_consistent;
  if (call->plan.at_least) {
    const v1::ConsistencyTokenPayload& t = *call->plan.at_least;
    if (t.cluster_id() != view->cluster_id) {
      call->Finish(absl::FailedPreconditionError(absl::StrCat(
          "consistency token is from cluster \"", t.cluster_id(),
          "\"; this host holds cluster \"", view->cluster_id, "\"")));
      return reactor;
    }
    target = std::max<int64_t>(target, static_cast<int64_t>(t.offset()));
  }
  // A target ahead of the newest head this host heard of is confirmed with
  // the log (one round trip): right after a write the host may simply not
  // have heard of it yet; a token ahead of the log's own head is refused.
  const bool confirm = target > view->head_offset;
  if (!ask_log && !confirm) {
    WaitThenRun(call, target, *view);
    return reactor;
  }
  const std::string cluster = view->cluster_id;
  log_->GetHead(call->wait_deadline, [this, call, target, cluster, ask_log](
                                         absl::StatusOr<v1::GetHeadResponse> head) {
    if (!head.ok()) {
      call->Finish(head.status());
      return;
    }
    if (head->cluster_id() != cluster) {
      call->Finish(absl::FailedPreconditionError(absl::StrCat(
          "the log at --log_address serves cluster \"", head->cluster_id(),
          "\"; this host holds cluster \"", cluster, "\"")));
      return;
    }
    const int64_t log_head = static_cast<int64_t>(head->head_offset());
    if (target > log_head) {
      call->Finish(absl::FailedPreconditionError(absl::StrCat(
          "consistency offset ", target, " is ahead of the log's head (",
          log_head, ")")));
      return;
    }
    const int64_t t = ask_log ? std::max(target, log_head) : target;
    std::shared_ptr<const ReplicaView> v = watcher_->view();
    WaitThenRun(call, t, *v);
  });
  return reactor;
}

template <typename Req, typename Resp>
void ReaderService::WaitThenRun(std::shared_ptr<Call<Req, Resp>> call,
                                int64_t target, const ReplicaView& view) {
  // The answer needs the tenant and, to check the key as of the target, the
  // keys ("_system": it may lag behind the tenant, DESIGN.md 9.6) at the
  // target; each missing one is waited for in turn.
  const std::string* behind = nullptr;
  if (target > view.TenantOffset(call->plan.tenant)) {
    behind = &call->plan.tenant;
  } else if (!options_.access.disabled && target > view.TenantOffset(auth::kSystemTenant)) {
    static const std::string* const kKeys = new std::string(auth::kSystemTenant);
    behind = kKeys;
  }
  if (behind == nullptr) {
    if (call->inline_ok) {
      Run(call, view);
    } else {
      work_->Post([this, call] { Run(call, *watcher_->view()); });
    }
    return;
  }
  waiters_->Add(*behind, target, call->wait_deadline,
                [this, call, target, since = absl::Now()](absl::Status s) {
    RecordConsistencyWait(absl::Now() - since);
    if (!s.ok()) {
      call->Finish(s);
      return;
    }
    work_->Post([this, call, target] { WaitThenRun(call, target, *watcher_->view()); });
  });
}

template <typename Req, typename Resp>
void ReaderService::Run(const std::shared_ptr<Call<Req, Resp>>& call,
                        const ReplicaView& view) {
  // DESIGN.md 9.7: the key as of the view the answer comes from.
  if (absl::StatusOr<auth::Caller> c = AdmitIn(*call->ctx, *call->req, view); !c.ok()) {
    call->Finish(c.status());
    return;
  } else {
    call->key_id = std::move(c->key_id);
  }
  // Freshness is checked once, after evaluating (below): evaluating a view
  // that turns out stale costs nothing but time, and the answer is refused.
  const TenantView* tenant = view.Find(call->plan.tenant);
  if (tenant == nullptr) {
    call->Finish(TenantNotFound(call->plan.tenant));
    return;
  }
  if (tenant->snapshot == nullptr) {  // never loaded: say why
    call->Finish(gate_->Check(view, *tenant).status());
    return;
  }
  absl::Status s = Execute(
      ExecContext{view, *tenant->snapshot, call->plan, tenant->complete_offset},
      *call->req, call->resp);
  if (s.ok()) {
    // Freshness again, at the end, against the tenant's own (DESIGN.md
    // §9.6): no answer reports more than the maximum.
    absl::StatusOr<absl::Duration> staleness = gate_->Check(view, *tenant);
    if (!staleness.ok()) {
      call->Finish(staleness.status());
      return;
    }
    v1::Evaluation* e = call->resp->mutable_evaluation();
    e->set_offset(static_cast<uint64_t>(tenant->complete_offset));
    e->set_consistency_token(api::EncodeConsistencyToken(
        view.cluster_id, static_cast<uint64_t>(tenant->complete_offset), /*watch_skip=*/0,
        static_cast<uint64_t>(view.epoch)));
    e->set_staleness_ms(
        static_cast<uint64_t>(absl::ToInt64Milliseconds(*staleness)));
    e->set_policy_version(static_cast<uint64_t>(tenant->snapshot->policy_version));
  }
  call->Finish(s);
}

grpc::ServerUnaryReactor* ReaderService::Authorize(
    grpc::CallbackServerContext* ctx, const v1::AuthorizeRequest* req,
    v1::AuthorizeResponse* resp) {
  return Handle(ctx, req, resp, /*inline_ok=*/true);
}

grpc::ServerUnaryReactor* ReaderService::AuthorizeResources(
    grpc::CallbackServerContext* ctx, const v1::AuthorizeResourcesRequest* req,
    v1::AuthorizeResourcesResponse* resp) {
  return Handle(ctx, req, resp, /*inline_ok=*/req->resources_size() <= 16);
}

grpc::ServerUnaryReactor* ReaderService::List(grpc::CallbackServerContext* ctx,
                                              const v1::ListRequest* req,
                                              v1::ListResponse* resp) {
  return Handle(ctx, req, resp, /*inline_ok=*/false);
}

grpc::ServerUnaryReactor* ReaderService::Actions(grpc::CallbackServerContext* ctx,
                                                 const v1::ActionsRequest* req,
                                                 v1::ActionsResponse* resp) {
  return Handle(ctx, req, resp, /*inline_ok=*/true);
}

grpc::ServerUnaryReactor* ReaderService::Query(grpc::CallbackServerContext* ctx,
                                               const v1::QueryRequest* req,
                                               v1::QueryResponse* resp) {
  return Handle(ctx, req, resp, /*inline_ok=*/false);
}

grpc::ServerUnaryReactor* ReaderService::GetFacts(grpc::CallbackServerContext* ctx,
                                                  const v1::GetFactsRequest* req,
                                                  v1::GetFactsResponse* resp) {
  return Handle(ctx, req, resp, /*inline_ok=*/false);
}

grpc::ServerUnaryReactor* ReaderService::Explain(grpc::CallbackServerContext* ctx,
                                                 const v1::ExplainRequest* req,
                                                 v1::ExplainResponse* resp) {
  return Handle(ctx, req, resp, /*inline_ok=*/false);
}

grpc::ServerWriteReactor<v1::WatchResponse>* ReaderService::Watch(
    grpc::CallbackServerContext* ctx, const v1::WatchRequest* req) {
  auto refuse = [](const absl::Status& s) {
    return new server::FailedStream<v1::WatchResponse>(s);
  };
  std::shared_ptr<const ReplicaView> view = watcher_->view();
  absl::Status parsed = server::CheckParsed(*req);
  absl::StatusOr<WatchPlan> plan = parsed.ok() ? ValidateWatch(*req) : parsed;
  if (!plan.ok()) return refuse(plan.status());
  if (absl::StatusOr<auth::Caller> c = AdmitIn(*ctx, *req, *view); !c.ok()) {
    return refuse(c.status());
  }
  if (auto admitted = gate_->Admit(*view); !admitted.ok()) return refuse(admitted.status());
  const TenantView* tenant = view->Find(plan->tenant);
  if (tenant == nullptr) return refuse(TenantNotFound(plan->tenant));
  if (absl::StatusOr<absl::Duration> fresh = gate_->Check(*view, *tenant);
      !fresh.ok() || tenant->snapshot == nullptr) {
    return refuse(fresh.ok() ? absl::UnavailableError("the tenant is not loaded yet")
                             : fresh.status());
  }
  ChangeCursor cursor{.offset = tenant->complete_offset};
  if (plan->after) {
    if (plan->after->cluster_id() != view->cluster_id) {
      return refuse(absl::FailedPreconditionError(absl::StrCat(
          "after_token is from cluster \"", plan->after->cluster_id(),
          "\"; this host holds cluster \"", view->cluster_id, "\"")));
    }
    // An offset of another epoch may name other changes now (DESIGN.md
    // §9.1): the client must read the state again.
    if (plan->after->epoch() != 0 && plan->after->epoch() != static_cast<uint64_t>(view->epoch)) {
      return refuse(absl::AbortedError(absl::StrCat(
          "after_token is from log epoch ", plan->after->epoch(), "; this host is at epoch ",
          view->epoch, " (the log was restored since): read the state again and watch from a "
          "token of this epoch")));
    }
    cursor = ChangeCursor{.offset = static_cast<int64_t>(plan->after->offset()),
                          .skip = static_cast<int64_t>(plan->after->watch_skip())};
  }
  // Checked again on every step against the newest view, while the call
  // lives: the key (DESIGN.md §9.7: a stream ends when its key is revoked),
  // the drain, the tenant's freshness.
  auto check = [this, ctx, req, tenant_name = plan->tenant](
                   const ReplicaView& v) -> absl::StatusOr<absl::Duration> {
    if (absl::StatusOr<auth::Caller> c = AdmitIn(*ctx, *req, v); !c.ok()) return c.status();
    if (auto admitted = gate_->Admit(v); !admitted.ok()) return admitted.status();
    const TenantView* t = v.Find(tenant_name);
    if (t == nullptr) {  // it was here when the stream started: a restore
      return absl::UnavailableError(absl::StrCat(
          "tenant \"", tenant_name, "\" is not on this host right now; resume from the last token"));
    }
    return gate_->Check(v, *t);
  };
  return watches_->Start(ctx, std::move(*plan), cursor, *view, std::move(check));
}

}  // namespace arbiter::reader
