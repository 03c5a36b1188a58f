#ifndef ARBITER_SERVICES_READER_READ_REQUESTS_H_
#define ARBITER_SERVICES_READER_READ_REQUESTS_H_

// The reader's seven questions without the RPC machinery: validation of each
// request (Validate) and its evaluation against one tenant snapshot
// (Execute). ReaderService wires them to gRPC, consistency and freshness.
//
// Validate: INVALID_ARGUMENT naming the field ("actor.type: required",
// "context_facts[2].args[0].id: ...", "page_token: belongs to another
// query", "consistency.at_least: malformed consistency token"); a field over
// a documented size limit is RESOURCE_EXHAUSTED (common/api's convention).
//
// Execute: evaluates inside one immutable snapshot (one offset), passes the
// engine's RESOURCE_EXHAUSTED / INVALID_ARGUMENT through; FAILED_PRECONDITION
// when the tenant has no (usable) policy. Fills everything but `evaluation`.
// Query results: a position whose binding is unconstrained (a rule holds for
// any value there, or the argument is "_") is an empty Value {"", ""}, the
// FactPattern wildcard.
//
// Thread-safe: pure functions of their arguments.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arbiter/v1/reader.pb.h"
#include "arbiter/v1/types.pb.h"
#include "common/base/value.h"
#include "services/reader/page_token.h"
#include "services/reader/replica_view.h"

namespace arbiter::reader {

inline constexpr int kMaxContextFacts = 1000;
inline constexpr int kMaxResources = 1000;
inline constexpr size_t kMaxActionBytes = 1024;
inline constexpr uint32_t kMaxPageSize = 10000;
inline constexpr uint32_t kDefaultPageSize = 1000;
// A page also ends before its facts or ids pass this many bytes (at least
// one is always sent), so a response stays under gRPC's default 4 MiB
// receive limit whatever the page size; the page token continues after it.
inline constexpr size_t kMaxPageBytes = size_t{1} << 20;

// What validation extracts from a request.
struct RequestPlan {
  std::string tenant;
  std::vector<Fact> context;
  // Consistency.at_least, decoded.
  std::optional<v1::ConsistencyTokenPayload> at_least;
  bool fully_consistent = false;
  // Paged requests (List, Query, GetFacts).
  std::string query_hash;
  std::optional<PageToken> page;  // set for a later page
  uint32_t page_size = kDefaultPageSize;
  // The RPC's deadline and cancellation, which stop a long evaluation
  // (eval::QueryOptions). Set by the service, not by Validate.
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;
};

absl::StatusOr<RequestPlan> Validate(const v1::AuthorizeRequest& r);
absl::StatusOr<RequestPlan> Validate(const v1::AuthorizeResourcesRequest& r);
absl::StatusOr<RequestPlan> Validate(const v1::ListRequest& r);
absl::StatusOr<RequestPlan> Validate(const v1::ActionsRequest& r);
absl::StatusOr<RequestPlan> Validate(const v1::QueryRequest& r);
absl::StatusOr<RequestPlan> Validate(const v1::GetFactsRequest& r);
absl::StatusOr<RequestPlan> Validate(const v1::ExplainRequest& r);

// Where one request is evaluated.
struct ExecContext {
  const ReplicaView& view;
  const TenantSnapshot& tenant;
  const RequestPlan& plan;
  // The offset the answer reports (the tenant's complete offset in `view`).
  int64_t offset = 0;
};

absl::Status Execute(const ExecContext& c, const v1::AuthorizeRequest& r,
                     v1::AuthorizeResponse* out);
absl::Status Execute(const ExecContext& c, const v1::AuthorizeResourcesRequest& r,
                     v1::AuthorizeResourcesResponse* out);
absl::Status Execute(const ExecContext& c, const v1::ListRequest& r,
                     v1::ListResponse* out);
absl::Status Execute(const ExecContext& c, const v1::ActionsRequest& r,
                     v1::ActionsResponse* out);
absl::Status Execute(const ExecContext& c, const v1::QueryRequest& r,
                     v1::QueryResponse* out);
absl::Status Execute(const ExecContext& c, const v1::GetFactsRequest& r,
                     v1::GetFactsResponse* out);
absl::Status Execute(const ExecContext& c, const v1::ExplainRequest& r,
                     v1::ExplainResponse* out);

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_READ_REQUESTS_H_
