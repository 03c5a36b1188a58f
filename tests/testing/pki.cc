#include "tests/testing/pki.h"

#include <cstdlib>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace arbiter::testing {
namespace {

absl::Status Run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    return absl::InternalError(absl::StrCat("failed: ", command));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Pki> MakePki(const std::string& dir, const std::string& name) {
  const std::string p = dir + "/" + name;
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  if (auto s = Run(absl::StrCat("openssl req -x509 ", ec, " -days 2 -subj /CN=", name,
                                "-ca -keyout ", p, "-ca.key -out ", p, "-ca.pem"));
      !s.ok()) {
    return s;
  }
  if (auto s = Run(absl::StrCat("openssl req ", ec, " -subj /CN=localhost -keyout ", p,
                                ".key -out ", p, ".csr"));
      !s.ok()) {
    return s;
  }
  if (!(std::ofstream(p + ".ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n")) {
    return absl::InternalError(absl::StrCat("cannot write ", p, ".ext"));
  }
  if (auto s = Run(absl::StrCat("openssl x509 -req -in ", p, ".csr -CA ", p, "-ca.pem -CAkey ",
                                p, "-ca.key -CAcreateserial -days 2 -extfile ", p,
                                ".ext -out ", p, ".pem"));
      !s.ok()) {
    return s;
  }
  return Pki{.ca = p + "-ca.pem", .cert = p + ".pem", .key = p + ".key"};
}

void UseTls(const Pki& pki, ClusterOptions* options) {
  const std::vector<std::string> serve = {"--tls_cert=" + pki.cert, "--tls_key=" + pki.key};
  auto add = [](std::vector<std::string>* flags, const std::vector<std::string>& more) {
    flags->insert(flags->end(), more.begin(), more.end());
  };
  add(&options->log_flags, serve);
  add(&options->log_flags, {"--tls_client_ca=" + pki.ca});
  add(&options->writer_flags, serve);
  add(&options->writer_flags, {"--tls_client_ca=" + pki.ca, "--tls_ca=" + pki.ca});
  add(&options->reader_flags, serve);
  add(&options->reader_flags, {"--tls_ca=" + pki.ca});
  options->client_tls = pki.ClientTls();
}

}  // namespace arbiter::testing
