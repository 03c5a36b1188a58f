#ifndef ARBITER_SERVICES_LOG_LOG_SERVICE_H_
#define ARBITER_SERVICES_LOG_LOG_SERVICE_H_

#include "arbiter/v1/log.grpc.pb.h"

namespace arbiter::log {

// The RPC edge of arbiter-log. Every method still answers UNIMPLEMENTED: the
// log's store, sequencer and streaming arrive with the arbiter-log issue.
// Thread-safe.
class LogService final : public v1::LogService::CallbackService {};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_LOG_SERVICE_H_
