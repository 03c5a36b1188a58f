#ifndef ARBITER_SERVICES_READER_TENANT_REPLICAS_H_
#define ARBITER_SERVICES_READER_TENANT_REPLICAS_H_

// The per-tenant in-memory indexes (DESIGN.md §8.6). For every tenant in
// control.db's registry it keeps a read-only connection to the tenant
// database and the tenant's facts, and publishes an immutable TenantSnapshot
// (a FactIndex tagged with the tenant offset it was read at, and the
// compiled policy):
//   * first use: read meta and every fact in one read transaction;
//   * later: when the registry's applied offset for the tenant moved, read
//     meta and the `changes` rows after the snapshot's offset in one read
//     transaction, apply them to the fact set, and build a new index (a
//     pruned change feed, OUT_OF_RANGE, rebuilds from the facts);
//   * a new policy version compiles a new Engine (cached per tenant and
//     version; unchanged versions reuse it);
//   * a new generation (DESIGN.md §8.8) drops every connection and index and
//     reopens from gen-<N>/.
//
// Not thread-safe: owned and driven by the ReplicaWatcher's poller thread.
// What it returns is immutable and shared with request threads.

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/base/value.h"
#include "common/host/data_dir.h"
#include "common/storage/control_db.h"
#include "common/storage/tenant_db.h"
#include "services/reader/replica_view.h"

namespace arbiter::reader {

class TenantReplicas {
 public:
  explicit TenantReplicas(host::DataDir dir) : dir_(std::move(dir)) {}
  TenantReplicas(const TenantReplicas&) = delete;
  TenantReplicas& operator=(const TenantReplicas&) = delete;

  // Brings every tenant in `control`'s registry up to at least the state
  // `control` describes. REQUIRES: `control` was read before this call (so
  // that its applied offset is a lower bound for what is read here).
  // Returns the tenant map for the new view: the previous map when nothing
  // changed. On an error (a tenant file missing or unreadable) nothing is
  // published: the caller keeps its old view, which then goes stale and is
  // refused (fail closed).
  absl::StatusOr<std::shared_ptr<const TenantMap>> Advance(
      const storage::ControlState& control);

  // Number of index rebuilds so far (for logs and tests).
  int64_t rebuilds() const { return rebuilds_; }

 private:
  struct Replica {
    std::string name;
    std::unique_ptr<storage::TenantDb> db;
    std::set<Fact> facts;
    int64_t tenant_offset = -1;
    int64_t policy_version = -1;
    std::shared_ptr<const eval::Engine> engine;
    absl::Status policy_status;
    std::shared_ptr<const TenantSnapshot> snapshot;
  };

  absl::StatusOr<std::unique_ptr<Replica>> Open(
      const storage::TenantEntry& entry);
  // Reads what changed since r.tenant_offset; rebuilds the snapshot when
  // anything did. Sets *changed.
  absl::Status CatchUp(Replica& r, bool full_reload, bool* changed);
  void CompilePolicy(Replica& r, const storage::TenantMeta& meta);

  const host::DataDir dir_;
  int64_t generation_ = -1;
  absl::flat_hash_map<std::string, std::unique_ptr<Replica>> replicas_;
  std::shared_ptr<const TenantMap> map_ = std::make_shared<TenantMap>();
  int64_t rebuilds_ = 0;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_TENANT_REPLICAS_H_
