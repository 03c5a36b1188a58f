#include "services/reader/page_token.h"

#include <catch2/catch.hpp>

#include "arbiter/v1/reader.pb.h"

namespace arbiter::reader {
namespace {

TEST_CASE("page tokens round-trip, including binary last keys", "[unit][reader]") {
  PageToken t{"0123456789abcdef0123456789abcdef", 42,
              std::string("a:b\0c\n", 6)};
  std::string enc = EncodePageToken(t);
  auto d = DecodePageToken(enc, t.query_hash);
  REQUIRE(d.ok());
  CHECK(d->query_hash == t.query_hash);
  CHECK(d->min_offset == 42);
  CHECK(d->last == t.last);
}

TEST_CASE("a page token from another query is INVALID_ARGUMENT", "[unit][reader]") {
  v1::ListRequest a;
  a.set_tenant("acme");
  a.set_action("read");
  a.set_resource_type("Repository");
  v1::ListRequest b = a;
  b.set_action("push");
  const std::string ha = QueryHash(a), hb = QueryHash(b);
  CHECK(ha != hb);
  CHECK(ha.size() == 32);
  std::string tok = EncodePageToken({ha, 7, "x"});
  auto d = DecodePageToken(tok, hb);
  CHECK(absl::IsInvalidArgument(d.status()));
  CHECK(d.status().message() == "page_token: belongs to another query");
  // Same query, different page size: same hash (the caller clears paging).
  v1::ListRequest c = a;
  c.set_page_size(5);
  c.clear_page_size();
  CHECK(QueryHash(c) == ha);
}

TEST_CASE("malformed page tokens are INVALID_ARGUMENT", "[unit][reader]") {
  for (const char* bad : {"", "!!!", "cDE6", "eHl6", "cDE6YWJjOm5vdGFudW1iZXI6eA"}) {
    auto d = DecodePageToken(bad, "abc");
    CHECK(absl::IsInvalidArgument(d.status()));
  }
}

}  // namespace
}  // namespace arbiter::reader
