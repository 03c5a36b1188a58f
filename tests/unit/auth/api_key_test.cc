#include "common/auth/api_key.h"

#include <sys/stat.h>

#include <fstream>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "tests/testing/process.h"

namespace arbiter::auth {
namespace {

TEST_CASE("generated keys have the documented form, distinct ids and secrets", "[unit][auth]") {
  std::set<std::string> ids, texts;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<NewKey> k = GenerateKey("acme", kRead | kWrite, "svc");
    REQUIRE(k.ok());
    REQUIRE(k->text.size() == 4 + 16 + 1 + 64);
    CHECK(k->text.rfind("arb_", 0) == 0);
    absl::StatusOr<std::string> id = ParseKeyId(k->text);
    REQUIRE(id.ok());
    CHECK(*id == k->grant.id);
    CHECK(k->grant.sha256 == HashKey(k->text));
    CHECK(k->grant.sha256.size() == 64);
    CHECK(k->text.find(k->grant.sha256) == std::string::npos);
    CHECK(Matches(k->grant, k->text));
    ids.insert(k->grant.id);
    texts.insert(k->text);
  }
  CHECK(ids.size() == 100);
  CHECK(texts.size() == 100);
  absl::StatusOr<NewKey> unnamed = GenerateKey("", kOperator, "");
  REQUIRE(unnamed.ok());
  CHECK(unnamed->grant.name == unnamed->grant.id);
}

TEST_CASE("a key's text must match its hash exactly", "[unit][auth]") {
  absl::StatusOr<NewKey> k = GenerateKey("acme", kRead, "svc");
  REQUIRE(k.ok());
  std::string other = k->text;
  other.back() = other.back() == '0' ? '1' : '0';
  CHECK_FALSE(Matches(k->grant, other));
  CHECK_FALSE(Matches(k->grant, ""));
  KeyGrant no_hash = k->grant;
  no_hash.sha256.clear();
  CHECK_FALSE(Matches(no_hash, k->text));
}

TEST_CASE("malformed key texts are UNAUTHENTICATED without echoing them", "[unit][auth]") {
  const std::string good = "arb_0123456789abcdef_" + std::string(64, 'a');
  REQUIRE(ParseKeyId(good).ok());
  for (const std::string& bad :
       {std::string(""), std::string("arb_"), good + "a", good.substr(1), "xrb" + good.substr(3),
        "arb_0123456789ABCDEF_" + std::string(64, 'a'), "arb_0123456789abcdef-" + std::string(64, 'a'),
        "arb_0123456789abcdef_" + std::string(63, 'a') + "g"}) {
    absl::StatusOr<std::string> id = ParseKeyId(bad);
    INFO(bad);
    CHECK(id.status().code() == absl::StatusCode::kUnauthenticated);
    if (bad.size() > 8) CHECK(std::string(id.status().message()).find(bad) == std::string::npos);
  }
}

TEST_CASE("scopes parse, print and must fit the key's owner", "[unit][auth]") {
  absl::StatusOr<uint32_t> s = ParseScopesText("write,read,read");
  REQUIRE(s.ok());
  CHECK(*s == (kRead | kWrite));
  CHECK(ScopesText(*s) == "read,write");
  CHECK(ParseScopesText("").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(ParseScopesText("read,root").status().message()),
             Catch::Contains("unknown scope \"root\""));
  KeyGrant g{.id = "0123456789abcdef", .sha256 = std::string(64, 'a'), .tenant = "acme",
             .scopes = kRead | kOperator, .name = "x"};
  CHECK_THAT(std::string(ValidateGrant(g).message()), Catch::Contains("not operator"));
  g.scopes = kRead | kAdmin;
  CHECK(ValidateGrant(g).ok());
  g.tenant = "";
  CHECK_THAT(std::string(ValidateGrant(g).message()),
             Catch::Contains("a cluster key (no tenant) may hold only operator,replicate"));
  g.scopes = kReplicate;
  CHECK(ValidateGrant(g).ok());
  g.name = std::string(129, 'n');
  CHECK_THAT(std::string(ValidateGrant(g).message()), Catch::Contains("name: 1..128 bytes"));
}

TEST_CASE("key files: written 0600 once, read back, refused when they hold no key",
          "[unit][auth]") {
  testing::TempDir dir;
  const std::string path = dir.File("k");
  CHECK(ReadKeyFile(path).status().code() == absl::StatusCode::kNotFound);
  const std::string key = "arb_0123456789abcdef_" + std::string(64, 'b');
  REQUIRE(WriteKeyFile(path, key).ok());
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  absl::StatusOr<std::string> read = ReadKeyFile(path);
  REQUIRE(read.ok());
  CHECK(*read == key);
  CHECK(WriteKeyFile(path, key).code() == absl::StatusCode::kAlreadyExists);
  std::ofstream(dir.File("junk")) << "password123\n";
  absl::StatusOr<std::string> junk = ReadKeyFile(dir.File("junk"));
  CHECK(junk.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(junk.status().message()), !Catch::Contains("password123"));
}

}  // namespace
}  // namespace arbiter::auth
