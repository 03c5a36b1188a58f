#ifndef ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_
#define ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_

#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/auth/access.h"
#include "services/writer/host_monitor.h"

namespace arbiter::writer {

// The writer's admin RPC edge: thin handlers over the HostMonitor (each does
// a bounded amount of SQLite work inline). Every call needs an operator key,
// checked against this host's replica (HostMonitor::FindKey), unless
// `access` turns authentication off. Thread-safe.
class WriterAdminService final : public v1::WriterAdminService::CallbackService {
 public:
  WriterAdminService(HostMonitor* monitor, auth::AccessOptions access)
      : monitor_(monitor),
        guard_([monitor](const std::string& id) { return monitor->FindKey(id); }, access) {}

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
  HostMonitor* const monitor_;
  const auth::Guard guard_;
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_
