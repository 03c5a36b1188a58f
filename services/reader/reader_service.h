#ifndef ARBITER_SERVICES_READER_READER_SERVICE_H_
#define ARBITER_SERVICES_READER_READER_SERVICE_H_

#include "arbiter/v1/reader.grpc.pb.h"

namespace arbiter::reader {

// The reader's RPC edge. Every method still answers UNIMPLEMENTED: answering
// from the replica arrives with the arbiter-reader issue. Thread-safe.
class ReaderService final : public v1::ReaderService::CallbackService {};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_READER_SERVICE_H_
