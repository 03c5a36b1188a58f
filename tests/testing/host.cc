#include "tests/testing/host.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/host/data_dir.h"
#include "common/replica/replica_dir.h"
#include "common/storage/control_db.h"
#include "common/storage/tenant_db.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/keys.h"

namespace arbiter::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(60);

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

Host::Host(std::string dir, int log_port, HostOptions options)
    : dir_(std::move(dir)),
      data_dir_(dir_ + "/data"),
      log_port_(log_port),
      options_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
}

Host::~Host() {
  for (auto& [i, r] : readers_) {
    if (r.process) r.process->Kill();
  }
  if (writer_) writer_->Kill();
}

absl::Status Host::StartWriter(const std::vector<std::string>& extra_flags) {
  const std::string port_file = absl::StrCat(dir_, "/writer.port.", ++starts_);
  auto p = Process::Start(
      Concat(Concat({BinaryPath("services/writer/arbiter-writer"), "--listen=127.0.0.1:0",
                     "--port_file=" + port_file, "--data_dir=" + data_dir_,
                     absl::StrCat("--log_address=127.0.0.1:", log_port_), "--drain_grace=300ms",
                     "--reconnect_max=500ms", LogKeyFlag(dir_)},
                    options_.writer_flags),
             extra_flags),
      dir_ + "/writer.stderr", {}, options_.cpu);
  if (!p.ok()) return p.status();
  writer_.emplace(std::move(*p));
  auto port = WaitForPortFile(port_file, kStartTimeout, &*writer_);
  if (!port.ok()) return port.status();
  writer_port_ = *port;
  writer_stub_ = v1::WriterAdminService::NewStub(LocalChannel(*port));
  return absl::OkStatus();
}

absl::Status Host::StopWriter(int sig) {
  if (!writer_) return absl::OkStatus();
  writer_->Signal(sig);
  auto exit = writer_->Wait(absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  writer_.reset();
  return absl::OkStatus();
}

absl::Status Host::StartReader(int i, const std::vector<std::string>& extra_flags) {
  ReaderProc& r = readers_[i];
  const std::string port_file = absl::StrCat(dir_, "/reader-", i, ".port.", ++starts_);
  auto p = Process::Start(
      Concat(Concat({BinaryPath("services/reader/arbiter-reader"),
                     absl::StrCat("--listen=127.0.0.1:", r.port), "--port_file=" + port_file,
                     "--data_dir=" + data_dir_,
                     absl::StrCat("--log_address=127.0.0.1:", log_port_),
                     absl::StrCat("--reader_id=reader-", i), "--drain_grace=300ms",
                     LogKeyFlag(dir_)},
                    options_.reader_flags),
             extra_flags),
      absl::StrCat(dir_, "/reader-", i, ".stderr"), {}, options_.cpu);
  if (!p.ok()) return p.status();
  r.process.emplace(std::move(*p));
  auto port = WaitForPortFile(port_file, kStartTimeout, &*r.process);
  if (!port.ok()) return port.status();
  r.port = *port;
  r.stub = v1::ReaderService::NewStub(LocalChannel(r.port));
  return absl::OkStatus();
}

absl::Status Host::StopReader(int i, int sig) {
  auto it = readers_.find(i);
  if (it == readers_.end() || !it->second.process) return absl::OkStatus();
  it->second.process->Signal(sig);
  auto exit = it->second.process->Wait(absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  it->second.process.reset();
  return absl::OkStatus();
}

Process* Host::reader_process(int i) {
  auto it = readers_.find(i);
  if (it == readers_.end() || !it->second.process) return nullptr;
  return &*it->second.process;
}

absl::StatusOr<v1::GetStatusResponse> Host::WaitForWriter(v1::ReplicationState state,
                                                          uint64_t min_applied,
                                                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
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
      "writer of ", data_dir_, " did not reach ", v1::ReplicationState_Name(state),
      " at offset >= ", min_applied, "; last status: ", last.ShortDebugString(), " ",
      last_status.error_message(), "\nwriter log:\n",
      writer_ ? writer_->LogTail() : std::string("(not running)")));
}

absl::StatusOr<std::set<Fact>> ReplicaFacts(const std::string& data_dir,
                                            const std::string& tenant) {
  const host::DataDir dir(data_dir);
  ARBITER_ASSIGN_OR_RETURN(auto control,
                           storage::ControlDb::Open(dir.ControlDbPath(), {.read_only = true}));
  ARBITER_ASSIGN_OR_RETURN(storage::ControlState state, control->Read());
  ARBITER_ASSIGN_OR_RETURN(
      auto db, storage::TenantDb::Open(
                   dir.TenantPath(state.current_generation,
                                  replica::ReplicaDir::TenantRelativePath(tenant)),
                   {.read_only = true}));
  std::set<Fact> facts;
  ARBITER_RETURN_IF_ERROR(db->ForEachFact([&](const Fact& f) {
    facts.insert(f);
    return true;
  }));
  return facts;
}

}  // namespace arbiter::testing
