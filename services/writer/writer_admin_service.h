#ifndef ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_
#define ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_

#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "services/writer/host_monitor.h"

namespace arbiter::writer {

// The writer's admin RPC edge: thin handlers over the HostMonitor (each does
// a bounded amount of SQLite work inline). Thread-safe.
class WriterAdminService final : public v1::WriterAdminService::CallbackService {
 public:
  explicit WriterAdminService(HostMonitor* monitor) : monitor_(monitor) {}

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* req,
                                      v1::GetStatusResponse* resp) override;
  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* ctx,
                                  const v1::DrainRequest* req,
                                  v1::DrainResponse* resp) override;
  grpc::ServerUnaryReactor* Undrain(grpc::CallbackServerContext* ctx,
                                    const v1::UndrainRequest* req,
                                    v1::UndrainResponse* resp) override;

 private:
  HostMonitor* monitor_;
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_
