// log_entry_fuzz: bytes -> a log entry -> the checks the writer makes before
// applying (the entry continues the log's hash chain: api::NextChain, as in
// writer::Replicator::CheckChain; the applier's own: CRC32C of the payload,
// the payload parses as a v1::LogPayload, a valid tenant name:
// replica::Applier::ApplyBatch) -> the apply itself, into a real replica
// (ReplicaDir with SQLite tenant databases) in a scratch directory made once
// per process (under /dev/shm, so SQLite's fsyncs are free), holding the
// tenant "fuzz" (created and given a policy at start).
//
// The first byte chooses how the rest is read:
//   bit 0 = 0  the rest is a serialized v1::LogEntry, applied as received
//              (its CRC32C, chain and tenant as they are; libFuzzer's
//              comparison tracing finds CRCs and chains that match) unless
//              its chain (when both it and the previous one are recorded)
//              does not follow the previous entry's;
//   bit 0 = 1  the rest is the payload; the harness wraps it in an entry with
//              the right CRC32C, so the fuzzer works on LogPayload itself;
//   bit 1      keep the entry's own offset when it is below the next one (the
//              applier must skip it: idempotence), else the next offset;
//   bit 2      payload mode: apply only what the log's sequencer would have
//              accepted (api::Validate*Request on the same content), and
//              then the apply must succeed and record the offset;
//   bit 3      a batch (overrides the rest): records of [tenant byte]
//              [length byte][payload], each wrapped in an entry with the
//              right CRC32C for "fuzz" (tenant byte even) or "other" (odd),
//              at most 16, applied in one ApplyBatch (grouped by tenant, one
//              transaction each, one connection kept open).
// A valid tenant name other than "fuzz" is renamed "other" (which exists
// only after a creation entry for it), so at most two databases exist (the
// applier keeps one connection open, so alternating tenants reopens them); the
// replica starts over every 4,096 inputs so it never grows without bound.
// Each input takes well under 10 ms.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "arbiter/v1/log.pb.h"
#include "common/api/api.h"
#include "common/base/crc32c.h"
#include "common/replica/applier.h"
#include "common/replica/replica_dir.h"
#include "tests/fuzz/fuzz_util.h"

namespace arbiter::fuzz {
namespace {

constexpr char kTenant[] = "fuzz";
constexpr char kOther[] = "other";
constexpr int kInputsPerReplica = 4096;
constexpr int kMaxBatch = 16;

struct State {
  std::string root;
  std::unique_ptr<replica::Applier> applier;
  uint64_t next_offset = 1;
  uint64_t chain = 0;  // of the last entry taken as received (0: unknown)
  int inputs = 0;
};

v1::LogEntry MakeEntry(uint64_t offset, const std::string& tenant,
                       std::string payload) {
  v1::LogEntry e;
  e.set_offset(offset);
  e.set_tenant(tenant);
  e.set_time_unix_ms(1'700'000'000'000);
  e.set_payload(std::move(payload));
  e.set_payload_crc32c(Crc32c(e.payload()));
  return e;
}

// A fresh replica holding the tenant "fuzz" with a small policy.
void StartReplica(State& s) {
  s.applier.reset();
  RemoveTree(s.root);
  // One open connection: touching the other tenant closes and reopens.
  auto applier = replica::Applier::Open({.replica_dir = s.root,
                                         .cluster_id = "fuzz-cluster",
                                         .max_open_tenants = 1});
  Check(applier.ok(), "Applier::Open in the scratch directory");
  s.applier = *std::move(applier);
  v1::LogPayload create;
  create.mutable_create_tenant()->set_request_id("create");
  v1::LogPayload policy;
  policy.mutable_set_policy()->set_source(
      "actor User {}\nresource Doc { roles = [\"reader\"]; permissions = "
      "[\"read\"];\n"
      "  \"read\" if \"reader\"; }\n");
  Check(s.applier
            ->ApplyBatch({MakeEntry(1, kTenant, create.SerializeAsString()),
                          MakeEntry(2, kTenant, policy.SerializeAsString())})
            .ok(),
        "the tenant \"fuzz\" is created");
  s.next_offset = 3;
  s.chain = 0;
  s.inputs = 0;
}

State& TheState() {
  static State* state = [] {
    auto* s = new State;
    s->root = ScratchDir("log_entry_fuzz") + "/replica";
    StartReplica(*s);
    return s;
  }();
  return *state;
}

// What the log's sequencer accepts (services/log/sequencer.cc validates the
// request an entry is made from with these same functions).
bool SequencerWouldAccept(const std::string& tenant, const v1::LogPayload& p) {
  switch (p.kind_case()) {
    case v1::LogPayload::kWrite: {
      v1::WriteRequest r;
      r.set_tenant(tenant);
      *r.mutable_operations() = p.write().operations();
      r.set_request_id(p.write().request_id());
      return api::ValidateWriteRequest(r).ok();
    }
    case v1::LogPayload::kSetPolicy: {
      v1::SetPolicyRequest r;
      r.set_tenant(tenant);
      r.set_source(p.set_policy().source());
      r.set_filename(p.set_policy().filename());
      r.set_request_id(p.set_policy().request_id());
      return api::ValidateSetPolicyRequest(r).ok();
    }
    case v1::LogPayload::kCreateTenant: {
      v1::CreateTenantRequest r;
      r.set_tenant(tenant);
      r.set_request_id(p.create_tenant().request_id());
      return api::ValidateCreateTenantRequest(r).ok();
    }
    case v1::LogPayload::KIND_NOT_SET:
      return false;
  }
  return false;
}

}  // namespace
}  // namespace arbiter::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arbiter;
  using namespace arbiter::fuzz;
  QuietLogging();
  State& s = TheState();
  if (++s.inputs > kInputsPerReplica) StartReplica(s);

  Input in(data, size);
  const uint8_t mode = in.Byte();
  const bool wrap_payload = (mode & 1) != 0;
  const bool keep_old_offset = (mode & 2) != 0;
  const bool only_accepted = wrap_payload && (mode & 4) != 0;

  if ((mode & 8) != 0) {
    std::vector<v1::LogEntry> batch;
    while (batch.size() < kMaxBatch && !in.Rest().empty()) {
      const bool other = (in.Byte() & 1) != 0;
      const size_t n = std::min<size_t>(in.Byte(), in.Rest().size());
      std::string payload(in.Rest().substr(0, n));
      for (size_t i = 0; i < n; ++i) in.Byte();
      batch.push_back(MakeEntry(s.next_offset++, other ? kOther : kTenant,
                                std::move(payload)));
    }
    absl::Status applied = s.applier->ApplyBatch(batch);
    if (Verbose()) {
      std::fprintf(stderr, "batch of %zu: %s\n", batch.size(),
                   applied.ToString().c_str());
    }
    Check(applied.ok() || applied.code() != absl::StatusCode::kInternal,
          "the applier fails without INTERNAL");
    return 0;
  }

  v1::LogEntry entry;
  if (wrap_payload) {
    entry = MakeEntry(0, kTenant, std::string(in.Rest()));
  } else {
    if (!entry.ParseFromArray(in.Rest().data(),
                              static_cast<int>(in.Rest().size())))
      return 0;
    // The writer's chain check: a recorded chain must follow the previous
    // recorded one; 0 on either side is trusted and the chain goes on.
    if (entry.chain() != 0 && s.chain != 0 &&
        api::NextChain(s.chain, entry) != entry.chain()) {
      return 0;
    }
    s.chain = entry.chain();
  }
  if (api::ValidateTenantName(entry.tenant()).ok() &&
      entry.tenant() != kTenant) {
    entry.set_tenant(kOther);
  }
  const bool stale = keep_old_offset && entry.offset() < s.next_offset;
  if (!stale) entry.set_offset(s.next_offset++);

  v1::LogPayload payload;
  const bool accepted = only_accepted &&
                        payload.ParseFromString(entry.payload()) &&
                        SequencerWouldAccept(entry.tenant(), payload);
  if (only_accepted && !accepted) return 0;

  absl::Status applied = s.applier->Apply(entry);
  if (Verbose()) {
    std::fprintf(stderr, "mode %d offset %llu tenant \"%s\": %s\n", mode,
                 static_cast<unsigned long long>(entry.offset()),
                 entry.tenant().c_str(), applied.ToString().c_str());
  }
  if (accepted && !stale && entry.tenant() == kTenant) {
    // An entry the log accepted must apply: a writer that cannot apply it
    // stalls its host for good.
    Check(applied.ok(), "an entry the sequencer accepts applies");
    auto db = s.applier->Tenant(kTenant);
    Check(db.ok(), "the tenant database opens");
    auto offset = (*db)->AppliedOffset();
    Check(offset.ok() && *offset == static_cast<int64_t>(entry.offset()),
          "the tenant's applied offset is the entry's");
  }
  if (!applied.ok()) {
    // SQLite trouble (INTERNAL) would mean the applier let through what the
    // tenant schema cannot hold.
    Check(applied.code() != absl::StatusCode::kInternal,
          "the applier fails without INTERNAL");
  }
  return 0;
}
