#include "services/reader/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace arbiter::reader {
namespace {
constexpr absl::string_view kPrefix = "p1:";
}  // namespace

std::string EncodePageToken(const PageToken& token) {
  std::string out;
  absl::WebSafeBase64Escape(
      absl::StrCat(kPrefix, token.query_hash, ":", token.min_offset, ":",
                   token.last),
      &out);
  return out;
}

absl::StatusOr<PageToken> DecodePageToken(absl::string_view token,
                                          absl::string_view expected_hash) {
  const absl::Status malformed =
      absl::InvalidArgumentError("page_token: malformed");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return malformed;
  absl::string_view s(raw);
  if (!absl::ConsumePrefix(&s, kPrefix)) return malformed;
  size_t c1 = s.find(':');
  if (c1 == absl::string_view::npos) return malformed;
  size_t c2 = s.find(':', c1 + 1);
  if (c2 == absl::string_view::npos) return malformed;
  PageToken out;
  out.query_hash = std::string(s.substr(0, c1));
  if (!absl::SimpleAtoi(s.substr(c1 + 1, c2 - c1 - 1), &out.min_offset) ||
      out.min_offset < 0) {
    return malformed;
  }
  out.last = std::string(s.substr(c2 + 1));
  if (out.query_hash != expected_hash) {
    return absl::InvalidArgumentError("page_token: belongs to another query");
  }
  return out;
}

std::string QueryHash(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&cos);
  }
  return Sha256Hex(absl::StrCat(request.GetTypeName(), "\n", bytes))
      .substr(0, 32);
}

}  // namespace arbiter::reader
