#ifndef ARBITER_SERVICES_CLI_CONTEXT_H_
#define ARBITER_SERVICES_CLI_CONTEXT_H_

// What every command gets: its parsed arguments, the resolved connection
// options, lazily created stubs, and the output helpers that implement the
// CLI's conventions (exit codes, error lines, --json, consistency flags).
//
// Not thread-safe: one per invocation.

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/auth/client.h"
#include "services/cli/command_line.h"

namespace arbiter::cli {

// Exit codes (README "CLI").
inline constexpr int kExitOk = 0;       // success, allowed, every test passed
inline constexpr int kExitFalse = 1;    // denied (authorize), a failing assertion
inline constexpr int kExitError = 2;    // usage, parse or server error

inline constexpr char kDefaultTenant[] = "default";
inline constexpr char kDefaultLogAddress[] = "127.0.0.1:50051";
inline constexpr char kDefaultWriterAddress[] = "127.0.0.1:50052";
inline constexpr char kDefaultReaderAddress[] = "127.0.0.1:50053";
inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

// Flags -> environment -> defaults.
struct ClientOptions {
  std::string tenant = kDefaultTenant;
  std::string log_address = kDefaultLogAddress;
  std::string writer_address = kDefaultWriterAddress;
  std::string reader_address = kDefaultReaderAddress;
  absl::Duration timeout = kDefaultTimeout;
  bool json = false;
  // The API key sent with every call ("" for none).
  std::string key;
  // TLS: --tls_ca (else $ARBITER_TLS_CA; none: plaintext), --tls_cert and
  // --tls_key (a client certificate, for mTLS).
  auth::ClientTls tls;
};

// Reads --tenant/$ARBITER_TENANT, --log/$ARBITER_LOG_ADDRESS,
// --writer/$ARBITER_WRITER_ADDRESS, --reader/$ARBITER_READER_ADDRESS,
// --timeout (a duration such as 10s, 500ms; > 0), --json, and the API key:
// --key, else --key_file, else $ARBITER_KEY, else $ARBITER_KEY_FILE.
// `getenv` is injectable for tests. INVALID_ARGUMENT naming the flag.
absl::StatusOr<ClientOptions> ResolveOptions(
    const ParsedArgs& args,
    absl::FunctionRef<const char*(const char*)> getenv);

struct Command;

// Which of the output streams is a terminal (main.cc asks isatty): progress
// bars and redrawn screens only there, plain lines otherwise.
struct Terminal {
  bool out = false;
  bool err = false;
};

class Context {
 public:
  Context(const Command& command, const ParsedArgs& args, ClientOptions options,
          std::ostream& out, std::ostream& err, Terminal terminal = {})
      : command_(command),
        args_(args),
        options_(std::move(options)),
        out_(out),
        err_(err),
        terminal_(terminal) {}

  const Command& command() const { return command_; }
  const ParsedArgs& args() const { return args_; }
  const ClientOptions& options() const { return options_; }
  const std::string& tenant() const { return options_.tenant; }
  bool json() const { return options_.json; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const Terminal& terminal() const { return terminal_; }

  v1::LogService::Stub& log();
  v1::ReaderService::Stub& reader();
  v1::WriterAdminService::Stub& writer();

  // A channel to `address` with the key and TLS options (for services
  // without a stub here, such as grpc.health.v1.Health).
  std::shared_ptr<grpc::Channel> Channel(const std::string& address);

  // Every RPC gets a fresh ClientContext with the --timeout deadline.
  std::unique_ptr<grpc::ClientContext> NewCall() const;

  // Prints "arbiter: CODE: message" (and which service at which address)
  // to stderr; returns kExitError.
  int RpcError(const grpc::Status& status, absl::string_view service);
  // Prints "arbiter <command>: message", the command's usage and a pointer to
  // --help to stderr; returns kExitError.
  int UsageError(absl::string_view message);
  // Prints "arbiter: message" to stderr; returns kExitError. For parse errors
  // in input files, where the usage is not the problem.
  int Error(absl::string_view message);

  // One line of protobuf JSON (lowerCamelCase names, defaults included).
  void PrintJson(const google::protobuf::Message& message);

  // --at_least / --fully_consistent as a Consistency (none: the server's
  // default, minimize_latency). INVALID_ARGUMENT if both are given.
  absl::StatusOr<std::optional<v1::Consistency>> Consistency() const;

  // The result of a write (Write, SetPolicy, CreateTenant): with
  // --print_token only the token; with --json the response; else a line.
  int PrintWrite(const google::protobuf::Message& response, uint64_t offset,
                 const std::string& token, absl::string_view what);

 private:
  const Command& command_;
  const ParsedArgs& args_;
  ClientOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  const Terminal terminal_;
  std::unique_ptr<v1::LogService::Stub> log_;
  std::unique_ptr<v1::ReaderService::Stub> reader_;
  std::unique_ptr<v1::WriterAdminService::Stub> writer_;
};

// The contents of the file at `path`, or of stdin for "-". NOT_FOUND
// "PATH: cannot open".
absl::StatusOr<std::string> ReadInput(const std::string& path);

// The JSON of `message` as Context::PrintJson prints it (no newline).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace arbiter::cli

#endif  // ARBITER_SERVICES_CLI_CONTEXT_H_
