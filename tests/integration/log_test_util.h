#ifndef ARBITER_TESTS_INTEGRATION_LOG_TEST_UTIL_H_
#define ARBITER_TESTS_INTEGRATION_LOG_TEST_UTIL_H_

// Helpers for the arbiter-log integration tests: start the real binary on
// 127.0.0.1:0 with a data dir that survives restarts, typed RPC helpers,
// and a reader of the whole log through Subscribe.

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/process.h"

namespace arbiter::testing {

inline constexpr char kTestPolicy[] = R"(
actor User {}
resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "push"];
  "read" if "reader";
  "push" if "maintainer";
  "reader" if "maintainer";
  "read" if is_public(resource);
}
test "maintainers push" {
  setup { has_role(User{"a"}, "maintainer", Repository{"r"}); }
  assert allow(User{"a"}, "push", Repository{"r"});
  assert_not allow(User{"b"}, "push", Repository{"r"});
}
)";

// kTestPolicy without maintainers or is_public: SetPolicy with it fails its
// stored-fact check while such facts are stored.
inline constexpr char kNarrowerPolicy[] = R"(
actor User {}
resource Repository {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}
)";

inline grpc::ClientContext* WithDeadline(grpc::ClientContext* ctx,
                                         absl::Duration d = absl::Seconds(10)) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
}

// The entries a log writes on its first start, before any request: the
// reserved "_system" tenant (API keys on hosts) and the bootstrap key.
inline constexpr uint64_t kBootstrapEntries = 2;

class LogServer {
 public:
  // `dir` holds the data dir ("data") and the logs; it outlives restarts.
  explicit LogServer(const TempDir& dir, std::vector<std::string> flags = {})
      : dir_(dir), flags_(std::move(flags)) {}

  void Start(std::vector<std::string> extra = {}) {
    ++starts_;
    std::string port_file = dir_.File(absl::StrCat("port.", starts_));
    std::vector<std::string> argv = {BinaryPath("services/log/arbiter-log"),
                                     "--listen=127.0.0.1:0",
                                     "--port_file=" + port_file,
                                     "--data_dir=" + dir_.File("data"),
                                     "--drain_grace=300ms",
                                     BootstrapKeyFlag(dir_.path())};
    argv.insert(argv.end(), flags_.begin(), flags_.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = Process::Start(argv, dir_.File("log.txt"));
    REQUIRE(p.ok());
    process_ = std::make_unique<Process>(*std::move(p));
    auto port = WaitForPortFile(port_file, absl::Seconds(30), process_.get());
    INFO(process_->LogTail());
    REQUIRE(port.ok());
    port_ = *port;
    channel_ = LocalChannel(port_);
    stub_ = v1::LogService::NewStub(channel_);
  }

  void Kill() {
    stub_.reset();
    channel_.reset();
    if (process_) process_->Kill();
  }

  Process* process() { return process_.get(); }
  v1::LogService::Stub* stub() { return stub_.get(); }
  int port() const { return port_; }
  std::string data_dir() const { return dir_.File("data"); }

  grpc::Status CreateTenant(const std::string& tenant, uint64_t* offset = nullptr,
                            const std::string& request_id = "") {
    v1::CreateTenantRequest req;
    req.set_tenant(tenant);
    req.set_request_id(request_id);
    v1::CreateTenantResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateTenant(WithDeadline(&ctx), req, &resp);
    if (offset) *offset = resp.offset();
    return s;
  }
  grpc::Status SetPolicy(const std::string& tenant, const std::string& source,
                         bool force = false, v1::SetPolicyResponse* out = nullptr) {
    v1::SetPolicyRequest req;
    req.set_tenant(tenant);
    req.set_source(source);
    req.set_force(force);
    v1::SetPolicyResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->SetPolicy(WithDeadline(&ctx, absl::Seconds(60)), req, &resp);
    if (out) *out = resp;
    return s;
  }
  grpc::Status Write(const v1::WriteRequest& req, uint64_t* offset = nullptr) {
    v1::WriteResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Write(WithDeadline(&ctx), req, &resp);
    if (offset) *offset = resp.offset();
    return s;
  }
  v1::GetHeadResponse Head() {
    v1::GetHeadResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->GetHead(WithDeadline(&ctx), {}, &resp);
    REQUIRE(s.ok());
    return resp;
  }

  // Every entry from `from` to the head at the time of the call.
  std::vector<v1::LogEntry> ReadAll(uint64_t from = 1) {
    uint64_t head = Head().head_offset();
    std::vector<v1::LogEntry> out;
    if (head < from) return out;
    grpc::ClientContext ctx;
    WithDeadline(&ctx, absl::Seconds(60));
    v1::SubscribeRequest req;
    req.set_from_offset(from);
    auto reader = stub_->Subscribe(&ctx, req);
    v1::SubscribeResponse msg;
    while (reader->Read(&msg)) {
      CHECK(msg.durable_head() >= msg.entry().offset());
      if (!msg.has_entry()) continue;
      out.push_back(msg.entry());
      if (msg.entry().offset() >= head) break;
    }
    ctx.TryCancel();
    (void)reader->Finish();
    return out;
  }

 private:
  const TempDir& dir_;
  std::vector<std::string> flags_;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LogService::Stub> stub_;
};

inline v1::WriteRequest InsertRequest(const std::string& tenant,
                                      const std::vector<std::pair<std::string, std::string>>& facts,
                                      const std::string& request_id = "") {
  // facts: (predicate-shape, id): "public" -> is_public(Repository:id),
  // "reader" -> has_role(User:id, "reader", Repository:r)
  v1::WriteRequest w;
  w.set_tenant(tenant);
  w.set_request_id(request_id);
  for (const auto& [kind, id] : facts) {
    auto* f = w.add_operations()->mutable_insert();
    if (kind == "public") {
      f->set_predicate("is_public");
      auto* a = f->add_args();
      a->set_type("Repository");
      a->set_id(id);
    } else {
      f->set_predicate("has_role");
      auto* a = f->add_args();
      a->set_type("User");
      a->set_id(id);
      a = f->add_args();
      a->set_type("String");
      a->set_id(kind);
      a = f->add_args();
      a->set_type("Repository");
      a->set_id("r");
    }
  }
  return w;
}

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_INTEGRATION_LOG_TEST_UTIL_H_
