// Writes the seed corpora of request_fuzz, log_entry_fuzz and token_fuzz
// (small valid inputs of each kind the harness reads, in its format: a
// selector byte, then a serialized message or a token). A one-off tool, not
// built by default:
//
//   cmake --build build-asan --target fuzz_make_seeds
//   build-asan/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
//
// The output is checked in; run this again only when a format changes.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "arbiter/v1/log.pb.h"
#include "arbiter/v1/reader.pb.h"
#include "common/api/api.h"
#include "common/base/crc32c.h"
#include "common/base/sha256.h"
#include "services/reader/page_token.h"

namespace arbiter {
namespace {

std::string out_dir;

void Write(const std::string& target, const std::string& name, char selector,
           const std::string& body) {
  const std::string dir = out_dir + "/" + target;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.put(selector);
  out << body;
}

void SetValue(v1::Value* v, const std::string& type, const std::string& id) {
  v->set_type(type);
  v->set_id(id);
}

void AddFact(v1::Fact* f, const std::string& predicate,
             std::initializer_list<std::pair<std::string, std::string>> args) {
  f->set_predicate(predicate);
  for (const auto& [type, id] : args) SetValue(f->add_args(), type, id);
}

const std::string kToken = api::EncodeConsistencyToken("fuzz-cluster", 7);

// ---- request_fuzz: selector byte % 10 picks the message type ----
// The page token a reader hands out after the first page of `r` whose last
// item is `last` (an id, or a serialized Fact).
template <typename Request>
std::string SecondPageToken(Request r, const std::string& last) {
  r.clear_page_size();
  r.clear_page_token();
  r.clear_consistency();
  return reader::EncodePageToken({reader::QueryHash(r), 7, last});
}

void RequestSeeds() {
  const std::string t = "request_fuzz";
  {
    v1::WriteRequest r;
    r.set_tenant("default");
    r.set_request_id("write-1");
    AddFact(r.add_operations()->mutable_insert(), "has_role",
            {{"User", "alice"}, {"String", "admin"}, {"Organization", "acme"}});
    AddFact(r.add_operations()->mutable_insert(), "is_public",
            {{"Repository", "tools"}});
    AddFact(r.add_operations()->mutable_insert(), "has_age",
            {{"User", "alice"}, {"Integer", "-12"}, {"Boolean", "true"}});
    Write(t, "write_insert", 0, r.SerializeAsString());
    r.clear_operations();
    auto* d = r.add_operations()->mutable_delete_pattern();
    d->set_predicate("has_role");
    SetValue(d->add_args(), "User", "");  // type-only wildcard
    SetValue(d->add_args(), "", "");      // wildcard
    SetValue(d->add_args(), "Organization", "acme");
    Write(t, "write_delete", 0, r.SerializeAsString());
  }
  {
    v1::CreateTenantRequest r;
    r.set_tenant("acme-1");
    r.set_request_id("create-1");
    Write(t, "create_tenant", 1, r.SerializeAsString());
  }
  {
    v1::SetPolicyRequest r;
    r.set_tenant("default");
    r.set_source("actor User {}\nresource Doc { permissions = [\"read\"]; }\n");
    r.set_filename("doc.polar");
    r.set_force(true);
    r.set_request_id("policy-1");
    Write(t, "set_policy", 2, r.SerializeAsString());
  }
  {
    v1::AuthorizeRequest r;
    r.set_tenant("default");
    SetValue(r.mutable_actor(), "User", "alice");
    r.set_action("push");
    SetValue(r.mutable_resource(), "Repository", "anvils");
    AddFact(r.add_context_facts(), "has_relation",
            {{"Repository", "anvils"},
             {"String", "parent"},
             {"Organization", "acme"}});
    r.mutable_consistency()->set_at_least(kToken);
    Write(t, "authorize", 3, r.SerializeAsString());
    r.clear_context_facts();
    r.mutable_consistency()->set_fully_consistent(true);
    Write(t, "authorize_fully_consistent", 3, r.SerializeAsString());
  }
  {
    v1::AuthorizeResourcesRequest r;
    r.set_tenant("default");
    SetValue(r.mutable_actor(), "User", "bob");
    r.set_action("read");
    SetValue(r.add_resources(), "Repository", "anvils");
    SetValue(r.add_resources(), "Repository", "tools");
    SetValue(r.add_resources(), "Organization", "acme");
    r.mutable_consistency()->set_minimize_latency(true);
    Write(t, "authorize_resources", 4, r.SerializeAsString());
  }
  {
    v1::ListRequest r;
    r.set_tenant("default");
    SetValue(r.mutable_actor(), "User", "alice");
    r.set_action("read");
    r.set_resource_type("Repository");
    r.set_page_size(1);
    Write(t, "list", 5, r.SerializeAsString());
    r.set_page_token(SecondPageToken(r, "anvils"));
    Write(t, "list_page2", 5, r.SerializeAsString());
  }
  {
    v1::ActionsRequest r;
    r.set_tenant("default");
    SetValue(r.mutable_actor(), "User", "alice");
    SetValue(r.mutable_resource(), "Repository", "anvils");
    Write(t, "actions", 6, r.SerializeAsString());
  }
  {
    v1::QueryRequest r;
    r.set_tenant("default");
    r.set_predicate("has_role");
    r.add_args()->set_variable("u");
    SetValue(r.add_args()->mutable_value(), "String", "admin");
    r.add_args()->set_variable("_");
    r.set_page_size(1);
    Write(t, "query", 7, r.SerializeAsString());
    v1::Fact last;
    AddFact(&last, "has_role",
            {{"User", "alice"}, {"String", "admin"}, {"Organization", "acme"}});
    r.set_page_token(SecondPageToken(r, last.SerializeAsString()));
    Write(t, "query_page2", 7, r.SerializeAsString());
  }
  {
    v1::GetFactsRequest r;
    r.set_tenant("default");
    auto* p = r.mutable_pattern();
    p->set_predicate("has_role");
    SetValue(p->add_args(), "User", "");
    SetValue(p->add_args(), "", "");
    SetValue(p->add_args(), "", "");
    r.set_page_size(1);
    Write(t, "get_facts", 8, r.SerializeAsString());
    v1::Fact last;
    AddFact(&last, "has_role",
            {{"User", "alice"}, {"String", "admin"}, {"Organization", "acme"}});
    r.set_page_token(SecondPageToken(r, last.SerializeAsString()));
    Write(t, "get_facts_page2", 8, r.SerializeAsString());
  }
  {
    v1::ExplainRequest r;
    r.set_tenant("default");
    SetValue(r.mutable_actor(), "User", "bob");
    r.set_action("push");
    SetValue(r.mutable_resource(), "Repository", "anvils");
    Write(t, "explain", 9, r.SerializeAsString());
  }
}

// ---- log_entry_fuzz: selector bit 0 = entry (0) or payload (1), bit 1
// keep an old offset, bit 2 only what the sequencer accepts ----
v1::LogEntry Entry(uint64_t offset, const std::string& tenant,
                   const v1::LogPayload& p) {
  v1::LogEntry e;
  e.set_offset(offset);
  e.set_tenant(tenant);
  e.set_time_unix_ms(1'700'000'000'000);
  p.SerializeToString(e.mutable_payload());
  e.set_payload_crc32c(Crc32c(e.payload()));
  return e;
}

void LogEntrySeeds() {
  const std::string t = "log_entry_fuzz";
  v1::LogPayload write;
  write.mutable_write()->set_request_id("w1");
  AddFact(write.mutable_write()->add_operations()->mutable_insert(), "has_role",
          {{"User", "alice"}, {"String", "reader"}, {"Doc", "d1"}});
  AddFact(write.mutable_write()->add_operations()->mutable_insert(), "has_role",
          {{"User", "bob"}, {"String", "reader"}, {"Doc", "d2"}});
  auto* d = write.mutable_write()->add_operations()->mutable_delete_pattern();
  d->set_predicate("has_role");
  SetValue(d->add_args(), "User", "bob");
  SetValue(d->add_args(), "", "");
  SetValue(d->add_args(), "Doc", "");
  v1::LogPayload policy;
  policy.mutable_set_policy()->set_source(
      "actor User {}\nresource Doc { roles = [\"reader\", \"owner\"]; "
      "permissions = "
      "[\"read\"];\n  \"read\" if \"reader\";\n  \"reader\" if \"owner\"; }\n");
  policy.mutable_set_policy()->set_filename("doc.polar");
  policy.mutable_set_policy()->set_request_id("p1");
  v1::LogPayload create;
  create.mutable_create_tenant()->set_request_id("c1");

  Write(t, "entry_write", 0, Entry(10, "fuzz", write).SerializeAsString());
  Write(t, "entry_policy", 0, Entry(11, "fuzz", policy).SerializeAsString());
  Write(t, "entry_create_other", 0,
        Entry(12, "other", create).SerializeAsString());
  Write(t, "entry_write_other", 0,
        Entry(13, "other", write).SerializeAsString());
  v1::LogEntry bad = Entry(14, "fuzz", write);
  bad.set_payload_crc32c(bad.payload_crc32c() ^ 1);
  Write(t, "entry_bad_crc", 0, bad.SerializeAsString());
  Write(t, "entry_stale", 2, Entry(1, "fuzz", write).SerializeAsString());
  v1::LogEntry chained = Entry(15, "fuzz", write);
  chained.set_chain(api::NextChain(0x1234, chained));
  Write(t, "entry_chained", 0, chained.SerializeAsString());
  Write(t, "payload_write", 1, write.SerializeAsString());
  Write(t, "payload_write_accepted", 5, write.SerializeAsString());
  Write(t, "payload_policy_accepted", 5, policy.SerializeAsString());
  Write(t, "payload_create", 1, create.SerializeAsString());
  // A batch (selector bit 3): [tenant byte][length byte][payload] records.
  auto record = [](char tenant, const std::string& payload) {
    return std::string(1, tenant) +
           std::string(1, static_cast<char>(payload.size())) + payload;
  };
  Write(t, "batch_two_tenants", 8,
        record(1, create.SerializeAsString()) +
            record(0, write.SerializeAsString()) +
            record(1, policy.SerializeAsString()) +
            record(1, write.SerializeAsString()) +
            record(0, policy.SerializeAsString()));
}

// ---- token_fuzz: selector byte % 4 ----
void TokenSeeds() {
  const std::string t = "token_fuzz";
  Write(t, "consistency_token", 0, kToken);
  {
    v1::ConsistencyTokenPayload p;
    p.set_cluster_id("c");
    p.set_offset(uint64_t{1} << 63);
    std::string token;
    absl::WebSafeBase64Escape(p.SerializeAsString(), &token);
    Write(t, "consistency_token_out_of_range", 0, token);
  }
  Write(t, "page_token_list", 1,
        reader::EncodePageToken(
            {"0123456789abcdef0123456789abcdef", 42, "anvils"}));
  {
    v1::Fact last;
    AddFact(&last, "has_role", {{"User", "a"}, {"String", "r"}, {"Doc", "d"}});
    Write(t, "page_token_fact", 1,
          reader::EncodePageToken({"fedcba9876543210fedcba9876543210", 0,
                                   last.SerializeAsString()}));
  }
  v1::SnapshotManifest m;
  Write(t, "manifest_empty", 2, m.SerializeAsString());
  m.set_snapshot_id("snap-00000000000000000005");
  m.set_cluster_id("fuzz-cluster");
  m.set_epoch(1);
  m.set_offset(5);
  m.set_created_unix_ms(1'700'000'000'000);
  auto* f = m.add_files();
  f->set_name("tenants/acme.db");
  f->set_size_bytes(0);
  f->set_sha256(Sha256Hex(""));
  auto* tenant = m.add_tenants();
  tenant->set_name("acme");
  tenant->set_file("tenants/acme.db");
  tenant->set_applied_offset(5);
  tenant->set_policy_version(2);
  Write(t, "manifest_one_tenant", 2, m.SerializeAsString());
  Write(t, "stored_manifest", 3, m.SerializeAsString());
  tenant->set_file("tenants/moved.db");
  f->set_name("tenants/moved.db");
  Write(t, "manifest_moved_file", 2, m.SerializeAsString());
  f->set_name("../escape.db");
  Write(t, "manifest_unsafe_name", 2, m.SerializeAsString());
  Write(t, "stored_manifest_garbage", 3, std::string("\x0a\xff\xff\xff", 4));
}

}  // namespace
}  // namespace arbiter

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (e.g. tests/fuzz/corpus)\n",
                 argv[0]);
    return 2;
  }
  arbiter::out_dir = argv[1];
  arbiter::RequestSeeds();
  arbiter::LogEntrySeeds();
  arbiter::TokenSeeds();
  return 0;
}
