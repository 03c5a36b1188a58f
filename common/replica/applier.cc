#include "common/replica/applier.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "common/base/crc32c.h"
#include "common/base/status_macros.h"
#include "common/storage/sqlite.h"

namespace arbiter::replica {

absl::StatusOr<std::unique_ptr<Applier>> Applier::Open(ApplierOptions options) {
  const std::string tenants_dir = ReplicaDir(options.replica_dir).TenantsDir();
  std::error_code ec;
  std::filesystem::create_directories(tenants_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create ", tenants_dir, ": ", ec.message()));
  }
  return std::unique_ptr<Applier>(new Applier(std::move(options)));
}

absl::StatusOr<storage::TenantDb*> Applier::Tenant(const std::string& tenant) {
  return dbs_.Get(tenant, TenantPath(tenant), options_.db_options);
}

absl::Status Applier::ApplyBatch(const std::vector<v1::LogEntry>& entries) {
  // Decode everything first: a damaged entry stops the batch before any write.
  std::vector<v1::LogPayload> payloads(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (Crc32c(e.payload()) != e.payload_crc32c()) {
      return absl::DataLossError(
          absl::StrCat("entry ", e.offset(), " fails its CRC32C check"));
    }
    if (!payloads[i].ParseFromString(e.payload())) {
      return absl::DataLossError(
          absl::StrCat("entry ", e.offset(), ": payload does not parse"));
    }
    if (!api::ValidateStoredTenantName(e.tenant()).ok()) {
      return absl::DataLossError(
          absl::StrCat("entry ", e.offset(), ": bad tenant name \"", e.tenant(), "\""));
    }
  }
  // Group by tenant, keeping offset order within each tenant. Creations go
  // first for their tenant (a tenant's first entry is always its creation).
  std::map<std::string, std::vector<size_t>> by_tenant;
  for (size_t i = 0; i < entries.size(); ++i) by_tenant[entries[i].tenant()].push_back(i);

  for (auto& [tenant, idx] : by_tenant) {
    const std::string path = TenantPath(tenant);
    if (payloads[idx.front()].kind_case() == v1::LogPayload::kCreateTenant &&
        !dbs_.contains(tenant)) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {
        storage::TenantDbInit init{.tenant = tenant,
                                   .cluster_id = options_.cluster_id,
                                   .applied_offset =
                                       static_cast<int64_t>(entries[idx.front()].offset())};
        absl::Status s = storage::TenantDb::Create(path, init);
        if (!s.ok() && s.code() != absl::StatusCode::kAlreadyExists) return s;
        if (s.ok()) {  // the creation entry is applied by creating the file
          ++totals_.entries;
          totals_.payload_bytes += entries[idx.front()].payload().size();
        }
      }
    }
    absl::StatusOr<storage::TenantDb*> db = Tenant(tenant);
    if (!db.ok()) {
      if (db.status().code() == absl::StatusCode::kNotFound) {
        return absl::FailedPreconditionError(absl::StrCat(
            "entry ", entries[idx.front()].offset(), " is for tenant \"", tenant,
            "\", which has no database (its CreateTenant entry was never applied)"));
      }
      return db.status();
    }
    storage::TenantDb* tdb = *db;
    ARBITER_ASSIGN_OR_RETURN(int64_t applied, tdb->AppliedOffset());
    if (static_cast<int64_t>(entries[idx.back()].offset()) <= applied) continue;

    ARBITER_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(
                                           tdb->db(), storage::Transaction::Mode::kImmediate));
    int64_t last = applied;
    ApplyTotals counted;
    for (size_t i : idx) {
      const int64_t offset = static_cast<int64_t>(entries[i].offset());
      if (offset <= applied) continue;
      ++counted.entries;
      counted.payload_bytes += entries[i].payload().size();
      const v1::LogPayload& p = payloads[i];
      switch (p.kind_case()) {
        case v1::LogPayload::kCreateTenant:
          break;  // the database exists; its meta names the tenant
        case v1::LogPayload::kSetPolicy:
          ARBITER_RETURN_IF_ERROR(tdb->SetPolicy(p.set_policy().source(), offset));
          break;
        case v1::LogPayload::kWrite:
          for (const auto& op : p.write().operations()) {
            if (op.has_insert()) {
              ARBITER_ASSIGN_OR_RETURN(bool stored,
                                       tdb->InsertFact(offset, api::FromProto(op.insert())));
              counted.facts_changed += stored ? 1 : 0;
            } else if (op.has_delete_pattern()) {
              auto args = api::PatternArgs(op.delete_pattern());
              ARBITER_ASSIGN_OR_RETURN(
                  int64_t deleted,
                  tdb->DeletePattern(offset, op.delete_pattern().predicate(), args));
              counted.facts_changed += static_cast<uint64_t>(deleted);
            }
          }
          break;
        default:
          return absl::DataLossError(
              absl::StrCat("entry ", offset, ": unknown payload kind"));
      }
      last = offset;
    }
    ARBITER_RETURN_IF_ERROR(tdb->SetAppliedOffset(last));
    ARBITER_RETURN_IF_ERROR(txn.Commit());
    totals_.entries += counted.entries;
    totals_.facts_changed += counted.facts_changed;
    totals_.payload_bytes += counted.payload_bytes;
  }
  return absl::OkStatus();
}

}  // namespace arbiter::replica
