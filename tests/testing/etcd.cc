#include "tests/testing/etcd.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "etcdserverpb/rpc.grpc.pb.h"

namespace arbiter::testing {

absl::StatusOr<int> PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return absl::InternalError("bind 127.0.0.1:0");
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int members) {
  std::unique_ptr<EtcdCluster> c(new EtcdCluster());
  std::vector<std::string> peers;
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    auto client = PickFreePort();
    auto peer = PickFreePort();
    if (!client.ok()) return client.status();
    if (!peer.ok()) return peer.status();
    m.client_port = *client;
    m.peer_port = *peer;
    m.data_dir = c->root_.File(m.name);
    peers.push_back(absl::StrCat(m.name, "=http://127.0.0.1:", m.peer_port));
    c->members_.push_back(std::move(m));
  }
  c->initial_cluster_ = absl::StrJoin(peers, ",");
  for (int i = 0; i < members; ++i) {
    if (absl::Status s = c->Launch(i, true); !s.ok()) return s;
  }
  for (int i = 0; i < members; ++i) {
    if (absl::Status s = c->WaitReady(i); !s.ok()) return s;
  }
  return c;
}

EtcdCluster::~EtcdCluster() {
  for (Member& m : members_) {
    if (m.process) m.process->Kill();
  }
}

absl::Status EtcdCluster::Launch(int i, bool first_start) {
  Member& m = members_[i];
  const std::string client = absl::StrCat("http://127.0.0.1:", m.client_port);
  const std::string peer = absl::StrCat("http://127.0.0.1:", m.peer_port);
  std::vector<std::string> argv = {
      "/usr/bin/etcd",
      "--name=" + m.name,
      "--data-dir=" + m.data_dir,
      "--listen-client-urls=" + client,
      "--advertise-client-urls=" + client,
      "--listen-peer-urls=" + peer,
      "--initial-advertise-peer-urls=" + peer,
      "--initial-cluster=" + initial_cluster_,
      std::string("--initial-cluster-state=") + (first_start ? "new" : "existing"),
      "--initial-cluster-token=arbiter-test",
      "--logger=zap",
      "--log-level=warn",
      // Elections within a second on a busy 2-core machine.
      "--heartbeat-interval=100",
      "--election-timeout=1000",
  };
  auto p = Process::Start(argv, root_.File(m.name + ".log"));
  if (!p.ok()) return p.status();
  m.process = std::move(*p);
  return absl::OkStatus();
}

absl::Status EtcdCluster::Stop(int i, int sig) {
  Member& m = members_[i];
  if (!m.process) return absl::OkStatus();
  m.process->Signal(sig);
  auto exited = m.process->Wait(absl::Seconds(30));
  if (!exited.ok()) {
    m.process->Kill();
  }
  m.process.reset();
  return absl::OkStatus();
}

absl::Status EtcdCluster::Restart(int i) {
  if (absl::Status s = Launch(i, false); !s.ok()) return s;
  return WaitReady(i);
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back(absl::StrCat("127.0.0.1:", m.client_port));
  return out;
}

absl::StatusOr<int> EtcdCluster::Leader() const {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!members_[i].process) continue;
    const std::string out = root_.File(absl::StrCat("status.", i, ".json"));
    std::remove(out.c_str());
    auto p = Process::Start({"/usr/bin/etcdctl",
                             absl::StrCat("--endpoints=127.0.0.1:", members_[i].client_port),
                             "--command-timeout=2s", "endpoint", "status", "--write-out=json"},
                            out, {"ETCDCTL_API=3"});
    if (!p.ok()) return p.status();
    auto exited = p->Wait(absl::Seconds(10));
    if (!exited.ok()) continue;
    std::ifstream in(out);
    std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // {"header":{..."member_id":M,...},..."leader":L,...}
    auto number_after = [&](const std::string& key) -> std::string {
      size_t at = json.find("\"" + key + "\":");
      if (at == std::string::npos) return "";
      at += key.size() + 3;
      size_t end = json.find_first_not_of("0123456789", at);
      return json.substr(at, end - at);
    };
    const std::string member = number_after("member_id");
    if (!member.empty() && member == number_after("leader")) return static_cast<int>(i);
  }
  return absl::NotFoundError("no etcd member is the leader");
}

absl::Status EtcdCluster::WaitReady(int i, absl::Duration timeout) const {
  const Member& m = members_[i];
  const absl::Time deadline = absl::Now() + timeout;
  grpc::Status last;
  while (absl::Now() < deadline) {
    // A fresh channel each time: a channel that failed to connect waits out
    // gRPC's reconnect backoff (1 s, doubling) before trying again.
    auto stub = etcdserverpb::KV::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", m.client_port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    etcdserverpb::RangeRequest req;
    req.set_key("/arbiter-test-ready");
    etcdserverpb::RangeResponse resp;
    last = stub->Range(&ctx, req, &resp);
    if (last.ok()) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(absl::StrCat("etcd member ", m.name, " not ready after ",
                                             absl::FormatDuration(timeout), ": ",
                                             last.error_message(), "; log: ",
                                             m.process ? m.process->LogTail(2000) : "-"));
}

}  // namespace arbiter::testing
