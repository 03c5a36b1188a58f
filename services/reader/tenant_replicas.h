#ifndef ARBITER_SERVICES_READER_TENANT_REPLICAS_H_
#define ARBITER_SERVICES_READER_TENANT_REPLICAS_H_

// The reader's per-tenant data (DESIGN.md §8.6, §9.4). For every tenant in
// control.db's registry it keeps a read-only connection to the tenant
// database and an index stack:
//
//   base, delta,  the host-shared segment files control.db names, mapped
//   recent        read-only (shared with every reader of the host through
//                 the page cache; verified by CRC32C when first mapped);
//   top           the changes after the newest of them, read from the
//                 tenant's `changes` table and kept as a small in-memory
//                 layer, rebuilt from scratch at each advance — O(changes
//                 since the recent layer), never O(facts): the writer keeps
//                 that number small (services/writer/index_maintainer.h).
//
// When the writer's index falls behind (a bulk load on a busy host), the top
// would grow with the lag and every advance would rebuild it, holding up
// every other tenant's view (DESIGN.md §9.6). So a tenant whose top already
// holds more than `max_top_changes` changes is *held*: it keeps its current
// snapshot, complete offset and fresh_as_of (all still true of that
// snapshot; it goes stale alone) and reads no further changes until the
// writer names a newer index file. Each rebuild is thus bounded by
// max_top_changes plus one advance's changes.
//
// Advance():
//   * new index files named -> map them; the top layer restarts from the
//     new delta's offset; a named file that is missing (replaced meanwhile)
//     -> keep the old stack and re-read control.db at the next poll;
//   * the tenant's applied offset moved -> read meta and the new `changes`
//     rows in one read transaction and rebuild the top layer;
//   * a new policy version compiles a new Engine;
//   * no base named yet (a tenant the writer has not indexed yet, or a data
//     directory of an older writer) -> a private base read from the tenant
//     database once, replaced by the shared one when it appears;
//   * a new generation (DESIGN.md §8.8) drops everything and reopens.
// A tenant that fails keeps its last good data, marked with the error, and
// fails alone (DESIGN.md §9.6).
//
// Not thread-safe: owned and driven by the ReplicaWatcher's poller thread.
// What it returns is immutable and shared with request threads.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/base/value.h"
#include "common/eval/engine.h"
#include "common/eval/fact_index.h"
#include "common/eval/segment.h"
#include "common/host/data_dir.h"
#include "common/replica/change_set.h"
#include "common/storage/control_db.h"
#include "common/storage/tenant_db.h"
#include "common/storage/tenant_db_cache.h"
#include "services/reader/replica_view.h"

namespace arbiter::reader {

class TenantReplicas {
 public:
  // `max_open_tenants`: tenant databases kept open (the most recently
  // advanced; three descriptors each), so descriptors do not grow with the
  // number of tenants; the others are reopened when they change.
  explicit TenantReplicas(host::DataDir dir, int64_t max_top_changes = 20000,
                          eval::EngineOptions engine_options = {},
                          size_t max_open_tenants = 128)
      : dir_(std::move(dir)),
        max_top_changes_(max_top_changes),
        engine_options_(engine_options),
        dbs_(max_open_tenants) {}
  TenantReplicas(const TenantReplicas&) = delete;
  TenantReplicas& operator=(const TenantReplicas&) = delete;

  // Brings every tenant in `control`'s registry up to at least the state
  // `control` describes and returns the tenant map for the new view.
  // REQUIRES: `control` was read before this call (so that its offsets are
  // lower bounds for what is read here). A tenant that cannot be brought up
  // keeps its previous data with `error` set.
  std::shared_ptr<const TenantMap> Advance(const storage::ControlState& control);

  // Whether the last Advance found a named index file missing (a newer
  // control.db names its replacement): poll again soon.
  bool retry() const { return retry_; }

  // Counters (logs, tests).
  int64_t top_rebuilds() const { return top_rebuilds_; }
  int64_t segments_mapped() const { return segments_mapped_; }
  // Advances that held a tenant back (see above).
  int64_t held() const { return held_; }
  size_t open_tenants() const { return dbs_.size(); }

 private:
  struct Replica {
    std::string name;
    storage::TenantIndex index;  // the names in use ('' base: private)
    // index.files() as mapped (or the private base), bottom first.
    std::vector<std::shared_ptr<const eval::Segment>> layers;
    std::shared_ptr<const eval::FactIndex> stack;  // of `layers`
    replica::ChangeSet top;  // changes after stack, up to top.offset()
    int64_t tenant_offset = -1;
    int64_t policy_version = -1;
    std::shared_ptr<const eval::Engine> engine;
    absl::Status policy_status;
    std::shared_ptr<const TenantSnapshot> snapshot;
    TenantView view;  // as published last
    bool held = false;  // over max_top_changes_, waiting for a newer file
  };

  // Brings `r` up to `entry`, or sets *held and leaves its snapshot as is
  // when its top layer is over max_top_changes_ (see above).
  absl::Status CatchUp(Replica& r, const storage::TenantEntry& entry, bool* held);
  absl::Status UseIndex(Replica& r, const storage::TenantIndex& index, storage::TenantDb& db);
  void CompilePolicy(Replica& r, const storage::TenantMeta& meta);

  const host::DataDir dir_;
  const int64_t max_top_changes_;
  const eval::EngineOptions engine_options_;  // every tenant's engine
  storage::TenantDbCache dbs_;  // by tenant name, of generation_
  int64_t generation_ = -1;
  absl::flat_hash_map<std::string, std::unique_ptr<Replica>> replicas_;
  std::shared_ptr<const TenantMap> map_ = std::make_shared<TenantMap>();
  bool retry_ = false;
  int64_t top_rebuilds_ = 0;
  int64_t segments_mapped_ = 0;
  int64_t held_ = 0;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_TENANT_REPLICAS_H_
