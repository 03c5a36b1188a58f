// common/base's crc32c and sha256 (tested here: tests/unit/base does not
// exist and belongs to the foundation).
#include <catch2/catch.hpp>
#include <string>

#include "common/base/crc32c.h"
#include "common/base/sha256.h"

namespace arbiter {
namespace {

TEST_CASE("crc32c matches RFC 3720 B.4 vectors", "[unit][crc32c]") {
  CHECK(Crc32c("123456789") == 0xE3069283u);
  CHECK(Crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(Crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string inc, dec;
  for (int i = 0; i < 32; ++i) {
    inc.push_back(static_cast<char>(i));
    dec.push_back(static_cast<char>(31 - i));
  }
  CHECK(Crc32c(inc) == 0x46DD794Eu);
  CHECK(Crc32c(dec) == 0x113FDB5Cu);
  // iSCSI read command PDU (RFC 3720 B.4).
  const unsigned char pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(Crc32c(std::string(reinterpret_cast<const char*>(pdu), 48)) == 0xD9963A56u);
  CHECK(Crc32c("") == 0u);
}

TEST_CASE("crc32c: the hardware and table paths agree", "[unit][crc32c]") {
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 4099; ++i) {
    x = x * 1103515245u + 12345u;
    data.push_back(static_cast<char>(x >> 24));
  }
  for (size_t len : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4099}) {
    for (size_t start : {0, 1, 3}) {
      if (start + len > data.size()) continue;
      CHECK(Crc32cExtend(7, data.data() + start, len) ==
            internal::Crc32cExtendSoftware(7, data.data() + start, len));
    }
  }
}

TEST_CASE("crc32c extends across arbitrary splits", "[unit][crc32c]") {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  uint32_t whole = Crc32c(data);
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    uint32_t c = Crc32c(data.substr(0, split));
    c = Crc32cExtend(c, data.data() + split, data.size() - split);
    CHECK(c == whole);
  }
}

TEST_CASE("sha256 known answers", "[unit][sha256]") {
  CHECK(Sha256Hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  CHECK(h.HexDigest() == Sha256Hex("abc"));
  CHECK(Sha256File("/nonexistent/x").status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace arbiter
