#include "services/cli/context.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include <google/protobuf/util/json_util.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/auth/api_key.h"
#include "common/auth/client.h"
#include "services/cli/cli.h"

namespace arbiter::cli {
namespace {

std::string FromFlagOrEnv(const ParsedArgs& args, absl::string_view flag,
                          absl::FunctionRef<const char*(const char*)> getenv,
                          const char* env, const std::string& fallback) {
  if (args.Has(flag)) return args.Get(flag);
  const char* v = getenv(env);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

}  // namespace

absl::StatusOr<ClientOptions> ResolveOptions(
    const ParsedArgs& args, absl::FunctionRef<const char*(const char*)> getenv) {
  ClientOptions o;
  o.tenant = FromFlagOrEnv(args, "tenant", getenv, "ARBITER_TENANT", o.tenant);
  o.log_address = FromFlagOrEnv(args, "log", getenv, "ARBITER_LOG_ADDRESS", o.log_address);
  o.writer_address =
      FromFlagOrEnv(args, "writer", getenv, "ARBITER_WRITER_ADDRESS", o.writer_address);
  o.reader_address =
      FromFlagOrEnv(args, "reader", getenv, "ARBITER_READER_ADDRESS", o.reader_address);
  for (const auto* a : {&o.tenant, &o.log_address, &o.writer_address, &o.reader_address}) {
    if (a->empty()) return absl::InvalidArgumentError("--tenant and addresses must not be empty");
  }
  if (args.Has("timeout")) {
    std::string t = args.Get("timeout");
    if (!absl::ParseDuration(t, &o.timeout) || o.timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--timeout: \"", t, "\" is not a positive duration (e.g. 10s, 500ms)"));
    }
  }
  o.json = args.GetBool("json");
  std::string key_file;
  if (args.Has("key")) {
    o.key = args.Get("key");
  } else if (args.Has("key_file")) {
    key_file = args.Get("key_file");
  } else if (const char* k = getenv("ARBITER_KEY"); k != nullptr && *k != '\0') {
    o.key = k;
  } else if (const char* f = getenv("ARBITER_KEY_FILE"); f != nullptr && *f != '\0') {
    key_file = f;
  }
  if (!key_file.empty()) {
    absl::StatusOr<std::string> key = auth::ReadKeyFile(key_file);
    if (!key.ok()) return key.status();
    o.key = *key;
  }
  o.tls.ca = FromFlagOrEnv(args, "tls_ca", getenv, "ARBITER_TLS_CA", "");
  o.tls.cert = FromFlagOrEnv(args, "tls_cert", getenv, "ARBITER_TLS_CERT", "");
  o.tls.key = FromFlagOrEnv(args, "tls_key", getenv, "ARBITER_TLS_KEY", "");
  if (o.tls.cert.empty() != o.tls.key.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key ($ARBITER_TLS_CERT, $ARBITER_TLS_KEY): give both or neither");
  }
  if (!o.tls.cert.empty() && o.tls.ca.empty()) {
    return absl::InvalidArgumentError("--tls_cert: needs --tls_ca (or $ARBITER_TLS_CA)");
  }
  if (!o.key.empty() && !auth::ParseKeyId(o.key).ok()) {
    return absl::InvalidArgumentError(
        "--key / $ARBITER_KEY: not an API key (arb_<16 hex digits>_<64 hex digits>)");
  }
  return o;
}

std::shared_ptr<grpc::Channel> Context::Channel(const std::string& address) {
  return auth::CreateKeyedChannel(address, options_.key, auth::ChannelCredentials(options_.tls));
}

v1::LogService::Stub& Context::log() {
  if (!log_) log_ = v1::LogService::NewStub(Channel(options_.log_address));
  return *log_;
}

v1::ReaderService::Stub& Context::reader() {
  if (!reader_) reader_ = v1::ReaderService::NewStub(Channel(options_.reader_address));
  return *reader_;
}

v1::WriterAdminService::Stub& Context::writer() {
  if (!writer_) writer_ = v1::WriterAdminService::NewStub(Channel(options_.writer_address));
  return *writer_;
}

std::unique_ptr<grpc::ClientContext> Context::NewCall() const {
  auto call = std::make_unique<grpc::ClientContext>();
  call->set_deadline(std::chrono::system_clock::now() +
                     absl::ToChronoMilliseconds(options_.timeout));
  return call;
}

int Context::RpcError(const grpc::Status& status, absl::string_view service) {
  std::string address = service == "arbiter-log"      ? options_.log_address
                        : service == "arbiter-writer" ? options_.writer_address
                                                      : options_.reader_address;
  err_ << "arbiter: "
       << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))
       << ": " << status.error_message() << " (" << service << " at " << address << ")\n";
  return kExitError;
}

int Context::UsageError(absl::string_view message) {
  err_ << "arbiter " << command_.name << ": " << message << "\n\n" << Help(&command_);
  return kExitError;
}

int Context::Error(absl::string_view message) {
  err_ << "arbiter: " << message << "\n";
  return kExitError;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  // Serializing a valid in-memory message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void Context::PrintJson(const google::protobuf::Message& message) {
  out_ << ToJson(message) << "\n";
}

absl::StatusOr<std::optional<v1::Consistency>> Context::Consistency() const {
  bool at_least = args_.Has("at_least");
  bool fully = args_.GetBool("fully_consistent");
  if (at_least && fully) {
    return absl::InvalidArgumentError("--at_least and --fully_consistent are exclusive");
  }
  if (at_least) {
    if (args_.Get("at_least").empty()) {
      return absl::InvalidArgumentError("--at_least: empty token");
    }
    v1::Consistency c;
    c.set_at_least(args_.Get("at_least"));
    return c;
  }
  if (fully) {
    v1::Consistency c;
    c.set_fully_consistent(true);
    return c;
  }
  return std::nullopt;
}

int Context::PrintWrite(const google::protobuf::Message& response, uint64_t offset,
                        const std::string& token, absl::string_view what) {
  if (args_.GetBool("print_token")) {
    out_ << token << "\n";
  } else if (json()) {
    PrintJson(response);
  } else {
    out_ << what << " at offset " << offset << "\n"
         << "consistency token: " << token << "\n";
  }
  return kExitOk;
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    ss << in.rdbuf();
  }
  return ss.str();
}

}  // namespace arbiter::cli
