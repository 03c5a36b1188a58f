#include "services/log/log_service.h"

#include <type_traits>

#include "absl/strings/str_split.h"
#include "common/api/api.h"
#include "common/auth/key_facts.h"
#include "glog/logging.h"
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

void ToProto(const auth::KeyGrant& g, v1::KeyInfo* out) {
  out->set_key_id(g.id);
  out->set_tenant(g.tenant);
  for (absl::string_view s : absl::StrSplit(auth::ScopesText(g.scopes), ',')) {
    out->add_scopes(std::string(s));
  }
  out->set_name(g.name);
  out->set_created_offset(g.created_offset);
}

// A key change names a tenant that exists ("" for cluster keys).
absl::Status ValidateKeyTenant(const std::string& tenant) {
  return tenant.empty() ? absl::OkStatus() : api::ValidateTenantName(tenant);
}

absl::Status ValidateKeyId(const std::string& id) {
  bool ok = id.size() == 16;
  for (char c : id) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError("key_id: 16 lowercase hex digits (the part after \"arb_\")");
}

}  // namespace

LogService::LogService(LogCore* core, auth::AccessOptions access, auth::ClientTls peer_tls)
    : core_(core),
      guard_(
          [seq = core->sequencer()](
              const std::string& id) -> absl::StatusOr<std::optional<auth::KeyGrant>> {
            std::shared_ptr<const KeyMap> keys = seq->keys();
            auto it = keys->find(id);
            if (it == keys->end()) return std::nullopt;
            return it->second;
          },
          access),
      peer_tls_(std::move(peer_tls)) {}

namespace {
// Marks a call one front-end forwarded to the leader.
constexpr char kForwardedHeader[] = "arbiter-forwarded";
}  // namespace

v1::LogService::Stub* LogService::Peer(const std::string& address) {
  absl::MutexLock l(&peers_mu_);
  auto& stub = peers_[address];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stub = v1::LogService::NewStub(grpc::CreateCustomChannel(
        address, auth::ChannelCredentials(peer_tls_), args));
  }
  return stub.get();
}

template <typename Call>
bool LogService::Forwarded(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor** out,
                           Call call) {
  absl::StatusOr<std::string> route = core_->Route();
  if (route.ok() && route->empty()) return false;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  *out = reactor;
  if (!route.ok()) {
    reactor->Finish(ToGrpcStatus(route.status()));
    return true;
  }
  const auto& md = ctx->client_metadata();
  if (md.find(kForwardedHeader) != md.end()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "forwarded to an arbiter-log front-end that does not lead "
                                 "(the leadership is moving); retry"));
    return true;
  }
  auto client = std::make_shared<grpc::ClientContext>();
  client->set_deadline(ctx->deadline());
  client->AddMetadata(kForwardedHeader, "1");
  if (auto it = md.find("authorization"); it != md.end()) {
    client->AddMetadata("authorization", std::string(it->second.data(), it->second.size()));
  }
  call(Peer(*route)->async(), client.get(), [reactor, client](grpc::Status s) {
    reactor->Finish(std::move(s));
  });
  return true;
}

grpc::ServerUnaryReactor* LogService::CreateTenant(grpc::CallbackServerContext* ctx,
                                                   const v1::CreateTenantRequest* req,
                                                   v1::CreateTenantResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->CreateTenant(c, req, resp, std::move(done));
      })) {
    return r;
  }
  absl::StatusOr<auth::Caller> caller = guard_.Admit(*ctx, *req);
  if (!caller.ok()) return server::FinishNow(ctx, caller.status());
  auto* reactor = ctx->DefaultReactor();
  core_->sequencer()->CreateTenant(*req, [this, reactor, resp](SequenceResult r) {
    if (r.status.ok()) {
      resp->set_offset(r.offset);
      resp->set_consistency_token(core_->Token(r.offset));
    }
    reactor->Finish(ToGrpcStatus(r.status));
  }, caller->key_id);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::Write(grpc::CallbackServerContext* ctx,
                                            const v1::WriteRequest* req,
                                            v1::WriteResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->Write(c, req, resp, std::move(done));
      })) {
    return r;
  }
  absl::StatusOr<auth::Caller> caller = guard_.Admit(*ctx, *req);
  if (!caller.ok()) return server::FinishNow(ctx, caller.status());
  auto* reactor = ctx->DefaultReactor();
  core_->sequencer()->Write(*req, [this, reactor, resp](SequenceResult r) {
    if (r.status.ok()) {
      resp->set_offset(r.offset);
      resp->set_consistency_token(core_->Token(r.offset));
    }
    reactor->Finish(ToGrpcStatus(r.status));
  }, caller->key_id);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::SetPolicy(grpc::CallbackServerContext* ctx,
                                                const v1::SetPolicyRequest* req,
                                                v1::SetPolicyResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->SetPolicy(c, req, resp, std::move(done));
      })) {
    return r;
  }
  absl::StatusOr<auth::Caller> caller = guard_.Admit(*ctx, *req);
  if (!caller.ok()) return server::FinishNow(ctx, caller.status());
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
      server::RpcDeadline(*ctx), [ctx] { return ctx->IsCancelled(); }, caller->key_id);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::GetPolicy(grpc::CallbackServerContext* ctx,
                                                const v1::GetPolicyRequest* req,
                                                v1::GetPolicyResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->GetPolicy(c, req, resp, std::move(done));
      })) {
    return r;
  }
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
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
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->ListTenants(c, req, resp, std::move(done));
      })) {
    return r;
  }
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
  auto* reactor = ctx->DefaultReactor();
  *resp = core_->sequencer()->ListTenants();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::GetHead(grpc::CallbackServerContext* ctx,
                                              const v1::GetHeadRequest* req,
                                              v1::GetHeadResponse* resp) {
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
  auto* reactor = ctx->DefaultReactor();
  if (!core_->HeadConfirmed()) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "this arbiter-log front-end cannot confirm the log's head with its store (etcd) "
        "within --head_confirm_interval"));
    return reactor;
  }
  *resp = core_->GetHead();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* LogService::Subscribe(
    grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* req) {
  absl::StatusOr<auth::Caller> caller = guard_.Admit(*ctx, *req);
  if (!caller.ok()) return new server::FailedStream<v1::SubscribeResponse>(caller.status());
  if (caller->key_id.empty()) return core_->subscriptions()->Subscribe(ctx, req);
  return core_->subscriptions()->Subscribe(
      ctx, req, [seq = core_->sequencer(), id = caller->key_id]() -> absl::Status {
        if (seq->keys()->contains(id)) return absl::OkStatus();
        return absl::UnauthenticatedError(absl::StrCat("API key ", id, " was revoked"));
      });
}

grpc::ServerUnaryReactor* LogService::ListSnapshots(grpc::CallbackServerContext* ctx,
                                                    const v1::ListSnapshotsRequest* req,
                                                    v1::ListSnapshotsResponse* resp) {
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
  auto* reactor = ctx->DefaultReactor();
  absl::StatusOr<std::vector<v1::SnapshotManifest>> list = core_->snapshots()->List();
  if (list.ok()) {
    for (auto& m : *list) *resp->add_snapshots() = std::move(m);
  }
  reactor->Finish(ToGrpcStatus(list.status()));
  return reactor;
}

grpc::ServerWriteReactor<v1::FetchSnapshotResponse>* LogService::FetchSnapshot(
    grpc::CallbackServerContext* ctx, const v1::FetchSnapshotRequest* req) {
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return new server::FailedStream<v1::FetchSnapshotResponse>(c.status());
  }
  return new FetchStream(core_->snapshots(), *req);
}

template <typename Response>
void LogService::CreateKeys(grpc::ServerUnaryReactor* reactor, KeyChange change,
                            std::string text, std::string key_id, Response* resp) {
  auth::KeyGrant grant = change.create.front();
  std::string revoked = change.revoke.empty() ? "" : change.revoke.front();
  core_->sequencer()->UpdateKeys(
      std::move(change),
      [this, reactor, resp, text = std::move(text), grant = std::move(grant),
       revoked = std::move(revoked)](SequenceResult r) mutable {
        if (r.status.ok()) {
          grant.created_offset = r.offset;
          resp->set_key(text);
          ToProto(grant, resp->mutable_info());
          resp->set_offset(r.offset);
          resp->set_consistency_token(core_->Token(r.offset));
          if constexpr (std::is_same_v<Response, v1::RotateKeyResponse>) {
            resp->set_revoked_key_id(revoked);
          }
          LOG(INFO) << "API key " << grant.id << " (" << auth::ScopesText(grant.scopes)
                    << (grant.tenant.empty() ? " on the cluster" : " on tenant " + grant.tenant)
                    << ") created at offset " << r.offset
                    << (revoked.empty() ? "" : ", replacing " + revoked);
        }
        reactor->Finish(ToGrpcStatus(r.status));
      },
      std::move(key_id));
}

grpc::ServerUnaryReactor* LogService::CreateKey(grpc::CallbackServerContext* ctx,
                                                const v1::CreateKeyRequest* req,
                                                v1::CreateKeyResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->CreateKey(c, req, resp, std::move(done));
      })) {
    return r;
  }
  absl::StatusOr<auth::Caller> caller = guard_.Admit(*ctx, *req);
  if (!caller.ok()) return server::FinishNow(ctx, caller.status());
  if (absl::Status s = ValidateKeyTenant(req->tenant()); !s.ok()) return server::FinishNow(ctx, s);
  std::vector<std::string> names(req->scopes().begin(), req->scopes().end());
  absl::StatusOr<uint32_t> scopes = auth::ParseScopes(names);
  if (!scopes.ok()) return server::FinishNow(ctx, scopes.status());
  if (req->name().size() > 128) {
    return server::FinishNow(
        ctx, absl::InvalidArgumentError(absl::StrCat("name: at most 128 bytes (got ",
                                                     req->name().size(), ")")));
  }
  absl::StatusOr<auth::NewKey> key = auth::GenerateKey(req->tenant(), *scopes, req->name());
  if (!key.ok()) return server::FinishNow(ctx, key.status());
  if (absl::Status s = auth::ValidateGrant(key->grant); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  CreateKeys(reactor, KeyChange{.tenant = req->tenant(), .revoke = {}, .create = {key->grant}},
             std::move(key->text), caller->key_id, resp);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::RotateKey(grpc::CallbackServerContext* ctx,
                                                const v1::RotateKeyRequest* req,
                                                v1::RotateKeyResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->RotateKey(c, req, resp, std::move(done));
      })) {
    return r;
  }
  absl::StatusOr<auth::Caller> caller = guard_.Admit(*ctx, *req);
  if (!caller.ok()) return server::FinishNow(ctx, caller.status());
  if (absl::Status s = ValidateKeyTenant(req->tenant()); !s.ok()) return server::FinishNow(ctx, s);
  if (absl::Status s = ValidateKeyId(req->key_id()); !s.ok()) return server::FinishNow(ctx, s);
  std::shared_ptr<const KeyMap> keys = core_->sequencer()->keys();
  auto it = keys->find(req->key_id());
  if (it == keys->end() || it->second.tenant != req->tenant()) {
    return server::FinishNow(ctx, KeyNotFound(req->tenant(), req->key_id()));
  }
  absl::StatusOr<auth::NewKey> key =
      auth::GenerateKey(it->second.tenant, it->second.scopes, it->second.name);
  if (!key.ok()) return server::FinishNow(ctx, key.status());
  auto* reactor = ctx->DefaultReactor();
  CreateKeys(reactor,
             KeyChange{.tenant = req->tenant(), .revoke = {req->key_id()}, .create = {key->grant}},
             std::move(key->text), caller->key_id, resp);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::RevokeKey(grpc::CallbackServerContext* ctx,
                                                const v1::RevokeKeyRequest* req,
                                                v1::RevokeKeyResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->RevokeKey(c, req, resp, std::move(done));
      })) {
    return r;
  }
  absl::StatusOr<auth::Caller> caller = guard_.Admit(*ctx, *req);
  if (!caller.ok()) return server::FinishNow(ctx, caller.status());
  if (absl::Status s = ValidateKeyTenant(req->tenant()); !s.ok()) return server::FinishNow(ctx, s);
  if (absl::Status s = ValidateKeyId(req->key_id()); !s.ok()) return server::FinishNow(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  core_->sequencer()->UpdateKeys(
      KeyChange{.tenant = req->tenant(), .revoke = {req->key_id()}, .create = {}},
      [this, reactor, resp, id = req->key_id()](SequenceResult r) {
        if (r.status.ok()) {
          resp->set_offset(r.offset);
          resp->set_consistency_token(core_->Token(r.offset));
          LOG(INFO) << "API key " << id << " revoked at offset " << r.offset;
        }
        reactor->Finish(ToGrpcStatus(r.status));
      },
      caller->key_id);
  return reactor;
}

grpc::ServerUnaryReactor* LogService::ListKeys(grpc::CallbackServerContext* ctx,
                                               const v1::ListKeysRequest* req,
                                               v1::ListKeysResponse* resp) {
  if (grpc::ServerUnaryReactor* r; Forwarded(ctx, &r, [&](auto* leader, auto* c, auto done) {
        leader->ListKeys(c, req, resp, std::move(done));
      })) {
    return r;
  }
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
  if (absl::Status s = ValidateKeyTenant(req->tenant()); !s.ok()) return server::FinishNow(ctx, s);
  for (const auto& [id, grant] : *core_->sequencer()->keys()) {
    if (req->tenant().empty() || grant.tenant == req->tenant()) ToProto(grant, resp->add_keys());
  }
  return server::FinishNow(ctx, absl::OkStatus());
}

}  // namespace arbiter::log
