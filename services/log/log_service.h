#ifndef ARBITER_SERVICES_LOG_LOG_SERVICE_H_
#define ARBITER_SERVICES_LOG_LOG_SERVICE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "common/auth/client.h"
#include "common/auth/access.h"
#include "services/log/log_core.h"

namespace arbiter::log {

// The RPC edge of arbiter-log (callback API): converts requests for
// LogCore and its errors with ToGrpcStatus. No handler blocks: writes finish
// their reactor from the sequencer thread once durable; streams are driven
// by the subscription hub or by write completions. Thread-safe.
class LogService final : public v1::LogService::CallbackService {
 public:
  // Every call is admitted by auth::Admit against the sequencer's keys as of
  // the durable head (docs/SECURITY.md); a write's key is checked again as
  // of the write's own offset.
  //
  // With several front-ends (LogCore::Route), a call that needs the
  // sequencer (writes, policies, tenants, keys) is forwarded to the leader
  // over a channel with `peer_tls`, carrying the caller's authorization
  // header, deadline and a marker: the leader admits it, and a marked call
  // that reaches a front-end that does not lead is UNAVAILABLE (never
  // forwarded twice). GetHead, Subscribe and snapshots are served here.
  LogService(LogCore* core, auth::AccessOptions access, auth::ClientTls peer_tls = {});

  grpc::ServerUnaryReactor* CreateTenant(grpc::CallbackServerContext* ctx,
                                         const v1::CreateTenantRequest* req,
                                         v1::CreateTenantResponse* resp) override;
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* ctx,
                                  const v1::WriteRequest* req,
                                  v1::WriteResponse* resp) override;
  grpc::ServerUnaryReactor* SetPolicy(grpc::CallbackServerContext* ctx,
                                      const v1::SetPolicyRequest* req,
                                      v1::SetPolicyResponse* resp) override;
  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* ctx,
                                      const v1::GetPolicyRequest* req,
                                      v1::GetPolicyResponse* resp) override;
  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext* ctx,
                                        const v1::ListTenantsRequest* req,
                                        v1::ListTenantsResponse* resp) override;
  grpc::ServerUnaryReactor* GetHead(grpc::CallbackServerContext* ctx,
                                    const v1::GetHeadRequest* req,
                                    v1::GetHeadResponse* resp) override;
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* req) override;
  grpc::ServerUnaryReactor* ListSnapshots(grpc::CallbackServerContext* ctx,
                                          const v1::ListSnapshotsRequest* req,
                                          v1::ListSnapshotsResponse* resp) override;
  grpc::ServerWriteReactor<v1::FetchSnapshotResponse>* FetchSnapshot(
      grpc::CallbackServerContext* ctx, const v1::FetchSnapshotRequest* req) override;
  grpc::ServerUnaryReactor* CreateKey(grpc::CallbackServerContext* ctx,
                                      const v1::CreateKeyRequest* req,
                                      v1::CreateKeyResponse* resp) override;
  grpc::ServerUnaryReactor* RevokeKey(grpc::CallbackServerContext* ctx,
                                      const v1::RevokeKeyRequest* req,
                                      v1::RevokeKeyResponse* resp) override;
  grpc::ServerUnaryReactor* RotateKey(grpc::CallbackServerContext* ctx,
                                      const v1::RotateKeyRequest* req,
                                      v1::RotateKeyResponse* resp) override;
  grpc::ServerUnaryReactor* ListKeys(grpc::CallbackServerContext* ctx,
                                     const v1::ListKeysRequest* req,
                                     v1::ListKeysResponse* resp) override;

 private:
  // Sequences `change` and answers with `resp` (CreateKey, RotateKey).
  template <typename Response>
  void CreateKeys(grpc::ServerUnaryReactor* reactor, KeyChange change, std::string text,
                  std::string key_id, Response* resp);

  // True when the call was forwarded (or refused) instead: then `*out` is
  // the reactor to return. `call(async stub, client context, done)` starts
  // the same method on the leader.
  template <typename Call>
  bool Forwarded(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor** out, Call call);
  v1::LogService::Stub* Peer(const std::string& address) ABSL_LOCKS_EXCLUDED(peers_mu_);

  LogCore* const core_;
  const auth::Guard guard_;
  const auth::ClientTls peer_tls_;
  absl::Mutex peers_mu_;
  std::map<std::string, std::unique_ptr<v1::LogService::Stub>> peers_
      ABSL_GUARDED_BY(peers_mu_);
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_LOG_SERVICE_H_
