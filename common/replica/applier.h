#ifndef ARBITER_COMMON_REPLICA_APPLIER_H_
#define ARBITER_COMMON_REPLICA_APPLIER_H_

// Applies log entries to per-tenant databases (storage::TenantDb): the one
// piece of apply code shared by the log's materializer and the host writer
// (DESIGN.md §1, §8.4).
//
// For a batch of entries, each touched tenant gets ONE transaction holding
// all of that tenant's entries of the batch and the tenant's applied offset
// (meta.applied_offset = the batch's last entry for that tenant). Entries
// whose offset is <= the tenant's recorded applied offset are skipped, so
// re-applying after a crash never applies anything twice. The caller records
// its own global applied offset after ApplyBatch returns.
//
//   CreateTenant -> TenantDb::Create(ReplicaDir::TenantPath) (temporary file
//                   and rename) with applied_offset = the entry's offset;
//   WriteBatch   -> InsertFact / DeletePattern in order, at the offset;
//   PolicyUpdate -> TenantDb::SetPolicy(source, version = offset).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "arbiter/v1/log.pb.h"
#include "common/replica/replica_dir.h"
#include "common/storage/tenant_db.h"
#include "common/storage/tenant_db_cache.h"

namespace arbiter::replica {

struct ApplierOptions {
  // The replica directory (ReplicaDir) whose tenant databases are written;
  // its tenants/ directory is created if missing.
  std::string replica_dir;
  // Stamped into new tenant databases (DESIGN §8.1).
  std::string cluster_id;
  // Options for the connections the applier opens.
  storage::DbOptions db_options;
  // Connections kept open (the most recently used tenants); older ones are
  // closed and reopened when needed, so descriptors (three per database)
  // do not grow with the number of tenants.
  size_t max_open_tenants = 64;
};

// What an applier committed since it was opened. Entries skipped because a
// tenant already had them are not counted.
struct ApplyTotals {
  uint64_t entries = 0;
  // Facts inserted (not already present) plus facts deleted.
  uint64_t facts_changed = 0;
  // LogEntry.payload bytes.
  uint64_t payload_bytes = 0;
};

// Not thread-safe: one applier per applying thread. Keeps an open
// connection for each of the max_open_tenants tenants it touched last.
class Applier {
 public:
  static absl::StatusOr<std::unique_ptr<Applier>> Open(ApplierOptions options);
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Verifies each entry's CRC32C and decodes its payload (DATA_LOSS if
  // either fails), then applies as described above. REQUIRES: entries in
  // increasing offset order. FAILED_PRECONDITION for an entry of a tenant
  // that has no database and is not a CreateTenant entry. On error nothing
  // of the failing tenant's transaction is kept (tenants committed before
  // it stay committed, which is safe: they are skipped on retry).
  absl::Status ApplyBatch(const std::vector<v1::LogEntry>& entries);
  absl::Status Apply(const v1::LogEntry& entry) { return ApplyBatch({entry}); }

  const ReplicaDir& dir() const { return dir_; }
  // The database file of `tenant`: dir().TenantPath(tenant).
  std::string TenantPath(const std::string& tenant) const { return dir_.TenantPath(tenant); }
  // Counted per tenant transaction, when it commits.
  const ApplyTotals& totals() const { return totals_; }
  // The open connection of `tenant` (opened if needed); NOT_FOUND if it has
  // no database. For the owner thread only; valid until the next call of
  // Tenant, ApplyBatch or CloseAll (it may close the least recently used).
  absl::StatusOr<storage::TenantDb*> Tenant(const std::string& tenant);
  // Closes every connection (e.g. before files are replaced).
  void CloseAll() { dbs_.Clear(); }
  size_t open_tenants() const { return dbs_.size(); }

 private:
  explicit Applier(ApplierOptions options)
      : options_(std::move(options)), dir_(options_.replica_dir),
        dbs_(options_.max_open_tenants) {}

  const ApplierOptions options_;
  const ReplicaDir dir_;
  ApplyTotals totals_;
  storage::TenantDbCache dbs_;
};

}  // namespace arbiter::replica

#endif  // ARBITER_COMMON_REPLICA_APPLIER_H_
