#include "tests/testing/cluster.h"

#include "absl/strings/str_cat.h"
#include "common/server/grpc_status.h"
#include "tests/testing/grpc_probe.h"

namespace arbiter::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(60);

std::vector<std::string> Concat(std::vector<std::string> a,
                                const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

std::shared_ptr<grpc::Channel> Cluster::Channel(int port) const {
  if (options_.client_tls.ca.empty()) return LocalChannel(port);
  return auth::CreateKeyedChannel(absl::StrCat("127.0.0.1:", port), kTestKey,
                                  auth::ChannelCredentials(options_.client_tls));
}

absl::StatusOr<int> Cluster::MetricsPort(const std::string& process) const {
  return WaitForPortFile(root_.File(process + ".metrics.port"), absl::Seconds(30));
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(ClusterOptions options) {
  std::unique_ptr<Cluster> c(new Cluster(std::move(options)));
  c->log_data_dir_ = c->root_.File("log");
  c->host_data_dir_ = c->root_.File("host");
  c->readers_.resize(c->options_.readers);
  if (auto s = c->StartLog(); !s.ok()) return s;
  if (c->options_.start_writer) {
    if (auto s = c->StartWriter(); !s.ok()) return s;
  }
  for (int i = 0; i < c->options_.readers; ++i) {
    if (auto s = c->StartReader(i); !s.ok()) return s;
  }
  return c;
}

Cluster::~Cluster() {
  for (auto& r : readers_) {
    if (r.process) r.process->Kill();
  }
  if (writer_) writer_->Kill();
  if (log_) log_->Kill();
}

absl::Status Cluster::StartLog(const std::vector<std::string>& extra_flags) {
  std::string port_file = root_.File(absl::StrCat("log.port.", ++starts_));
  std::string listen = absl::StrCat("127.0.0.1:", log_port_);
  auto p = Process::Start(
      Concat(Concat({BinaryPath("services/log/arbiter-log"), "--listen=" + listen,
                     "--port_file=" + port_file, "--data_dir=" + log_data_dir_,
                     "--drain_grace=300ms", BootstrapKeyFlag(root_.path()),
                     "--metrics_listen=127.0.0.1:0",
                     "--metrics_port_file=" + root_.File("log.metrics.port")},
                    options_.log_flags),
             extra_flags),
      root_.File("log.stderr"), {}, options_.log_cpu);
  if (!p.ok()) return p.status();
  log_.emplace(std::move(*p));
  auto port = WaitForPortFile(port_file, kStartTimeout, &*log_);
  if (!port.ok()) return port.status();
  log_port_ = *port;
  log_stub_ = v1::LogService::NewStub(Channel(log_port_));
  return absl::OkStatus();
}

absl::Status Cluster::StopLog(int sig) {
  if (!log_) return absl::OkStatus();
  log_->Signal(sig);
  auto exit = log_->Wait(absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  log_.reset();
  return absl::OkStatus();
}

absl::Status Cluster::StartWriter(const std::vector<std::string>& extra_flags) {
  std::string port_file = root_.File(absl::StrCat("writer.port.", ++starts_));
  auto p = Process::Start(
      Concat(Concat({BinaryPath("services/writer/arbiter-writer"),
                     "--listen=127.0.0.1:0", "--port_file=" + port_file,
                     "--data_dir=" + host_data_dir_,
                     absl::StrCat("--log_address=127.0.0.1:", log_port_),
                     "--drain_grace=300ms", "--reconnect_max=500ms", LogKeyFlag(root_.path()),
                     "--metrics_listen=127.0.0.1:0",
                     "--metrics_port_file=" + root_.File("writer.metrics.port")},
                    options_.writer_flags),
             extra_flags),
      root_.File("writer.stderr"));
  if (!p.ok()) return p.status();
  writer_.emplace(std::move(*p));
  auto port = WaitForPortFile(port_file, kStartTimeout, &*writer_);
  if (!port.ok()) return port.status();
  writer_port_ = *port;
  writer_stub_ = v1::WriterAdminService::NewStub(Channel(writer_port_));
  return absl::OkStatus();
}

absl::Status Cluster::StopWriter(int sig) {
  if (!writer_) return absl::OkStatus();
  writer_->Signal(sig);
  auto exit = writer_->Wait(absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  writer_.reset();
  return absl::OkStatus();
}

absl::Status Cluster::StartReader(int i, const std::vector<std::string>& extra_flags) {
  ReaderProc& r = readers_[i];
  std::string port_file = root_.File(absl::StrCat("reader", i, ".port.", ++starts_));
  std::string listen = absl::StrCat("127.0.0.1:", r.port);
  auto p = Process::Start(
      Concat(Concat({BinaryPath("services/reader/arbiter-reader"),
                     "--listen=" + listen, "--port_file=" + port_file,
                     "--data_dir=" + host_data_dir_,
                     absl::StrCat("--log_address=127.0.0.1:", log_port_),
                     absl::StrCat("--reader_id=reader-", i), "--drain_grace=300ms",
                     LogKeyFlag(root_.path()), "--metrics_listen=127.0.0.1:0",
                     "--metrics_port_file=" + root_.File(absl::StrCat("reader", i, ".metrics.port"))},
                    options_.reader_flags),
             extra_flags),
      root_.File(absl::StrCat("reader", i, ".stderr")));
  if (!p.ok()) return p.status();
  r.process.emplace(std::move(*p));
  auto port = WaitForPortFile(port_file, kStartTimeout, &*r.process);
  if (!port.ok()) return port.status();
  r.port = *port;
  r.stub = v1::ReaderService::NewStub(Channel(r.port));
  return absl::OkStatus();
}

absl::Status Cluster::StopReader(int i, int sig) {
  ReaderProc& r = readers_[i];
  if (!r.process) return absl::OkStatus();
  r.process->Signal(sig);
  auto exit = r.process->Wait(absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  r.process.reset();
  return absl::OkStatus();
}

absl::StatusOr<v1::GetStatusResponse> Cluster::WaitForWriter(
    v1::ReplicationState state, uint64_t min_applied, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  v1::GetStatusResponse last;
  grpc::Status last_status;
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::GetStatusResponse resp;
    last_status = writer_stub_->GetStatus(&ctx, v1::GetStatusRequest(), &resp);
    if (last_status.ok()) {
      last = resp;
      if (resp.replication_state() == state && resp.applied_offset() >= min_applied) {
        return resp;
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "writer did not reach ", v1::ReplicationState_Name(state), " at offset >= ",
      min_applied, "; last status: ", last.ShortDebugString(), " ",
      last_status.error_message(), "\nwriter log:\n",
      writer_ ? writer_->LogTail() : std::string("(not running)")));
}

absl::StatusOr<uint64_t> Cluster::CreateTenant(const std::string& tenant) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
  v1::CreateTenantRequest req;
  req.set_tenant(tenant);
  v1::CreateTenantResponse resp;
  auto s = server::FromGrpcStatus(log_stub_->CreateTenant(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp.offset();
}

absl::StatusOr<uint64_t> Cluster::SetPolicy(const std::string& tenant,
                                            const std::string& source) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
  v1::SetPolicyRequest req;
  req.set_tenant(tenant);
  req.set_source(source);
  v1::SetPolicyResponse resp;
  auto s = server::FromGrpcStatus(log_stub_->SetPolicy(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp.offset();
}

absl::StatusOr<uint64_t> Cluster::Write(const v1::WriteRequest& request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
  v1::WriteResponse resp;
  auto s = server::FromGrpcStatus(log_stub_->Write(&ctx, request, &resp));
  if (!s.ok()) return s;
  return resp.offset();
}

}  // namespace arbiter::testing
