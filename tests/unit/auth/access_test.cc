#include "common/auth/access.h"

#include <google/protobuf/descriptor.h>

#include <string>

#include <catch2/catch.hpp>

#include "arbiter/v1/log.pb.h"
#include "arbiter/v1/reader.pb.h"
#include "arbiter/v1/writer_admin.pb.h"

namespace arbiter::auth {
namespace {

TEST_CASE("every RPC of every service has an access rule", "[unit][auth]") {
  // Linking the generated code registers the descriptors.
  (void)v1::WriteRequest::descriptor();
  (void)v1::AuthorizeRequest::descriptor();
  (void)v1::DrainRequest::descriptor();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* name :
       {"arbiter.v1.LogService", "arbiter.v1.ReaderService", "arbiter.v1.WriterAdminService"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    REQUIRE(service != nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      INFO(m->full_name());
      std::optional<Rule> rule = RuleFor(m->input_type()->full_name());
      REQUIRE(rule.has_value());
      // A tenant rule needs a `tenant` field to read.
      if (rule->tenant) CHECK(m->input_type()->FindFieldByName("tenant") != nullptr);
      ++methods;
    }
  }
  CHECK(methods == 24);
  CHECK_FALSE(RuleFor("arbiter.v1.NoSuchRequest").has_value());
}

TEST_CASE("scopes allow what docs/SECURITY.md says", "[unit][auth]") {
  const Rule read{kRead, true}, write{kWrite, true}, admin{kAdmin, true};
  const Rule replicate{kReplicate, false}, operator_only{kOperator, false};
  KeyGrant reader{.id = "r", .tenant = "acme", .scopes = kRead};
  CHECK(CheckGrant(reader, read, "acme").ok());
  CHECK(CheckGrant(reader, write, "acme").code() == absl::StatusCode::kPermissionDenied);
  CHECK(CheckGrant(reader, read, "globex").code() == absl::StatusCode::kPermissionDenied);
  CHECK(CheckGrant(reader, replicate, "").code() == absl::StatusCode::kPermissionDenied);
  CHECK(CheckGrant(reader, operator_only, "").code() == absl::StatusCode::kPermissionDenied);
  // A tenant rule for the cluster (tenant "": e.g. ListKeys of every key).
  KeyGrant admin_key{.id = "a", .tenant = "acme", .scopes = kAdmin};
  CHECK(CheckGrant(admin_key, admin, "acme").ok());
  CHECK_THAT(std::string(CheckGrant(admin_key, admin, "").message()),
             Catch::Contains("lacks the \"operator\" scope on the cluster"));
  // The refusal for another tenant does not depend on whether it exists:
  // it is decided before any lookup, from the key and the name alone.
  CHECK(std::string(CheckGrant(reader, read, "globex").message()) ==
        "API key r lacks the \"read\" scope on tenant \"globex\"");
  KeyGrant host{.id = "h", .tenant = "", .scopes = kReplicate};
  CHECK(CheckGrant(host, replicate, "").ok());
  CHECK(CheckGrant(host, read, "acme").code() == absl::StatusCode::kPermissionDenied);
  CHECK(CheckGrant(host, operator_only, "").code() == absl::StatusCode::kPermissionDenied);
  KeyGrant op{.id = "o", .tenant = "", .scopes = kOperator};
  for (const Rule& r : {read, write, admin, replicate, operator_only}) {
    CHECK(CheckGrant(op, r, "acme").ok());
    CHECK(CheckGrant(op, r, "").ok());
  }
}

}  // namespace
}  // namespace arbiter::auth
