#include "services/log/log_service.h"

#include "common/api/api.h"
#include "common/base/crc32c.h"
#include "common/server/grpc_status.h"

namespace arbiter::log {
namespace {

using server::ToGrpcStatus;

// Streams one snapshot file in chunks; pins the snapshot until done.
class FetchStream : public grpc::ServerWriteReactor<v1::FetchSnapshotResponse> {
 public:
  FetchStream(snapshot::SnapshotStore* store, const v1::FetchSnapshotRequest& req)
      : store_(store), id_(req.snapshot_id()), file_(req.file()),
        offset_(req.byte_offset()) {
    store_->Pin(id_);
    absl::StatusOr<v1::SnapshotManifest> m = store_->Get(id_);
    if (!m.ok()) {
      Finish(ToGrpcStatus(m.status()));
      return;
    }
    manifest_ = *std::move(m);
    SendNext(/*first=*/true);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    SendNext(false);
  }
  void OnDone() override {
    store_->Unpin(id_);
    delete this;
  }

 private:
  void SendNext(bool first) {
    absl::StatusOr<snapshot::Chunk> c = store_->ReadChunk(manifest_, file_, offset_);
    if (!c.ok()) {
      Finish(ToGrpcStatus(c.status()));
      return;
    }
    if (c->data.empty() && !first) {
      Finish(grpc::Status::OK);
      return;
    }
    msg_.Clear();
    msg_.set_byte_offset(c->byte_offset);
    msg_.set_crc32c(Crc32c(c->data));
    msg_.set_file_size(c->file_size);
    offset_ += c->data.size();
    *msg_.mutable_data() = std::move(c->data);
    if (offset_ >= c->file_size) {
      StartWriteAndFinish(&msg_, grpc::WriteOptions(), grpc::Status::OK);
    } else {
      StartWrite(&msg_);
    }
  }

  snapshot::SnapshotStore* const store_;
  const std::string id_;
  const std::string file_;
  uint64_t offset_;
  v1::SnapshotManifest manifest_;
  v1::FetchSnapshotResponse msg_;
};

}  // namespace

grpc::ServerUnaryReactor* LogService::CreateTenant(grpc::CallbackServerContext* ctx,
                                                   const v1::CreateTenantRequest* req,
                                                   v1::CreateTenantResponse* resp) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  core_->sequencer()->CreateTenant(*req, [this, reactor, resp](SequenceResult r) {
    if (r.status.ok()) {
      resp->set_offset(r.offset);
      resp->set_consistency_token(core_->Token(r.offset));
    }
    reactor->Finish(ToGrpcStatus(r.status));
  });
  return reactor;
}

grpc::ServerUnaryReactor* LogService::Write(grpc::CallbackServerContext* ctx,
                                            const v1::WriteRequest* req,
                                            v1::WriteResponse* resp) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  core_->sequencer()->Write(*req, [this, reactor, resp](SequenceResult r) {
    if (r.status.ok()) {
      resp->set_offset(r.offset);
      resp->set_consistency_token(core_->Token(r.offset));
    }
    reactor->Finish(ToGrpcStatus(r.status));
  });
  return reactor;
}

grpc::ServerUnaryReactor* LogService::SetPolicy(grpc::CallbackServerContext* ctx,
                                                const v1::SetPolicyRequest* req,
                                                v1::SetPolicyResponse* resp) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  core_->sequencer()->SetPolicy(
      *req,
      [this, reactor, resp](SequenceResult r) {
        if (r.status.ok()) {
          resp->set_offset(r.offset);
          resp->set_consistency_token(core_->Token(r.offset));
          resp->set_inert_fact_count(r.inert_fact_count);
          for (const Fact& f : r.inert_facts) api::ToProto(f, resp->add_inert_facts());
        }
        reactor->Finish(ToGrpcStatus(r.status));
      },
      server::RpcDeadline(*ctx), [ctx] { return ctx->IsCancelled(); });
  return reactor;
}

grpc::ServerUnaryReactor* LogService::GetPolicy(grpc::CallbackServerContext* ctx,
                                                const v1::GetPolicyRequest* req,
                                                v1::GetPolicyResponse* resp) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = api::ValidateTenantName(req->tenant());
  if (s.ok()) {
    absl::StatusOr<v1::GetPolicyResponse> p = core_->sequencer()->GetPolicy(req->tenant());
    if (p.ok()) {
      *resp = *std::move(p);
    } else {
      s = p.status();
    }
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* LogService::ListTenants(grpc::CallbackServerContext* ctx,
                                                  const v1::ListTenantsRequest* req,
                                                  v1::ListTenantsResponse* resp) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  *resp = core_->sequencer()->ListTenants();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::GetHead(grpc::CallbackServerContext* ctx,
                                              const v1::GetHeadRequest* req,
                                              v1::GetHeadResponse* resp) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  *resp = core_->GetHead();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* LogService::Subscribe(
    grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* req) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) {
    return new server::FailedStream<v1::SubscribeResponse>(s);
  }
  return core_->subscriptions()->Subscribe(ctx, req);
}

grpc::ServerUnaryReactor* LogService::ListSnapshots(grpc::CallbackServerContext* ctx,
                                                    const v1::ListSnapshotsRequest* req,
                                                    v1::ListSnapshotsResponse* resp) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  absl::StatusOr<std::vector<v1::SnapshotManifest>> list = core_->snapshots()->List();
  if (list.ok()) {
    for (auto& m : *list) *resp->add_snapshots() = std::move(m);
  }
  reactor->Finish(ToGrpcStatus(list.status()));
  return reactor;
}

grpc::ServerWriteReactor<v1::FetchSnapshotResponse>* LogService::FetchSnapshot(
    grpc::CallbackServerContext*, const v1::FetchSnapshotRequest* req) {
  if (absl::Status s = server::CheckParsed(*req); !s.ok()) {
    return new server::FailedStream<v1::FetchSnapshotResponse>(s);
  }
  return new FetchStream(core_->snapshots(), *req);
}

}  // namespace arbiter::log
