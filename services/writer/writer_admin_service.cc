#include "services/writer/writer_admin_service.h"

#include "common/server/grpc_status.h"

namespace arbiter::writer {

using server::ToGrpcStatus;

grpc::ServerUnaryReactor* WriterAdminService::GetStatus(grpc::CallbackServerContext* ctx,
                                                        const v1::GetStatusRequest* req,
                                                        v1::GetStatusResponse* resp) {
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
  auto* reactor = ctx->DefaultReactor();
  auto status = monitor_->Status();
  if (status.ok()) *resp = std::move(*status);
  reactor->Finish(ToGrpcStatus(status.status()));
  return reactor;
}

grpc::ServerUnaryReactor* WriterAdminService::Drain(grpc::CallbackServerContext* ctx,
                                                    const v1::DrainRequest* req,
                                                    v1::DrainResponse* resp) {
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
  auto* reactor = ctx->DefaultReactor();
  auto state = monitor_->Drain();
  if (state.ok()) resp->set_drain_state(*state);
  reactor->Finish(ToGrpcStatus(state.status()));
  return reactor;
}

grpc::ServerUnaryReactor* WriterAdminService::Undrain(grpc::CallbackServerContext* ctx,
                                                      const v1::UndrainRequest* req,
                                                      v1::UndrainResponse* resp) {
  if (absl::StatusOr<auth::Caller> c = guard_.Admit(*ctx, *req); !c.ok()) {
    return server::FinishNow(ctx, c.status());
  }
  auto* reactor = ctx->DefaultReactor();
  auto state = monitor_->Undrain();
  if (state.ok()) resp->set_drain_state(*state);
  reactor->Finish(ToGrpcStatus(state.status()));
  return reactor;
}

}  // namespace arbiter::writer
