// The CLI without a server: dispatch, help, usage errors, option resolution
// and `policy test` (which runs locally).

#include "services/cli/cli.h"

#include <fstream>
#include <map>
#include <sstream>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/cli/context.h"

namespace arbiter::cli {
namespace {

struct Result {
  int code;
  std::string out, err;
};

Result Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "arbiter");
  std::ostringstream out, err;
  int code = RunCli(args, out, err, [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  return {code, out.str(), err.str()};
}

std::string Policy(const std::string& name) {
  return std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/" + name;
}

TEST_CASE("help: overall, per command, per subcommand", "[unit][cli]") {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"}, {"help"}, {"-h"}}) {
    Result r = Run(args);
    CHECK(r.code == kExitOk);
    CHECK(absl::StrContains(r.out, "policy push"));
    CHECK(absl::StrContains(r.out, "Exit codes"));
  }
  for (const Command& c : Commands()) {
    std::vector<std::string> args = absl::StrSplit(c.name, ' ');
    args.push_back("--help");
    Result r = Run(args);
    INFO(c.name);
    CHECK(r.code == kExitOk);
    CHECK(absl::StartsWith(r.out, "usage: arbiter " + c.name));
    CHECK(absl::StrContains(r.out, "Example"));
  }
  CHECK(absl::StartsWith(Run({"help", "policy", "push"}).out, "usage: arbiter policy push"));
}

TEST_CASE("usage errors exit 2 with the command's help", "[unit][cli]") {
  Result none = Run({});
  CHECK(none.code == kExitError);
  CHECK(absl::StrContains(none.err, "usage: arbiter <command>"));

  Result unknown = Run({"frobnicate"});
  CHECK(unknown.code == kExitError);
  CHECK(absl::StrContains(unknown.err, "unknown command \"frobnicate\""));

  Result group = Run({"policy"});
  CHECK(group.code == kExitError);
  CHECK(absl::StrContains(group.err, "subcommand of \"policy\""));

  Result few = Run({"authorize", "User:alice", "read"});
  CHECK(few.code == kExitError);
  CHECK(absl::StrContains(few.err, "expected 3 arguments, got 2"));
  CHECK(absl::StrContains(few.err, "usage: arbiter authorize ACTOR ACTION RESOURCE"));

  Result flag = Run({"tell", "p", "x", "--bogus"});
  CHECK(flag.code == kExitError);
  CHECK(absl::StrContains(flag.err, "unknown flag --bogus"));

  Result value = Run({"tell", "p", "Integer:x"});
  CHECK(value.code == kExitError);
  CHECK(absl::StrContains(value.err, "argument 1.id"));

  Result both = Run({"authorize", "User:a", "read", "R:x", "--at_least=t", "--fully_consistent"});
  CHECK(both.code == kExitError);
  CHECK(absl::StrContains(both.err, "exclusive"));

  Result timeout = Run({"tenants", "--timeout=soon"});
  CHECK(timeout.code == kExitError);
  CHECK(absl::StrContains(timeout.err, "--timeout"));
}

TEST_CASE("options: flags over environment over defaults", "[unit][cli]") {
  std::vector<std::string> args;
  auto parsed = ParseArgs(args, {});
  REQUIRE(parsed.ok());
  auto d = ResolveOptions(*parsed, [](const char*) -> const char* { return nullptr; });
  REQUIRE(d.ok());
  CHECK(d->tenant == "default");
  CHECK(d->log_address == "127.0.0.1:50051");
  CHECK(d->writer_address == "127.0.0.1:50052");
  CHECK(d->reader_address == "127.0.0.1:50053");
  CHECK(d->timeout == absl::Seconds(10));

  std::map<std::string, std::string> env = {{"ARBITER_TENANT", "acme"},
                                            {"ARBITER_READER_ADDRESS", "h:1"}};
  auto getenv = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto e = ResolveOptions(*parsed, getenv);
  CHECK(e->tenant == "acme");
  CHECK(e->reader_address == "h:1");

  std::vector<FlagSpec> specs = {{.name = "tenant"}, {.name = "reader"}, {.name = "timeout"}};
  std::vector<std::string> flags = {"--tenant=t2", "--reader=h:2", "--timeout=250ms"};
  auto f = ResolveOptions(*ParseArgs(flags, specs), getenv);
  CHECK(f->tenant == "t2");
  CHECK(f->reader_address == "h:2");
  CHECK(f->timeout == absl::Milliseconds(250));

  // TLS files from the environment; a certificate without its key is refused.
  env = {{"ARBITER_TLS_CA", "ca.pem"}, {"ARBITER_TLS_CERT", "c.pem"}, {"ARBITER_TLS_KEY", "c.key"}};
  auto t = ResolveOptions(*parsed, getenv);
  REQUIRE(t.ok());
  CHECK(t->tls.ca == "ca.pem");
  CHECK(t->tls.cert == "c.pem");
  CHECK(t->tls.key == "c.key");
  env.erase("ARBITER_TLS_KEY");
  auto half = ResolveOptions(*parsed, getenv);
  REQUIRE(!half.ok());
  CHECK(absl::StrContains(half.status().message(), "$ARBITER_TLS_KEY"));
}

TEST_CASE("policy test: 0 all pass, 1 failing assertion, 2 parse error", "[unit][cli]") {
  Result ok = Run({"policy", "test", Policy("github.polar")});
  INFO(ok.out << ok.err);
  CHECK(ok.code == kExitOk);
  CHECK(absl::StrContains(ok.out, "PASS maintainers of the org can push"));
  CHECK(absl::StrContains(ok.out, "github.polar: 7 of 7 tests passed"));

  std::string dir = std::string(ARBITER_BINARY_DIR) + "/tests/unit/cli";
  std::string failing = dir + "/failing.polar";
  std::ofstream(failing) << "actor User {}\n"
                            "resource Repo {\n"
                            "  roles = [\"reader\"];\n"
                            "  permissions = [\"read\"];\n"
                            "  \"read\" if \"reader\";\n"
                            "}\n"
                            "test \"readers write\" {\n"
                            "  setup { has_role(User{\"a\"}, \"reader\", Repo{\"r\"}); }\n"
                            "  assert allow(User{\"a\"}, \"read\", Repo{\"r\"});\n"
                            "  assert allow(User{\"a\"}, \"write\", Repo{\"r\"});\n"
                            "}\n";
  Result fail = Run({"policy", "test", failing});
  INFO(fail.out << fail.err);
  CHECK(fail.code == kExitFalse);
  CHECK(absl::StrContains(fail.out, "FAIL readers write"));
  CHECK(absl::StrContains(fail.out, failing + ":10:"));

  std::string broken = dir + "/broken.polar";
  std::ofstream(broken) << "actor User {}\nresource Repo {\n  roles = [\"reader\"\n}\n";
  Result parse = Run({"policy", "test", broken});
  CHECK(parse.code == kExitError);
  CHECK(absl::StartsWith(parse.err, broken + ":"));

  CHECK(Run({"policy", "test", dir + "/missing.polar"}).code == kExitError);
  // The worst result wins across files.
  CHECK(Run({"policy", "test", Policy("github.polar"), failing}).code == kExitFalse);
}

TEST_CASE("policy test --json: one object per file, failures with line and column",
          "[unit][cli]") {
  std::string dir = std::string(ARBITER_BINARY_DIR) + "/tests/unit/cli";
  std::string failing = dir + "/failing_json.polar";
  std::ofstream(failing) << "actor User {}\n"
                            "resource Repo {\n"
                            "  roles = [\"reader\"];\n"
                            "  permissions = [\"read\"];\n"
                            "  \"read\" if \"reader\";\n"
                            "}\n"
                            "test \"readers \\\"write\\\"\" {\n"
                            "  setup { has_role(User{\"a\"}, \"reader\", Repo{\"r\"}); }\n"
                            "  assert allow(User{\"a\"}, \"read\", Repo{\"r\"});\n"
                            "  assert allow(User{\"a\"}, \"write\", Repo{\"r\"});\n"
                            "}\n";
  std::string broken = dir + "/broken_json.polar";
  std::ofstream(broken) << "actor User {}\nresource Repo {\n  roles = [\"reader\"\n}\n";
  Result r = Run({"policy", "test", Policy("github.polar"), failing, broken, "--json"});
  INFO(r.out << r.err);
  CHECK(r.code == kExitError);  // the worst of the three
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 3);
  google::protobuf::Struct github, fail, parse;
  REQUIRE(google::protobuf::util::JsonStringToMessage(lines[0], &github).ok());
  REQUIRE(google::protobuf::util::JsonStringToMessage(lines[1], &fail).ok());
  REQUIRE(google::protobuf::util::JsonStringToMessage(lines[2], &parse).ok());
  CHECK(github.fields().at("passed").number_value() == 7);
  CHECK(github.fields().at("total").number_value() == 7);
  const auto& test = fail.fields().at("tests").list_value().values(0).struct_value().fields();
  CHECK(test.at("name").string_value() == "readers \"write\"");  // escaped in JSON
  CHECK(test.at("line").number_value() == 7);
  CHECK_FALSE(test.at("passed").bool_value());
  CHECK(test.at("assertions").number_value() == 2);
  const auto& failure =
      test.at("failures").list_value().values(0).struct_value().fields();
  CHECK(failure.at("line").number_value() == 10);
  CHECK(absl::StrContains(failure.at("assertion").string_value(), "\"write\""));
  const auto& error = parse.fields().at("errors").list_value().values(0).struct_value().fields();
  CHECK(parse.fields().at("file").string_value() == broken);
  CHECK(error.at("line").number_value() >= 3);
  CHECK(error.at("column").number_value() >= 1);
  CHECK(!error.at("message").string_value().empty());
}

}  // namespace
}  // namespace arbiter::cli
