#ifndef ARBITER_SERVICES_READER_PAGE_TOKEN_H_
#define ARBITER_SERVICES_READER_PAGE_TOKEN_H_

// List / Query / GetFacts page tokens (DESIGN.md §8.7): {query hash, minimum
// offset, last key}. Opaque to clients: "p1:<hash>:<offset>:<last>",
// base64url without padding.
//   * the query hash binds a token to its query (tenant, question, context
//     facts — not the page size or consistency): a token from another query
//     is INVALID_ARGUMENT;
//   * the minimum offset is the offset the first page was evaluated at:
//     later pages wait for it, so they never read older data;
//   * the last key is where the next page starts (exclusive): a resource id
//     for List, a serialized arbiter.v1.Fact for Query and GetFacts.
//
// Thread-safe: pure functions.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace arbiter::reader {

struct PageToken {
  std::string query_hash;
  int64_t min_offset = 0;
  std::string last;
};

std::string EncodePageToken(const PageToken& token);

// INVALID_ARGUMENT "page_token: malformed" when it does not decode, and
// "page_token: belongs to another query" when its hash is not
// `expected_hash`.
absl::StatusOr<PageToken> DecodePageToken(absl::string_view token,
                                          absl::string_view expected_hash);

// The hash of a request with its paging and consistency fields cleared by
// the caller: 32 hex digits of SHA-256 over the deterministic serialization.
std::string QueryHash(const google::protobuf::Message& request);

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_PAGE_TOKEN_H_
