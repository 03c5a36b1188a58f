#ifndef ARBITER_SERVICES_LOG_LOG_SERVICE_H_
#define ARBITER_SERVICES_LOG_LOG_SERVICE_H_

#include "arbiter/v1/log.grpc.pb.h"
#include "services/log/log_core.h"

namespace arbiter::log {

// The RPC edge of arbiter-log (callback API): converts requests for
// LogCore and its errors with ToGrpcStatus. No handler blocks: writes finish
// their reactor from the sequencer thread once durable; streams are driven
// by the subscription hub or by write completions. Thread-safe.
class LogService final : public v1::LogService::CallbackService {
 public:
  explicit LogService(LogCore* core) : core_(core) {}

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

 private:
  LogCore* const core_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_LOG_SERVICE_H_
