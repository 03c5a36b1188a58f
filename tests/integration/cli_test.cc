// The `arbiter` CLI against real processes (tests/testing/cluster.h): the CLI
// binary is run as a subprocess, its exit code, stdout and stderr checked.
// Read-your-writes through --print_token / --at_least, exit codes (0 allowed,
// 1 denied or failing assertion, 2 usage / parse / server error), policy push
// errors as file:line:col, policy test, every read command's text and --json.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "arbiter/v1/log.pb.h"
#include "arbiter/v1/reader.pb.h"
#include "arbiter/v1/writer_admin.pb.h"
#include "tests/testing/cluster.h"
#include "tests/testing/keys.h"

extern char** environ;

namespace arbiter::testing {
namespace {

struct CliResult {
  int code = -1;
  std::string out, err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Cluster does not expose the writer's port: it is in the newest
// writer.port.N file of the cluster's directory.
class Cli {
 public:
  explicit Cli(Cluster& c)
      : log_(absl::StrCat("127.0.0.1:", c.log_port())),
        reader_(absl::StrCat("127.0.0.1:", c.reader_port(0))),
        writer_(absl::StrCat("127.0.0.1:", c.writer_port())) {}

  // Runs `arbiter args... --log=.. --reader=.. --writer=.. --tenant=t` with
  // the cluster's key in $ARBITER_KEY.
  // `env` entries (NAME=value) are added; ARBITER_* from the test's own
  // environment are removed.
  CliResult Run(std::vector<std::string> args, bool with_addresses = true,
                std::vector<std::string> env = {}) {
    if (with_addresses) {
      args.push_back("--log=" + log_);
      args.push_back("--reader=" + reader_);
      args.push_back("--writer=" + writer_);
      args.push_back("--tenant=t");
      env.push_back(absl::StrCat("ARBITER_KEY=", kTestKey));
    }
    return Exec(args, env);
  }

  CliResult Exec(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
    std::string out_path = dir_.File("out"), err_path = dir_.File("err");
    std::vector<std::string> argv_s = {BinaryPath("services/cli/arbiter")};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "ARBITER_")) env_s.push_back(*e);
    }
    env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CliResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = ReadFile(out_path);
    r.err = ReadFile(err_path);
    UNSCOPED_INFO("arbiter " << absl::StrJoin(args, " ") << "\n-> exit " << r.code
                             << "\nstdout:\n" << r.out << "stderr:\n" << r.err);
    return r;
  }

  const std::string& writer_address() const { return writer_; }
  std::string File(const std::string& name) const { return dir_.File(name); }

 private:
  std::string log_, reader_, writer_;
  TempDir dir_;
};

std::string Policy(const std::string& name) {
  return std::string(ARBITER_SOURCE_DIR) + "/tests/data/policies/" + name;
}

template <typename M>
M ParseJson(const std::string& text) {
  M m;
  auto s = google::protobuf::util::JsonStringToMessage(std::string(absl::StripAsciiWhitespace(text)), &m);
  INFO(text << " -> " << s.ToString());
  REQUIRE(s.ok());
  return m;
}

std::unique_ptr<Cluster> StartCluster(std::vector<std::string> log_flags = {}) {
  auto c = Cluster::Start({.readers = 1, .log_flags = std::move(log_flags)});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE((*c)->WaitForWriter(v1::REPLICATION_STATE_LIVE).ok());
  return std::move(*c);
}

// Tenant "t" with the GitHub-like policy.
void SetUp(Cli& cli) {
  REQUIRE(cli.Run({"tenants", "create", "t"}).code == 0);
  CliResult push = cli.Run({"policy", "push", Policy("github.polar")});
  REQUIRE(push.code == 0);
  CHECK(absl::StrContains(push.out, "policy version"));
}

TEST_CASE("tell, authorize and delete: exit codes and read-your-writes", "[integration][cli]") {
  auto c = StartCluster();
  Cli cli(*c);
  SetUp(cli);

  CliResult tell = cli.Run({"tell", "has_role", "User:alice", "admin", "Organization:acme"});
  REQUIRE(tell.code == 0);
  CHECK(absl::StrContains(tell.out, "stored has_role(User:alice, String:admin, Organization:acme)"));
  CHECK(absl::StrContains(tell.out, "consistency token: "));

  CliResult token = cli.Run({"tell", "has_relation", "Repository:anvils", "parent",
                             "Organization:acme", "--print_token"});
  REQUIRE(token.code == 0);
  std::string t(absl::StripAsciiWhitespace(token.out));
  REQUIRE(!t.empty());
  CHECK(t.find_first_of(" \n:") == std::string::npos);  // the token alone

  // Right after the write, on the reader: read-your-writes.
  CliResult allowed = cli.Run({"authorize", "User:alice", "push", "Repository:anvils",
                               "--at_least=" + t});
  CHECK(allowed.code == 0);
  CHECK(allowed.out == "allowed\n");
  CliResult denied = cli.Run({"authorize", "User:bob", "push", "Repository:anvils",
                              "--at_least=" + t});
  CHECK(denied.code == 1);
  CHECK(denied.out == "denied\n");

  auto json = cli.Run({"authorize", "User:bob", "push", "Repository:anvils", "--json"});
  CHECK(json.code == 1);
  auto resp = ParseJson<v1::AuthorizeResponse>(json.out);
  CHECK(!resp.allowed());
  CHECK(absl::StrContains(json.out, "\"allowed\":false"));  // defaults are printed

  // Context facts: visible to this query only.
  CHECK(cli.Run({"authorize", "User:bob", "push", "Repository:anvils",
                 "--context=has_role User:bob maintainer Repository:anvils"}).code == 0);

  CliResult del = cli.Run({"delete", "has_role", "User:alice", "_", "Organization:_",
                           "--print_token"});
  REQUIRE(del.code == 0);
  std::string t2(absl::StripAsciiWhitespace(del.out));
  CliResult after = cli.Run({"authorize", "User:alice", "push", "Repository:anvils",
                             "--at_least=" + t2});
  CHECK(after.code == 1);
  CHECK(after.out == "denied\n");
  CHECK(cli.Run({"authorize", "User:alice", "push", "Repository:anvils", "--fully_consistent"})
            .code == 1);

  // Idempotent retries: the same request id returns the same offset.
  auto first = cli.Run({"tell", "is_public", "Repository:docs", "--request_id=r1", "--json"});
  auto again = cli.Run({"tell", "is_public", "Repository:docs", "--request_id=r1", "--json"});
  REQUIRE(first.code == 0);
  REQUIRE(again.code == 0);
  CHECK(ParseJson<v1::WriteResponse>(first.out).offset() ==
        ParseJson<v1::WriteResponse>(again.out).offset());

  // batch: one atomic write from JSON lines.
  std::string batch = cli.File("facts.jsonl");
  std::ofstream(batch)
      << "# comment\n"
      << R"({"insert": {"predicate": "has_role", "args": [{"type": "User", "id": "mia"}, {"type": "String", "id": "maintainer"}, {"type": "Repository", "id": "tools"}]}})"
      << "\n"
      << R"({"delete": {"predicate": "is_public", "args": [{}]}})" << "\n";
  CliResult b = cli.Run({"batch", batch, "--print_token"});
  REQUIRE(b.code == 0);
  std::string t3(absl::StripAsciiWhitespace(b.out));
  CHECK(cli.Run({"authorize", "User:mia", "push", "Repository:tools", "--at_least=" + t3}).code == 0);
  CHECK(cli.Run({"authorize", "User:x", "read", "Repository:docs", "--at_least=" + t3}).code == 1);

  std::string bad_batch = cli.File("bad.jsonl");
  std::ofstream(bad_batch) << R"({"insert": {"predicate": "p", "args": [{"type": "User"}]}})" << "\n";
  CliResult bb = cli.Run({"batch", bad_batch});
  CHECK(bb.code == 2);
  CHECK(absl::StrContains(bb.err, bad_batch + ":1: insert.args[0].id"));
}

TEST_CASE("policy push reports file:line:col, policy test exit codes", "[integration][cli]") {
  auto c = StartCluster();
  Cli cli(*c);
  REQUIRE(cli.Run({"tenants", "create", "t"}).code == 0);

  std::string broken = cli.File("broken.polar");
  std::ofstream(broken) << "actor User {}\n"
                           "resource Repo {\n"
                           "  roles = [\"reader\"];\n"
                           "  permissions = [\"read\"];\n"
                           "  \"read\" if \"writer\";\n"
                           "}\n";
  CliResult push = cli.Run({"policy", "push", broken});
  CHECK(push.code == 2);
  CHECK(absl::StartsWith(push.err, broken + ":5:"));
  CHECK(absl::StrContains(push.err, "INVALID_ARGUMENT"));

  // policy test: every reference model passes (exit 0).
  for (const auto& e : std::filesystem::directory_iterator(Policy(""))) {
    if (e.path().extension() != ".polar") continue;
    CliResult t = cli.Run({"policy", "test", e.path().string()}, /*with_addresses=*/false);
    CHECK(t.code == 0);
    CHECK(absl::StrContains(t.out, " tests passed"));
  }
  std::string failing = cli.File("failing.polar");
  std::ofstream(failing) << ReadFile(Policy("github.polar"))
                         << "\ntest \"bob pushes\" {\n"
                            "  setup { has_role(User{\"bob\"}, \"reader\", Repository{\"a\"}); }\n"
                            "  assert allow(User{\"bob\"}, \"push\", Repository{\"a\"});\n"
                            "}\n";
  int line = 0;
  {
    std::string text = ReadFile(failing);
    std::vector<std::string> lines = absl::StrSplit(text, '\n');
    for (size_t i = 0; i < lines.size(); ++i) {
      if (absl::StrContains(lines[i], "assert allow(User{\"bob\"}, \"push\", Repository{\"a\"})")) {
        line = static_cast<int>(i) + 1;
      }
    }
  }
  CliResult t = cli.Run({"policy", "test", failing}, /*with_addresses=*/false);
  CHECK(t.code == 1);
  CHECK(absl::StrContains(t.out, "FAIL bob pushes"));
  CHECK(absl::StrContains(t.out, absl::StrCat(failing, ":", line, ":")));
  CliResult parse = cli.Run({"policy", "test", broken}, false);
  CHECK(parse.code == 2);
  CHECK(absl::StartsWith(parse.err, broken + ":5:"));

  // A policy that does not pass its own tests is refused by the log too.
  CHECK(cli.Run({"policy", "push", failing}).code == 2);
  CliResult get = cli.Run({"policy", "get", "--json"});
  CHECK(get.code == 0);
  CHECK(ParseJson<v1::GetPolicyResponse>(get.out).version() == 0);

  REQUIRE(cli.Run({"policy", "push", Policy("github.polar")}).code == 0);
  CliResult source = cli.Run({"policy", "get"});
  CHECK(source.code == 0);
  CHECK(source.out == ReadFile(Policy("github.polar")));
}

TEST_CASE("reads, status, snapshots and tenants: text and --json", "[integration][cli]") {
  auto c = StartCluster({"--snapshot_every_entries=3"});
  Cli cli(*c);
  SetUp(cli);
  std::string batch = cli.File("facts.jsonl");
  std::ofstream(batch)
      << R"({"insert": {"predicate": "has_role", "args": [{"type": "User", "id": "alice"}, {"type": "String", "id": "admin"}, {"type": "Organization", "id": "acme"}]}})" << "\n"
      << R"({"insert": {"predicate": "has_relation", "args": [{"type": "Repository", "id": "anvils"}, {"type": "String", "id": "parent"}, {"type": "Organization", "id": "acme"}]}})" << "\n"
      << R"({"insert": {"predicate": "has_relation", "args": [{"type": "Repository", "id": "tools"}, {"type": "String", "id": "parent"}, {"type": "Organization", "id": "acme"}]}})" << "\n";
  CliResult b = cli.Run({"batch", batch, "--print_token"});
  REQUIRE(b.code == 0);
  std::string at = "--at_least=" + std::string(absl::StripAsciiWhitespace(b.out));

  CliResult list = cli.Run({"list", "User:alice", "push", "Repository", at});
  CHECK(list.code == 0);
  CHECK(list.out == "anvils\ntools\n");
  auto list_json = ParseJson<v1::ListResponse>(
      cli.Run({"list", "User:alice", "push", "Repository", "--json", "--page_size=1", at}).out);
  CHECK(list_json.resource_ids_size() == 2);  // every page fetched

  CliResult many = cli.Run({"authorize-resources", "User:alice", "push", "Repository:anvils",
                            "Repository:nowhere", "Repository:tools", at});
  CHECK(many.code == 1);  // one is denied
  CHECK(many.out ==
        "allowed Repository:anvils\ndenied  Repository:nowhere\nallowed Repository:tools\n");
  const std::string list_file = cli.File("repos.txt");
  std::ofstream(list_file) << "# repositories\nRepository:anvils\n\nRepository:tools\n";
  CliResult from_file =
      cli.Run({"authorize-resources", "User:alice", "push", "--file=" + list_file, at});
  CHECK(from_file.code == 0);
  CHECK(from_file.out == "allowed Repository:anvils\nallowed Repository:tools\n");
  CHECK(ParseJson<v1::AuthorizeResourcesResponse>(
            cli.Run({"authorize-resources", "User:alice", "push", "Repository:anvils",
                     "Repository:nowhere", "--json", at})
                .out)
            .allowed_size() == 1);
  CliResult none = cli.Run({"authorize-resources", "User:alice", "push", at});
  CHECK(none.code == 2);
  CHECK(absl::StrContains(none.err, "no resources"));

  // A superadmin administers every organization: the list says so.
  CliResult root = cli.Run({"tell", "has_role", "User:root", "superadmin", "--print_token"});
  REQUIRE(root.code == 0);
  const std::string root_at = "--at_least=" + std::string(absl::StripAsciiWhitespace(root.out));
  CliResult every = cli.Run({"list", "User:root", "add_member", "Organization", root_at});
  CHECK(every.code == 0);
  CHECK(absl::StrContains(every.err, "every Organization is allowed"));
  CHECK(ParseJson<v1::ListResponse>(
            cli.Run({"list", "User:root", "add_member", "Organization", "--json", root_at}).out)
            .all_of_type());
  CHECK_FALSE(absl::StrContains(list.err, "every Repository"));

  CliResult actions = cli.Run({"actions", "User:alice", "Repository:anvils", at});
  CHECK(actions.code == 0);
  CHECK(actions.out == "push\nread\n");
  CHECK(ParseJson<v1::ActionsResponse>(
            cli.Run({"actions", "User:alice", "Repository:anvils", "--json", at}).out)
            .actions_size() == 2);

  CliResult query = cli.Run({"query", "has_role", "User:alice", "_", "Organization:_", at});
  CHECK(query.code == 0);
  CHECK(absl::StrContains(query.out, "has_role(User:alice, String:admin, Organization:acme)\n"));
  CHECK(!absl::StrContains(query.out, "Repository"));
  // Every argument `_`: the matching facts themselves, not one wildcard row.
  CliResult all_roles = cli.Run({"query", "has_role", "_", "_", "_", at});
  CHECK(all_roles.code == 0);
  CHECK(absl::StrContains(all_roles.out, "has_role(User:alice, String:admin, Organization:acme)\n"));
  CHECK_FALSE(absl::StrContains(all_roles.out, "(_"));
  CliResult named = cli.Run({"query", "has_permission", "User:alice", "push", "?r", "--json", at});
  CHECK(named.code == 0);
  CHECK(ParseJson<v1::QueryResponse>(named.out).results_size() >= 2);

  CliResult facts = cli.Run({"facts", "has_relation", "_", "parent", "_", at});
  CHECK(facts.code == 0);
  CHECK(facts.out ==
        "has_relation(Repository:anvils, String:parent, Organization:acme)\n"
        "has_relation(Repository:tools, String:parent, Organization:acme)\n");

  CliResult explain = cli.Run({"explain", "User:alice", "push", "Repository:anvils", at});
  CHECK(explain.code == 0);
  CHECK(absl::StartsWith(explain.out, "ALLOW"));
  CHECK(absl::StrContains(explain.out, "has_role(User:alice, \"admin\", Organization:acme)"));
  auto explain_json = ParseJson<v1::ExplainResponse>(
      cli.Run({"explain", "User:bob", "push", "Repository:anvils", "--json", at}).out);
  CHECK(!explain_json.allowed());

  CliResult status = cli.Run({"status"});
  CHECK(status.code == 0);
  CHECK(absl::StrContains(status.out, "log "));
  CHECK(absl::StrContains(status.out, "LIVE"));
  CHECK(absl::StrContains(status.out, "reader-0"));
  CHECK(absl::StrContains(status.out, "lag "));
  CliResult status_json = cli.Run({"status", "--json"});
  CHECK(status_json.code == 0);
  CHECK(absl::StartsWith(status_json.out, "{\"log\":{"));
  CHECK(absl::StrContains(status_json.out, "\"replicationState\":\"REPLICATION_STATE_LIVE\""));

  // --watch: a block per status (stdout is a file, not a terminal: no
  // escape codes), the apply rate from the second on.
  CliResult watch = cli.Run({"status", "--watch", "--count=3", "--interval=100ms"});
  CHECK(watch.code == 0);
  CHECK(absl::StrContains(watch.out, "every 100ms  20"));
  CHECK(std::count(watch.out.begin(), watch.out.end(), '\x1b') == 0);
  size_t headers = 0;
  for (size_t at = 0; (at = watch.out.find("every 100ms", at)) != std::string::npos; ++at) ++headers;
  CHECK(headers == 3);
  CHECK(absl::StrContains(watch.out, "applying 0 entries/s"));  // idle host: nothing to apply
  CliResult watch_json = cli.Run({"status", "--watch", "--count=2", "--interval=100ms", "--json"});
  CHECK(watch_json.code == 0);
  const std::vector<std::string> lines =
      absl::StrSplit(absl::StripAsciiWhitespace(watch_json.out), '\n');
  CHECK(lines.size() == 2);
  for (const std::string& line : lines) CHECK(absl::StartsWith(line, "{\"log\":{"));
  CliResult bad_interval = cli.Run({"status", "--watch", "--interval=1ms"});
  CHECK(bad_interval.code == 2);
  CHECK(absl::StrContains(bad_interval.err, "--interval"));
  // health: the reader (default) and the writer serve; nothing listens on
  // port 1.
  CliResult health = cli.Run({"health"});
  CHECK(health.code == 0);
  CHECK(health.out == "SERVING\n");
  CHECK(cli.Run({"health", cli.writer_address()}).code == 0);
  CliResult nobody = cli.Run({"health", "127.0.0.1:1", "--timeout=2s"});
  CHECK(nobody.code == 2);
  CHECK(absl::StrContains(nobody.err, "UNAVAILABLE"));
  // A batch this small prints no progress on a pipe (only every 5 s).
  CHECK(!absl::StrContains(b.err, "ops/s"));

  CliResult tenants = cli.Run({"tenants"});
  CHECK(tenants.code == 0);
  CHECK(absl::StrContains(tenants.out, "TENANT"));
  CHECK(absl::StrContains(tenants.out, "\nt "));
  CHECK(ParseJson<v1::ListTenantsResponse>(cli.Run({"tenants", "--json"}).out).tenants_size() == 1);

  // --snapshot_every_entries=3: the log cuts one soon.
  v1::ListSnapshotsResponse snaps;
  for (int i = 0; i < 100 && snaps.snapshots_size() == 0; ++i) {
    CliResult s = cli.Run({"snapshots", "--json"});
    REQUIRE(s.code == 0);
    snaps = ParseJson<v1::ListSnapshotsResponse>(s.out);
    if (snaps.snapshots_size() == 0) usleep(100 * 1000);
  }
  REQUIRE(snaps.snapshots_size() > 0);
  CliResult text = cli.Run({"snapshots"});
  CHECK(absl::StrContains(text.out, snaps.snapshots(0).snapshot_id()));
}

TEST_CASE("watch: the changes after a token, filters, --count, --for, the resume token",
          "[integration][cli]") {
  auto c = StartCluster();
  Cli cli(*c);
  SetUp(cli);
  CliResult first = cli.Run({"tell", "is_public", "Repository:a", "--print_token"});
  REQUIRE(first.code == 0);
  const std::string token(absl::StripAsciiWhitespace(first.out));
  REQUIRE(cli.Run({"tell", "has_role", "User:alice", "admin", "Organization:acme"}).code == 0);
  REQUIRE(cli.Run({"delete", "is_public", "Repository:a"}).code == 0);

  CliResult all = cli.Run({"watch", "--after=" + token, "--count=2"});
  CHECK(all.code == 0);
  std::vector<std::string> lines = absl::StrSplit(all.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::Matches(
                           "insert [0-9]+ has_role\\(User:alice, String:admin, Organization:acme\\)"));
  CHECK_THAT(lines[1], Catch::Matches("delete [0-9]+ is_public\\(Repository:a\\)"));
  CHECK(absl::StrContains(all.err, "resume with --after="));
  // Stopped inside a message: the resume token repeats what was printed
  // rather than skip what was not.
  CliResult one = cli.Run({"watch", "--after=" + token, "--count=1"});
  CHECK(one.code == 0);
  const size_t at = one.err.find("--after=");
  REQUIRE(at != std::string::npos);
  const std::string resume(absl::StripAsciiWhitespace(one.err.substr(at + 8)));
  CliResult again = cli.Run({"watch", "--after=" + resume, "--count=2", "--for=20s"});
  CHECK(again.out == all.out);

  CliResult filtered = cli.Run({"watch", "is_public", "_", "--after=" + token, "--for=1s"});
  CHECK(filtered.code == 0);
  CHECK_THAT(filtered.out, Catch::Matches("delete [0-9]+ is_public\\(Repository:a\\)\n"));

  CliResult json = cli.Run({"watch", "--after=" + token, "--count=1", "--json"});
  CHECK(json.code == 0);
  auto msg = ParseJson<v1::WatchResponse>(json.out.substr(0, json.out.find('\n')));
  CHECK(msg.changes_size() >= 1);
  CHECK_FALSE(msg.token().empty());

  CHECK(cli.Run({"watch", "--count=0"}).code == 2);
  CHECK(cli.Run({"watch", "--heartbeat=1ms"}).code == 2);
}

TEST_CASE("export and import: every fact, paged, into another tenant, resumable by request ids",
          "[integration][cli]") {
  auto c = StartCluster();
  Cli cli(*c);
  SetUp(cli);
  const std::vector<std::vector<std::string>> facts = {
      {"has_role", "User:alice", "admin", "Organization:acme"},
      {"has_role", "User:bob", "member", "Organization:acme"},
      {"has_relation", "Repository:anvils", "parent", "Organization:acme"},
      {"has_relation", "Repository:tools", "parent", "Organization:acme"},
      {"is_public", "Repository:tools"},
  };
  for (auto f : facts) {
    f.insert(f.begin(), "tell");
    REQUIRE(cli.Run(f).code == 0);
  }
  const std::string file = cli.File("t.jsonl");
  CliResult exported = cli.Run({"export", file, "--page_size=2", "--fully_consistent"});
  REQUIRE(exported.code == 0);
  CHECK_THAT(exported.err, Catch::Contains("exported 5 facts of tenant t at offset"));
  const std::string text = ReadFile(file);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 5);
  // Ordered by predicate, arity, arguments; each an insert.
  CHECK_THAT(lines[0], Catch::Contains("\"has_relation\"") && Catch::Contains("anvils"));
  CHECK_THAT(lines[2], Catch::Contains("\"has_role\"") && Catch::Contains("alice"));
  CHECK_THAT(lines[4], Catch::Contains("\"is_public\""));
  for (const auto& l : lines) CHECK_THAT(l, Catch::StartsWith("{\"insert\""));
  CHECK_FALSE(std::filesystem::exists(file + ".tmp"));
  // stdout gives the same lines.
  CHECK(cli.Run({"export"}).out == text);

  // Into tenant "u" (the Run helper names tenant t: these name u after it).
  auto in_u = [&](std::vector<std::string> args) {
    args.push_back("--log=127.0.0.1:" + std::to_string(c->log_port()));
    args.push_back("--reader=127.0.0.1:" + std::to_string(c->reader_port(0)));
    args.push_back("--tenant=u");
    return cli.Run(args, /*with_addresses=*/false, {absl::StrCat("ARBITER_KEY=", kTestKey)});
  };
  REQUIRE(in_u({"tenants", "create", "u"}).code == 0);
  REQUIRE(in_u({"policy", "push", Policy("github.polar")}).code == 0);
  CliResult imported = in_u({"import", file, "--batch_size=2", "--request_id=copy"});
  REQUIRE(imported.code == 0);
  CHECK_THAT(imported.out, Catch::Contains("imported 5 operations in 3 writes"));
  CHECK_THAT(imported.err, Catch::Contains("request ids copy/b2/1"));
  CliResult copy = in_u({"export", "--fully_consistent"});
  REQUIRE(copy.code == 0);
  CHECK(copy.out == text);
  // Again with the same ids: recognised, nothing applied twice (the log's
  // head does not move; the last write's original offset comes back).
  auto head = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(10)));
    v1::GetHeadResponse h;
    REQUIRE(c->log().GetHead(&ctx, v1::GetHeadRequest(), &h).ok());
    return h.head_offset();
  };
  const uint64_t before = head();
  CliResult again = in_u({"import", file, "--batch_size=2", "--request_id=copy", "--json"});
  REQUIRE(again.code == 0);
  CHECK(head() == before);
  CHECK(ParseJson<v1::WriteResponse>(again.out).offset() <= before);

  // A bad line: file:line, and what was applied before it.
  const std::string bad = cli.File("bad.jsonl");
  {
    std::ofstream f(bad);
    f << lines[0] << "\n" << lines[1] << "\n" << lines[2] << "\nnot json\n";
  }
  CliResult broken = in_u({"import", bad, "--batch_size=1", "--request_id=bad"});
  CHECK(broken.code == 2);
  CHECK_THAT(broken.err, Catch::Contains(bad + ":4:"));
  CHECK_THAT(broken.err, Catch::Contains("3 writes (3 operations) were applied"));
  CHECK_THAT(broken.err, Catch::Contains("--request_id=bad --batch_size=1"));
  CHECK(in_u({"import", cli.File("missing.jsonl")}).code == 2);
  CHECK(in_u({"import", file, "--batch_size=0"}).code == 2);
}

TEST_CASE("usage and server errors exit 2 and say why", "[integration][cli]") {
  auto c = StartCluster();
  Cli cli(*c);

  CliResult usage = cli.Run({"authorize", "User:alice"});
  CHECK(usage.code == 2);
  CHECK(absl::StrContains(usage.err, "usage: arbiter authorize"));
  CHECK(absl::StrContains(usage.err, "Examples:"));
  CHECK(cli.Run({}, false).code == 2);
  CHECK(cli.Run({"tell", "p", "--nope"}).code == 2);
  CliResult help = cli.Run({"list", "--help"}, false);
  CHECK(help.code == 0);
  CHECK(absl::StartsWith(help.out, "usage: arbiter list"));

  // Server errors carry the gRPC code name and message.
  CliResult missing = cli.Run({"tell", "is_public", "Repository:x"});
  CHECK(missing.code == 2);
  CHECK(absl::StrContains(missing.err, "NOT_FOUND"));
  REQUIRE(cli.Run({"tenants", "create", "t"}).code == 0);
  CliResult exists = cli.Run({"tenants", "create", "t"});
  CHECK(exists.code == 2);
  CHECK(absl::StrContains(exists.err, "ALREADY_EXISTS"));
  REQUIRE(cli.Run({"policy", "push", Policy("github.polar")}).code == 0);
  CliResult unfit = cli.Run({"tell", "has_role", "User:a", "owner", "Organization:b"});
  CHECK(unfit.code == 2);
  CHECK(absl::StrContains(unfit.err, "INVALID_ARGUMENT: operations[0].insert"));
  CHECK(absl::StrContains(unfit.err, "role \"owner\" is not declared"));

  // Addresses, tenant and key (a file) from the environment.
  const std::string key_file = "ARBITER_KEY_FILE=" + TestKeyFile(c->dir());
  CliResult env = cli.Exec(
      {"tenants", "--json"},
      {absl::StrCat("ARBITER_LOG_ADDRESS=127.0.0.1:", c->log_port()), key_file});
  CHECK(env.code == 0);
  CliResult tenant_env = cli.Exec(
      {"policy", "get", "--json"},
      {absl::StrCat("ARBITER_LOG_ADDRESS=127.0.0.1:", c->log_port()), "ARBITER_TENANT=nope",
       key_file});
  CHECK(tenant_env.code == 2);
  CHECK(absl::StrContains(tenant_env.err, "NOT_FOUND"));
  // No key at all: UNAUTHENTICATED, saying how to send one.
  CliResult no_key = cli.Exec(
      {"tenants"}, {absl::StrCat("ARBITER_LOG_ADDRESS=127.0.0.1:", c->log_port())});
  CHECK(no_key.code == 2);
  CHECK(absl::StrContains(no_key.err, "UNAUTHENTICATED: missing API key"));

  // Nothing listening: UNAVAILABLE (or the deadline), exit 2, quickly.
  CliResult down = cli.Exec({"tenants", "--log=127.0.0.1:1", "--timeout=2s"}, {});
  CHECK(down.code == 2);
  CHECK((absl::StrContains(down.err, "UNAVAILABLE") ||
         absl::StrContains(down.err, "DEADLINE_EXCEEDED")));
}

}  // namespace
}  // namespace arbiter::testing
