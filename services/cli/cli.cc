#include "services/cli/cli.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/cli/commands.h"

namespace arbiter::cli {
namespace {

const std::vector<FlagSpec>& CommonFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {.name = "tenant", .value_name = "NAME",
       .help = "the tenant (default $ARBITER_TENANT, else \"default\")"},
      {.name = "log", .value_name = "HOST:PORT",
       .help = "arbiter-log (default $ARBITER_LOG_ADDRESS, else 127.0.0.1:50051)"},
      {.name = "writer", .value_name = "HOST:PORT",
       .help = "arbiter-writer admin (default $ARBITER_WRITER_ADDRESS, else 127.0.0.1:50052)"},
      {.name = "reader", .value_name = "HOST:PORT",
       .help = "arbiter-reader (default $ARBITER_READER_ADDRESS, else 127.0.0.1:50053)"},
      {.name = "timeout", .value_name = "DURATION",
       .help = "deadline of each call, e.g. 500ms, 30s (default 10s)"},
      {.name = "json", .takes_value = false,
       .help = "print the response as protobuf JSON (one line) for scripts"},
      {.name = "key", .value_name = "KEY",
       .help = "the API key sent with every call (default $ARBITER_KEY)"},
      {.name = "key_file", .value_name = "PATH",
       .help = "a file holding the API key (default $ARBITER_KEY_FILE)"},
      {.name = "tls_ca", .value_name = "PATH",
       .help = "TLS: trust this PEM CA bundle (default $ARBITER_TLS_CA; none: plaintext)"},
      {.name = "tls_cert", .value_name = "PATH",
       .help = "TLS: a client certificate (mTLS; default $ARBITER_TLS_CERT)"},
      {.name = "tls_key", .value_name = "PATH",
       .help = "TLS: the key of --tls_cert (default $ARBITER_TLS_KEY)"},
  };
  return *flags;
}

std::vector<FlagSpec> WriteFlags() {
  return {
      {.name = "request_id", .value_name = "ID",
       .help = "idempotency key: a retry with the same id returns the original offset"},
      {.name = "print_token", .takes_value = false,
       .help = "print only the consistency token (for --at_least)"},
  };
}

std::vector<FlagSpec> ReadFlags(bool paged = false) {
  std::vector<FlagSpec> f = {
      {.name = "at_least", .value_name = "TOKEN",
       .help = "answer from data at least as new as this consistency token"},
      {.name = "fully_consistent", .takes_value = false,
       .help = "answer from data at least as new as the log's head now"},
      {.name = "context", .repeated = true, .value_name = "'PRED VALUE...'",
       .help = "a fact visible to this query only; repeatable"},
  };
  if (paged) {
    f.push_back({.name = "page_size", .value_name = "N",
                 .help = "results per round trip, 1..10000 (all pages are fetched)"});
  }
  return f;
}

std::vector<FlagSpec> Concat(std::vector<FlagSpec> a, const std::vector<FlagSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<Command>& Table() {
  static const auto* table = new std::vector<Command>{
      {.name = "tell",
       .args = "PREDICATE VALUE...",
       .summary = "store a fact",
       .details = R"(Stores one fact through arbiter-log and prints the write's offset and
consistency token. Values are Type:id; a bare word is a String; literals are
Integer:3, Boolean:true.

Examples:
  arbiter tell has_role User:alice maintainer Repository:anvils
  arbiter tell has_relation Repository:anvils parent Organization:acme
  TOKEN=$(arbiter tell is_public Repository:docs --print_token)
  arbiter authorize User:bob read Repository:docs --at_least=$TOKEN)",
       .min_args = 2, .max_args = 6, .flags = WriteFlags(), .run = RunTell},
      {.name = "delete",
       .args = "PREDICATE PATTERN...",
       .summary = "delete every fact matching a pattern",
       .details = R"(Deletes every stored fact that matches. Each argument is a value, _ (any
value) or Type:_ (any value of that type). Matching nothing is not an error.

Examples:
  arbiter delete has_role User:bob reader Repository:anvils
  arbiter delete has_role User:bob _ Repository:_     # every repository role of bob)",
       .min_args = 2, .max_args = 6, .flags = WriteFlags(), .run = RunDelete},
      {.name = "batch",
       .args = "FILE",
       .summary = "apply a JSON-lines file of inserts and deletes in one write",
       .details = R"(Applies FILE (- for stdin) atomically: one operation per line, in
protobuf's JSON mapping; blank lines and lines starting with # are skipped.
A file of more than 1000 operations or 1 MiB is sent as several writes (each atomic).

  {"insert": {"predicate": "has_role", "args": [{"type": "User", "id": "alice"},
              {"type": "String", "id": "admin"}, {"type": "Organization", "id": "acme"}]}}
  {"delete": {"predicate": "has_role", "args": [{"type": "User", "id": "bob"}, {}, {}]}}

In a delete, {} is a wildcard and {"type": "User"} any User.

Examples:
  arbiter batch facts.jsonl --request_id=import-2024-06-01
  generate_facts | arbiter batch -)",
       .min_args = 1, .max_args = 1, .flags = WriteFlags(), .run = RunBatch},
      {.name = "import",
       .args = "FILE",
       .summary = "stream a JSON-lines file of inserts and deletes, in atomic writes",
       .details = R"(Reads FILE (- for stdin) line by line, in batch's format (one operation
per line; an export's output), and sends writes of at most --batch_size
operations (and at most 1 MiB), each atomic, with request ids
ID/b<batch size>/1, /2, ... (--request_id, default import-<UTC time>,
printed at the start). When a write fails, the ones before it stay applied
and the command prints how to resume: the same command with the same
--request_id and --batch_size skips the writes already applied (the log
recognises their ids) and sends the rest. A progress bar on a terminal.

Examples:
  arbiter export --tenant=prod > prod.jsonl
  arbiter import prod.jsonl --tenant=staging --request_id=copy-prod-1)",
       .min_args = 1, .max_args = 1,
       .flags = {{.name = "request_id", .value_name = "ID",
                  .help = "prefix of the writes' request ids (ID/1, ID/2, ...); reuse it to resume"},
                 {.name = "batch_size", .value_name = "N",
                  .help = "operations per write, 1..1000 (default 1000)"},
                 {.name = "print_token", .takes_value = false,
                  .help = "print only the last write's consistency token"}},
       .run = RunImport},
      {.name = "policy push",
       .args = "FILE",
       .summary = "install a policy (errors as file:line:col: message)",
       .details = R"(Sends FILE to arbiter-log as the tenant's new policy. The log compiles it,
runs its test blocks and checks the stored facts against it; problems are
printed as FILE:LINE:COL: message, one per line (exit 2).

Examples:
  arbiter policy push policy.polar
  arbiter policy push policy.polar --force    # keep facts that no longer fit, inert)",
       .min_args = 1, .max_args = 1,
       .flags = Concat(WriteFlags(),
                       {{.name = "force", .takes_value = false,
                         .help = "install even if stored facts do not fit the new policy"}}),
       .run = RunPolicyPush},
      {.name = "policy get",
       .args = "",
       .summary = "print the tenant's current policy",
       .details = R"(Prints the policy source (nothing if the tenant has none); --json adds the
version and file name.

Examples:
  arbiter policy get > current.polar
  arbiter policy get --json)",
       .run = RunPolicyGet},
      {.name = "policy test",
       .args = "FILE...",
       .summary = "run a policy's test blocks locally (no server)",
       .details = R"(Compiles each FILE and runs its test blocks in-process. Exit 0 when every
assertion holds, 1 when one fails (printed as FILE:LINE:COL), 2 when a file
does not parse or check. --json prints one line per file:
  {"file": F, "passed": N, "total": M, "tests": [{"name", "line", "column",
   "passed", "assertions", "failures": [{"line", "column", "assertion",
   "message"}]}]}
or, for a file that does not compile, {"file": F, "errors": [{"line",
"column", "message"}]}.

Examples:
  arbiter policy test policy.polar
  arbiter policy test tests/data/policies/*.polar
  arbiter policy test policy.polar --json | jq '.tests[] | select(.passed | not)')",
       .min_args = 1, .max_args = -1,
       .flags = {{.name = "json", .takes_value = false,
                  .help = "one JSON object per file instead of text"}},
       .uses_server = false, .run = RunPolicyTest},
      {.name = "authorize",
       .args = "ACTOR ACTION RESOURCE",
       .summary = "may ACTOR do ACTION on RESOURCE? (exit 0 allowed, 1 denied)",
       .details = R"(Prints allowed (exit 0) or denied (exit 1).

Examples:
  arbiter authorize User:alice push Repository:anvils
  arbiter authorize User:bob read Repository:docs --at_least=$TOKEN
  arbiter authorize User:eve read Repository:x --context='is_public Repository:x'
  if arbiter authorize User:bob push Repository:anvils >/dev/null; then ...; fi)",
       .min_args = 3, .max_args = 3, .flags = ReadFlags(), .run = RunAuthorize},
      {.name = "authorize-resources",
       .args = "ACTOR ACTION [RESOURCE...]",
       .summary = "which of RESOURCE... may ACTOR ACTION? (exit 0 all allowed, 1 some denied)",
       .details = R"(Checks many resources in one round trip (AuthorizeResources): prints
"allowed Type:id" or "denied  Type:id" per resource, in the order given;
exit 0 if every one is allowed, 1 if any is denied. Resources are the words
after ACTION and, with --file, one Type:id per line of FILE (- for stdin;
blank lines and # comments skipped). More than 1000 are sent as several
requests. --json prints the AuthorizeResourcesResponse (allowed ones only).

Examples:
  arbiter authorize-resources User:bob read Repository:anvils Repository:tools
  cut -d, -f1 repositories.csv | arbiter authorize-resources User:bob read --file=-)",
       .min_args = 2, .max_args = -1,
       .flags = Concat(ReadFlags(), {{.name = "file", .value_name = "FILE",
                                      .help = "more resources, one Type:id per line (- for stdin)"}}),
       .run = RunAuthorizeResources},
      {.name = "list",
       .args = "ACTOR ACTION RESOURCE_TYPE",
       .summary = "ids of every RESOURCE_TYPE that ACTOR may ACTION",
       .details = R"(Prints one id per line, ascending (every page is fetched).

Examples:
  arbiter list User:alice push Repository
  arbiter list User:alice read Repository --json)",
       .min_args = 3, .max_args = 3, .flags = ReadFlags(/*paged=*/true), .run = RunList},
      {.name = "actions",
       .args = "ACTOR RESOURCE",
       .summary = "every action ACTOR may do on RESOURCE",
       .details = R"(Prints one action per line, ascending.

Example:
  arbiter actions User:alice Repository:anvils)",
       .min_args = 2, .max_args = 2, .flags = ReadFlags(), .run = RunActions},
      {.name = "query",
       .args = "PREDICATE ARG...",
       .summary = "every binding of a rule or fact predicate",
       .details = R"(Each ARG is a value, _ (anything), Type:_ (anything of that type) or ?name
(a named variable: the same name binds the same value; quote it in shells
that glob). Prints one result per line, variables replaced by their values.

Examples:
  arbiter query has_role User:alice _ Repository:_
  arbiter query has_permission User:alice push '?repo'
  arbiter query has_relation '?r' parent Organization:acme --json)",
       .min_args = 2, .max_args = 6, .flags = ReadFlags(/*paged=*/true), .run = RunQuery},
      {.name = "facts",
       .args = "PREDICATE PATTERN...",
       .summary = "stored facts matching a pattern",
       .details = R"(Like delete's pattern (_ and Type:_ are wildcards), but only reads.

Example:
  arbiter facts has_role User:alice _ _)",
       .min_args = 2, .max_args = 6,
       .flags = {{.name = "at_least", .value_name = "TOKEN",
                  .help = "answer from data at least as new as this consistency token"},
                 {.name = "fully_consistent", .takes_value = false,
                  .help = "answer from data at least as new as the log's head now"},
                 {.name = "page_size", .value_name = "N",
                  .help = "results per round trip, 1..10000 (all pages are fetched)"}},
       .run = RunFacts},
      {.name = "watch",
       .args = "[PREDICATE PATTERN...]",
       .summary = "follow the tenant's fact changes as the host applies them",
       .details = R"(Streams changes (Watch) until interrupted, --count or --for: one line per
change, "insert OFFSET fact" or "delete OFFSET fact", in log order. Only
facts matching the pattern (as for facts: _ and Type:_ are wildcards) or one
of the --filter patterns are shown. On exit it prints the token to resume
from (--after) on stderr; --json prints each message (WatchResponse), whose
token is the same. A stream has no --timeout. Exit 0 after --count changes or
--for, 2 when the stream ends with an error (e.g. UNAVAILABLE: the host went
stale or the reader drains; resume with --after on another reader).

Examples:
  arbiter watch
  arbiter watch has_role User:_ _ _ --count=10
  arbiter watch --after="$TOKEN" --filter='has_relation _ parent _' --json)",
       .min_args = 0, .max_args = 6,
       .flags = {{.name = "after", .value_name = "TOKEN",
                  .help = "start after this token (a write's, a read's or a watch's); "
                          "default: from now"},
                 {.name = "filter", .repeated = true, .value_name = "'PRED PATTERN...'",
                  .help = "only changes of facts matching this pattern; repeatable"},
                 {.name = "count", .value_name = "N", .help = "stop after N changes"},
                 {.name = "for", .value_name = "DURATION", .help = "stop after DURATION"},
                 {.name = "heartbeat", .value_name = "DURATION",
                  .help = "ask for a message at least this often (100ms..10m; default 5s)"},
                 {.name = "heartbeats", .takes_value = false,
                  .help = "print heartbeats too (\"heartbeat OFFSET TOKEN\")"}},
       .run = RunWatch},
      {.name = "export",
       .args = "[FILE]",
       .summary = "every fact of the tenant as JSON lines (import's and batch's format)",
       .details = R"(Writes every stored fact, one {"insert": Fact} per line, ordered by
predicate, arity and arguments, to FILE (written as FILE.tmp, then renamed)
or stdout. Facts are read a page at a time (--page_size); stderr says the
offset the export reflects, or the range when the tenant changed meanwhile
(then the file may mix states: pause writes for an exact copy).

Examples:
  arbiter export facts.jsonl
  arbiter export --fully_consistent | gzip > facts.jsonl.gz)",
       .min_args = 0, .max_args = 1,
       .flags = {{.name = "at_least", .value_name = "TOKEN",
                  .help = "export data at least as new as this consistency token"},
                 {.name = "fully_consistent", .takes_value = false,
                  .help = "export data at least as new as the log's head now"},
                 {.name = "page_size", .value_name = "N",
                  .help = "facts per round trip, 1..10000 (default 10000)"}},
       .run = RunExport},
      {.name = "explain",
       .args = "ACTOR ACTION RESOURCE",
       .summary = "why authorize allows (the proof) or denies (what was tried)",
       .details = R"(Prints ALLOW or DENY, then the proof tree. Exits 0 either way.

Example:
  arbiter explain User:carol push Repository:anvils)",
       .min_args = 3, .max_args = 3, .flags = ReadFlags(), .run = RunExplain},
      {.name = "status",
       .args = "",
       .summary = "log head; writer state, drain, applied offset, lag; readers",
       .details = R"(Asks arbiter-log for its head and arbiter-writer for the host's status:
replication state, drain state, applied offset and lag behind the log, and
each registered reader's drain state and freshness. Exit 2 if either is
unreachable (what was reachable is still printed). --json prints
{"log": GetHeadResponse, "writer": GetStatusResponse, "lag": N}.

--watch asks again every --interval (default 1s) until interrupted or
--count times, and adds the rate the host applies entries at and when it
will have caught up: a terminal is redrawn in place, a pipe gets one block
per status (with --json, one line each). The exit code is the last status'.

Examples:
  arbiter status --writer=10.0.0.7:50052
  arbiter status --watch --interval=2s)",
       .flags = {{.name = "watch", .takes_value = false,
                  .help = "redraw the status every --interval until interrupted"},
                 {.name = "interval", .value_name = "DURATION",
                  .help = "with --watch: time between two statuses (>= 100ms; default 1s)"},
                 {.name = "count", .value_name = "N",
                  .help = "with --watch: stop after N statuses"}},
       .run = RunStatus},
      {.name = "health",
       .args = "[ADDRESS]",
       .summary = "is a service SERVING? (grpc.health.v1; exit 0 serving, 1 not)",
       .details = R"(Asks the standard gRPC health service of ADDRESS (default: the reader,
--reader) whether it serves: prints SERVING (exit 0) or NOT_SERVING (exit 1);
exit 2 if it cannot be asked. A reader is SERVING only while its host's
replica is live and fresh; --service names one service (empty: the server).
For container health checks (ECS, Docker HEALTHCHECK) that cannot speak
gRPC themselves.

Examples:
  arbiter health
  arbiter health 127.0.0.1:50052 --service=arbiter.v1.WriterAdminService)",
       .max_args = 1,
       .flags = {{.name = "service", .value_name = "NAME",
                  .help = "the service to ask about (default: the whole server)"}},
       .run = RunHealth},
      {.name = "snapshots",
       .args = "",
       .summary = "snapshots the log holds for new hosts",
       .details = R"(Lists arbiter-log's snapshots, newest first.

Example:
  arbiter snapshots --json)",
       .run = RunSnapshots},
      {.name = "tenants",
       .args = "",
       .summary = "list tenants",
       .details = R"(Lists every tenant with its creation offset and policy version.

Example:
  arbiter tenants)",
       .run = RunTenants},
      {.name = "tenants create",
       .args = "NAME",
       .summary = "create a tenant",
       .details = R"(Creates a tenant: 1..63 bytes of [a-z0-9_-], starting with a letter or digit.
ALREADY_EXISTS (exit 2) if it exists, unless --request_id matches the request
that created it.

Example:
  arbiter tenants create acme --request_id=create-acme)",
       .min_args = 1, .max_args = 1, .flags = WriteFlags(), .run = RunTenantsCreate},
      {.name = "keys create",
       .args = "",
       .summary = "create an API key (printed once)",
       .details = R"(Creates an API key for --tenant with --scopes (read, write, admin; default
read), or with --cluster a cluster key (operator, replicate; default
operator). Prints the key's text on the first line: it is shown only now,
the cluster stores only its SHA-256. Needs the tenant's admin scope (cluster
keys: operator).

Examples:
  arbiter keys create --tenant=acme --scopes=read,write --name=billing-service
  arbiter keys create --cluster --scopes=replicate --name=host-7 > host.key)",
       .flags = {{.name = "scopes", .value_name = "LIST",
                  .help = "comma-separated scopes: read, write, admin / operator, replicate"},
                 {.name = "name", .value_name = "NAME", .help = "a name for people (default the id)"},
                 {.name = "cluster", .takes_value = false,
                  .help = "a cluster key instead of one of --tenant"}},
       .run = RunKeysCreate},
      {.name = "keys list",
       .args = "",
       .summary = "list API keys (never their secrets)",
       .details = R"(Lists the live keys of --tenant, with --cluster the cluster keys, with --all
every key (operator).

Example:
  arbiter keys list --tenant=acme)",
       .flags = {{.name = "cluster", .takes_value = false, .help = "the cluster keys"},
                 {.name = "all", .takes_value = false, .help = "every key (operator)"}},
       .run = RunKeysList},
      {.name = "keys revoke",
       .args = "KEY_ID",
       .summary = "revoke an API key",
       .details = R"(Revokes the key KEY_ID of --tenant (with --cluster, a cluster key). The log
refuses it from the revocation's offset on; every reader as soon as its
replica holds that offset, within --max_staleness (or it stops answering).

Example:
  arbiter keys revoke 3f2a9c0d5e6b7a81 --tenant=acme)",
       .min_args = 1, .max_args = 1,
       .flags = {{.name = "cluster", .takes_value = false, .help = "a cluster key"},
                 {.name = "print_token", .takes_value = false,
                  .help = "print only the consistency token (for --at_least)"}},
       .run = RunKeysRevoke},
      {.name = "keys rotate",
       .args = "KEY_ID",
       .summary = "replace an API key by a new one (printed once)",
       .details = R"(Revokes KEY_ID and creates its replacement, with the same tenant, scopes and
name, in one log entry. Prints the new key's text on the first line.

Example:
  arbiter keys rotate 3f2a9c0d5e6b7a81 --tenant=acme)",
       .min_args = 1, .max_args = 1,
       .flags = {{.name = "cluster", .takes_value = false, .help = "a cluster key"}},
       .run = RunKeysRotate},
  };
  return *table;
}

const Command* Find(absl::string_view name) {
  for (const Command& c : Table()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string Overview() {
  std::string out =
      "usage: arbiter <command> [args] [--flags]\n\n"
      "The command line of Arbiter: writes go to arbiter-log, reads to an\n"
      "arbiter-reader, status to arbiter-writer's admin service.\n\nCommands:\n";
  size_t width = 0;
  for (const Command& c : Table()) width = std::max(width, c.name.size());
  for (const Command& c : Table()) {
    absl::StrAppendFormat(&out, "  %-*s  %s\n", static_cast<int>(width), c.name, c.summary);
  }
  absl::StrAppend(&out, "\nCommon flags:\n", FormatFlagHelp(CommonFlags()),
                  "\nValues are Type:id (User:alice); a bare word is a String; literals are\n"
                  "Integer:3 and Boolean:true. Exit codes: 0 ok or allowed; 1 denied or a\n"
                  "failing test assertion; 2 usage, parse or server error.\n"
                  "Run `arbiter <command> --help` for a command's flags and examples.\n");
  return out;
}

}  // namespace

std::span<const Command> Commands() { return Table(); }

std::string Help(const Command* command) {
  if (command == nullptr) return Overview();
  std::string out = absl::StrCat("usage: arbiter ", command->name,
                                 command->args.empty() ? "" : " ", command->args,
                                 " [--flags]\n\n", command->details, "\n");
  if (!command->flags.empty()) {
    absl::StrAppend(&out, "\nFlags:\n", FormatFlagHelp(command->flags));
  }
  if (command->uses_server) {
    absl::StrAppend(&out, "\nCommon flags:\n", FormatFlagHelp(CommonFlags()));
  }
  return out;
}

int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
           absl::FunctionRef<const char*(const char*)> getenv, Terminal terminal) {
  std::vector<std::string> words(argv.begin() + std::min<size_t>(1, argv.size()), argv.end());
  if (words.empty()) {
    err << Overview();
    return kExitError;
  }
  if (words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    if (words.size() >= 2 && words[0] == "help") {
      std::string name = words[1];
      if (words.size() >= 3 && Find(name + " " + words[2]) != nullptr) {
        name += " " + words[2];
      }
      if (const Command* c = Find(name)) {
        out << Help(c);
        return kExitOk;
      }
      err << "arbiter: unknown command \"" << name << "\"\n\n" << Overview();
      return kExitError;
    }
    out << Overview();
    return kExitOk;
  }

  // The longest command name made of the leading words: "policy push".
  const Command* command = nullptr;
  size_t consumed = 0;
  if (words.size() >= 2) {
    command = Find(words[0] + " " + words[1]);
    consumed = 2;
  }
  if (command == nullptr) {
    command = Find(words[0]);
    consumed = 1;
  }
  if (command == nullptr) {
    // A group such as "policy" alone, or with an unknown subcommand.
    bool group = false;
    for (const Command& c : Table()) group |= c.name.rfind(words[0] + " ", 0) == 0;
    err << "arbiter: " << (group ? "missing or unknown subcommand of" : "unknown command")
        << " \"" << words[0] << "\"\n\n" << Overview();
    return kExitError;
  }

  std::vector<FlagSpec> specs = command->flags;
  if (command->uses_server) specs = Concat(specs, CommonFlags());
  std::span<const std::string> rest(words.data() + consumed, words.size() - consumed);
  auto args = ParseArgs(rest, specs);
  if (!args.ok()) {
    err << "arbiter " << command->name << ": " << args.status().message() << "\n\n"
        << Help(command);
    return kExitError;
  }
  if (args->GetBool("help")) {
    out << Help(command);
    return kExitOk;
  }
  auto options = ResolveOptions(*args, getenv);
  Context ctx(*command, *args, options.ok() ? *options : ClientOptions(), out, err, terminal);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  int n = static_cast<int>(args->positional().size());
  if (n < command->min_args || (command->max_args >= 0 && n > command->max_args)) {
    std::string expected =
        command->min_args == command->max_args ? absl::StrCat(command->min_args)
        : command->max_args < 0 ? absl::StrCat("at least ", command->min_args)
                                : absl::StrCat(command->min_args, " to ", command->max_args);
    return ctx.UsageError(absl::StrCat("expected ", expected, " argument",
                                       command->max_args == 1 ? "" : "s", ", got ", n));
  }
  if (args->GetBool("print_token") && options->json) {
    return ctx.UsageError("--print_token and --json are exclusive");
  }
  return command->run(ctx);
}

}  // namespace arbiter::cli
