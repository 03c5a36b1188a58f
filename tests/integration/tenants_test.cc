// Descriptors do not grow with the number of tenants (#11 item 7): 2,000
// tenants, each with a policy and a fact, on a suite whose processes inherit
// a hard limit of 1,024 open files (SQLite keeps three per open database).
// Its own binary: the limit, once lowered, stays lowered for the process.

#include <sys/resource.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "tests/testing/cluster.h"
#include "tests/testing/grpc_probe.h"

namespace arbiter::testing {
namespace {

constexpr char kPolicy[] =
    "allow(_actor, _action, resource) if is_public(resource);\n"
    "declare is_public(Doc);\n";

TEST_CASE("2000 tenants under a 1024 open-file limit", "[integration][tenants]") {
  rlimit lim{1024, 1024};
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);  // inherited by every process below
  auto c = Cluster::Start({.readers = 1});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  Cluster& cl = **c;
  constexpr int kTenants = 2000;
  std::atomic<int> next{0}, failed{0};
  std::atomic<uint64_t> last{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < kTenants;) {
        const std::string tenant = absl::StrCat("t", i);
        v1::WriteRequest w;
        w.set_tenant(tenant);
        auto* f = w.add_operations()->mutable_insert();
        f->set_predicate("is_public");
        f->add_args()->set_type("Doc");
        f->mutable_args(0)->set_id("d");
        auto created = cl.CreateTenant(tenant);
        auto policy = created.ok() ? cl.SetPolicy(tenant, kPolicy) : created;
        auto written = policy.ok() ? cl.Write(w) : policy;
        if (!written.ok()) {
          if (failed++ < 3) WARN(tenant << ": " << written.status().ToString());
          continue;
        }
        uint64_t seen = last.load();
        while (*written > seen && !last.compare_exchange_weak(seen, *written)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(failed == 0);
  auto live = cl.WaitForWriter(v1::REPLICATION_STATE_LIVE, last.load(), absl::Seconds(300));
  INFO(live.status().ToString());
  REQUIRE(live.ok());
  REQUIRE(WaitForHealth(LocalChannel(cl.reader_port(0)).get(), Health::kServing,
                        absl::Seconds(60))
              .ok());
  // Every 50th tenant answers from the reader, at the offset of the last write.
  for (int i = 0; i < kTenants; i += 50) {
    v1::AuthorizeRequest req;
    req.set_tenant(absl::StrCat("t", i));
    req.mutable_actor()->set_type("User");
    req.mutable_actor()->set_id("x");
    req.set_action("read");
    req.mutable_resource()->set_type("Doc");
    req.mutable_resource()->set_id("d");
    req.mutable_consistency()->set_fully_consistent(true);
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(absl::Seconds(30)));
    v1::AuthorizeResponse resp;
    grpc::Status s = cl.reader(0).Authorize(&ctx, req, &resp);
    INFO("tenant t" << i << ": " << s.error_message());
    REQUIRE(s.ok());
    CHECK(resp.allowed());
  }
  for (Process* p : {cl.writer_process()}) {
    CHECK_THAT(p->LogTail(1 << 20), !Catch::Contains("Too many open files"));
  }
}

}  // namespace
}  // namespace arbiter::testing
