#ifndef ARBITER_COMMON_REPLICA_REPLICA_DIR_H_
#define ARBITER_COMMON_REPLICA_REPLICA_DIR_H_

// The layout of a replica on disk: a directory with one SQLite database per
// tenant (storage::TenantDb), and this file is the only place that spells it:
//
//   <root>/tenants/<tenant>.db   one tenant database per tenant
//   <root>/materializer.db       the global applied offset, only in a replica
//                                that has no control.db (AppliedOffsetDb)
//   <root>/index/<tenant>/<kind>-<offset>-<pid>-<n>.seg
//                                a host generation's index segments (kind
//                                base or delta; DESIGN.md §9.4, written by
//                                services/writer/index_maintainer.h)
//
// Three kinds of directory are replicas: the log's materialized state
// (<log data>/state), a host generation (<host data>/gen-<N>, whose global
// offset lives in the host's control.db: common/host/data_dir.h) and a
// snapshot (<log data>/snapshots/snap-<offset>, plus its MANIFEST:
// common/snapshot/snapshot.h). Snapshot manifests and the control.db registry
// name tenant files relative to the root (TenantRelativePath).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace arbiter::replica {

// A value type naming paths; it touches the disk only in ListTenants().
// Thread-compatible.
class ReplicaDir {
 public:
  explicit ReplicaDir(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  // <root>/tenants
  std::string TenantsDir() const;
  // <root>/tenants/<tenant>.db. REQUIRES: `tenant` is a valid tenant name
  // (api::ValidateTenantName), so the path stays inside the directory.
  std::string TenantPath(absl::string_view tenant) const;
  // <root>/materializer.db
  std::string AppliedOffsetPath() const;

  // "tenants/<tenant>.db": a tenant's database relative to the root, as
  // snapshot manifests and the control.db registry name it.
  static std::string TenantRelativePath(absl::string_view tenant);

  // <root>/index and <root>/index/<tenant>.
  std::string IndexDir() const;
  std::string TenantIndexDir(absl::string_view tenant) const;
  // "index/<tenant>/<kind>-<offset>-<pid>-<n>.seg", relative to the root as
  // the control.db registry names it. `nonce` keeps names unique when a
  // layer at one offset is built again.
  static std::string IndexRelativePath(absl::string_view tenant, absl::string_view kind,
                                       int64_t offset, int64_t pid, uint64_t nonce);
  // <root>/<relative>.
  std::string Path(absl::string_view relative) const;

  // The tenants that have a database in TenantsDir(), sorted by name. Other
  // files (-wal, -shm, temporary "<t>.db.tmp-<pid>") are skipped. Empty when
  // TenantsDir() does not exist; INTERNAL naming the directory when it cannot
  // be read.
  absl::StatusOr<std::vector<std::string>> ListTenants() const;

 private:
  std::string root_;
};

}  // namespace arbiter::replica

#endif  // ARBITER_COMMON_REPLICA_REPLICA_DIR_H_
