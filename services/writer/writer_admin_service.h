#ifndef ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_
#define ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_

#include "arbiter/v1/writer_admin.grpc.pb.h"

namespace arbiter::writer {

// The writer's admin RPC edge. Every method still answers UNIMPLEMENTED: the
// replication loop and control.db arrive with the arbiter-writer issue.
// Thread-safe.
class WriterAdminService final
    : public v1::WriterAdminService::CallbackService {};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_WRITER_ADMIN_SERVICE_H_
