#ifndef ARBITER_PROTO_ARBITER_V1_REQUEST_TRAITS_H_
#define ARBITER_PROTO_ARBITER_V1_REQUEST_TRAITS_H_

// How gRPC parses the requests of Arbiter's services. Every generated
// *.grpc.pb.h includes this header (grpc_cpp_plugin's
// additional_header_includes, proto/CMakeLists.txt), so the specializations
// below are the only ones any service or client sees.
//
// Why: a request that does not parse (most often a proto3 string field that
// holds invalid UTF-8) makes gRPC's callback handler answer UNIMPLEMENTED
// with an empty message, whatever the parser said. Instead, a failed parse
// "succeeds" with an empty request that carries the reason in an unknown
// field, and the service's validation answers INVALID_ARGUMENT with it
// (ParseFailure; api::CheckParsed):
//
//   request does not parse: field operations[2].insert.args[0].id (arbiter.v1.Value.id)
//   is not valid UTF-8 (byte 3 of 9); proto3 string fields must be UTF-8
//
// Serialization is protobuf's, unchanged.

#include <string>

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "arbiter/v1/log.pb.h"
#include "arbiter/v1/reader.pb.h"
#include "arbiter/v1/writer_admin.pb.h"

namespace arbiter::v1 {

// Why `request` did not parse; empty when it parsed.
std::string ParseFailure(const google::protobuf::Message& request);

namespace internal {
// Parses `buffer` into `msg`; on failure clears `msg`, records the reason
// for ParseFailure and still returns OK.
grpc::Status ParseRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* msg);
}  // namespace internal

}  // namespace arbiter::v1

#define ARBITER_REQUEST_TRAITS(T)                                                      \
  template <>                                                                          \
  class grpc::SerializationTraits<T, void> {                                           \
   public:                                                                             \
    static grpc::Status Serialize(const T& msg, grpc::ByteBuffer* bb, bool* own) {     \
      return grpc::GenericSerialize<grpc::ProtoBufferWriter, T>(msg, bb, own);         \
    }                                                                                  \
    static grpc::Status Deserialize(grpc::ByteBuffer* buffer, T* msg) {                \
      return arbiter::v1::internal::ParseRequest(buffer, msg);                         \
    }                                                                                  \
  }

ARBITER_REQUEST_TRAITS(arbiter::v1::CreateTenantRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::WriteRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::SetPolicyRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::GetPolicyRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::ListTenantsRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::GetHeadRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::SubscribeRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::ListSnapshotsRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::FetchSnapshotRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::AuthorizeRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::AuthorizeResourcesRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::ListRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::ActionsRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::QueryRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::GetFactsRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::ExplainRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::WatchRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::GetStatusRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::DrainRequest);
ARBITER_REQUEST_TRAITS(arbiter::v1::UndrainRequest);

#undef ARBITER_REQUEST_TRAITS

#endif  // ARBITER_PROTO_ARBITER_V1_REQUEST_TRAITS_H_
