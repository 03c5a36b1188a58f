#ifndef ARBITER_SERVICES_READER_REPLICA_VIEW_H_
#define ARBITER_SERVICES_READER_REPLICA_VIEW_H_

// The reader's picture of the host's replica at one moment: what control.db
// said in one read transaction, plus every tenant's immutable index brought
// up to (at least) that state. Published as one
// std::shared_ptr<const ReplicaView> by the ReplicaWatcher; a request takes
// one view and answers entirely from it, so an answer never mixes offsets,
// and the offset and staleness it reports belong to the data it read.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/storage/boot_clock.h"
#include "common/storage/control_db.h"

namespace arbiter::reader {

// One tenant's immutable data (DESIGN.md §8.6): its facts as an index stack
// (the host-shared base and delta files plus the reader's own top layer,
// docs/ARCHITECTURE.md "The index") and its compiled policy.
// Thread-compatible: immutable once published.
struct TenantSnapshot {
  std::string tenant;
  // The tenant database the facts were read from (its generation's file):
  // Watch reads the `changes` rows up to tenant_offset from it.
  std::string db_path;
  // meta.applied_offset of the tenant database the facts were read at.
  int64_t tenant_offset = 0;
  // The policy the engine was compiled from (0: none).
  int64_t policy_version = 0;
  std::shared_ptr<const eval::FactIndex> facts;
  // Null when the tenant has no policy, or it does not compile; then
  // `policy_status` says why (FAILED_PRECONDITION).
  std::shared_ptr<const eval::Engine> engine;
  absl::Status policy_status;
};

// A tenant in one view: its data, and how complete and fresh that data is
// (DESIGN.md §9.6: a tenant lagging behind the host has its own values, the
// others the host's). Thread-compatible: immutable once published.
struct TenantView {
  std::shared_ptr<const TenantSnapshot> snapshot;  // never null
  // Every log entry of this tenant <= complete_offset is in `snapshot`: the
  // offset an answer reports (a lower bound, never an overstatement).
  int64_t complete_offset = 0;
  // The data held everything of this tenant the log had made durable at
  // this time (DESIGN.md §8.5).
  storage::BootTime fresh_as_of;
  // Not OK when the tenant could not be brought up to the newest control.db
  // state (a damaged or missing file): `snapshot`, complete_offset and
  // fresh_as_of then still describe the last state that could be read, which
  // goes stale by itself; the error is the reason given when it does. The
  // tenant fails alone.
  absl::Status error;
};

using TenantMap = absl::flat_hash_map<std::string, TenantView>;

// Thread-compatible: immutable once published.
struct ReplicaView {
  // Which control.db read this view reflects (increases with each new view).
  uint64_t sequence = 0;
  int64_t generation = 0;
  std::string cluster_id;
  // The log epoch the host's replica belongs to (DESIGN.md §8.1).
  int64_t epoch = 0;
  // Every log entry <= applied_offset is in every tenant snapshot below: it
  // was read from control.db before the tenant databases were read (a lower
  // bound, DESIGN.md §8.6).
  int64_t applied_offset = 0;
  // The newest durable log head the host's writer heard of.
  int64_t head_offset = 0;
  // Every tenant that does not lag held everything the log had made durable
  // at this time (DESIGN.md §8.5, §9.6): the host's freshness, for health.
  storage::BootTime fresh_as_of;
  storage::ReplicationState replication_state =
      storage::ReplicationState::kRestoring;
  storage::DrainState host_drain_state = storage::DrainState::kActive;
  // Never null in a published view.
  std::shared_ptr<const TenantMap> tenants;

  // nullptr when the host has no such tenant.
  const TenantView* Find(absl::string_view tenant) const {
    if (tenants == nullptr) return nullptr;
    auto it = tenants->find(tenant);
    return it == tenants->end() ? nullptr : &it->second;
  }
  // How far this view is complete for `tenant`: its complete_offset, or —
  // for a tenant this host does not have (yet) — applied_offset (every entry
  // up to it, a CreateTenant included, is applied).
  int64_t TenantOffset(absl::string_view tenant) const {
    const TenantView* t = Find(tenant);
    return t != nullptr ? t->complete_offset : applied_offset;
  }
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_REPLICA_VIEW_H_
