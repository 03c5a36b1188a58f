#ifndef ARBITER_COMMON_STORAGE_CONTROL_DB_H_
#define ARBITER_COMMON_STORAGE_CONTROL_DB_H_

// The host's control database (`<data>/control.db`, DESIGN §4, §8.4, §8.5,
// §8.8, §8.11): which cluster and generation the host holds, the tenant
// registry, how far the writer applied, how fresh that is, and the writer's
// replication and drain states. Written only by the writer; readers open it
// read-only and poll Read() (every <= 50 ms).
//
// Offsets are log offsets stored as SQLite INTEGER (REQUIRES < 2^63); 0 means
// none. Tenant paths are relative to the generation directory
// (`<data>/gen-<current_generation>/`), e.g. "tenants/acme.db".

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/storage/boot_clock.h"
#include "common/storage/sqlite.h"

namespace arbiter::storage {

// 1.1 added per-tenant completeness, freshness and index files (the columns
// of TenantEntry beyond applied_offset, and ControlState::complete_offset).
// A writable Open() of a 1.0 file adds them; Read() of a 1.0 file (a reader
// ahead of its writer) fills them as a 1.0 writer meant: no tenant lags,
// complete_offset = applied_offset, no index files.
inline constexpr int kControlSchemaMajor = 1;
inline constexpr int kControlSchemaMinor = 2;

enum class ReplicationState { kRestoring, kReplaying, kLive };
enum class DrainState { kActive, kDraining, kDrained };

// "RESTORING", "REPLAYING", "LIVE" / "ACTIVE", "DRAINING", "DRAINED".
std::string_view ToString(ReplicationState state);
std::string_view ToString(DrainState state);
// INVALID_ARGUMENT for any other text.
absl::StatusOr<ReplicationState> ParseReplicationState(std::string_view text);
absl::StatusOr<DrainState> ParseDrainState(std::string_view text);

// The host-shared index files of a tenant (DESIGN.md §9.4), relative to
// the generation directory, bottom first: a base segment holding the
// tenant's facts at base_offset; optionally a delta segment built on it that
// brings it to delta_offset; optionally a recent segment built on those that
// brings them to recent_offset. Empty names: not built (none at all: not
// indexed yet). Named files are immutable.
struct TenantIndex {
  std::string base;
  int64_t base_offset = 0;
  std::string delta;  // '' = none
  int64_t delta_offset = 0;
  std::string recent;  // '' = none
  int64_t recent_offset = 0;

  // The named files, bottom first.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const std::string* f : {&base, &delta, &recent}) {
      if (!f->empty()) out.push_back(*f);
    }
    return out;
  }
  bool names(const std::string& file) const {
    return !file.empty() && (file == base || file == delta || file == recent);
  }

  friend bool operator==(const TenantIndex&, const TenantIndex&) = default;
};

// One registered tenant of the current generation.
struct TenantEntry {
  std::string name;
  std::string path;  // relative to the generation directory
  // The offset of the last entry of this tenant that was applied.
  int64_t applied_offset = 0;
  // DESIGN.md §9.6: a tenant lags when the writer holds entries of it that
  // it has not applied yet (another tenant's bulk load never makes a tenant
  // lag). A lagging tenant has its own completeness and freshness:
  //   every entry of this tenant <= complete_offset is applied, and the
  //   tenant held everything of it the log had made durable at fresh_as_of.
  // A tenant that does not lag shares the host's
  // (ControlState::complete_offset, fresh_as_of); TenantComplete() and
  // TenantFreshAsOf() choose.
  bool lagging = false;
  int64_t complete_offset = 0;
  BootTime fresh_as_of;
  TenantIndex index;

  friend bool operator==(const TenantEntry&, const TenantEntry&) = default;
};

// Everything in control.db, read in one transaction.
struct ControlState {
  int schema_major = 0;
  int schema_minor = 0;
  std::string cluster_id;  // '' until known
  int64_t epoch = 0;
  int64_t current_generation = 0;  // 0 = no generation installed yet
  int64_t applied_offset = 0;      // global: every entry <= it is applied
  // LogEntry.chain of the entry at applied_offset (schema 1.2); 0: unknown
  // (after a restore, or before 1.2), and the next entry is trusted.
  uint64_t applied_chain = 0;
  // Every entry <= complete_offset was received, and every tenant that does
  // not lag applied all of its entries <= it (>= applied_offset).
  int64_t complete_offset = 0;
  // DESIGN §8.5, per §9.6: the tenants that do not lag held everything the
  // log had made durable at this host-local time. boot_id '' = never fresh.
  BootTime fresh_as_of;
  int64_t head_offset = 0;  // the newest durable log head the writer heard
  ReplicationState replication_state = ReplicationState::kRestoring;
  DrainState drain_state = DrainState::kActive;
  std::vector<TenantEntry> tenants;  // ordered by name
};

// A tenant's complete offset and freshness (see TenantEntry::lagging).
inline int64_t TenantComplete(const ControlState& s, const TenantEntry& t) {
  return t.lagging ? t.complete_offset : s.complete_offset;
}
inline const BootTime& TenantFreshAsOf(const ControlState& s, const TenantEntry& t) {
  return t.lagging ? t.fresh_as_of : s.fresh_as_of;
}

// A tenant that lags after an apply step (TenantEntry::lagging).
struct TenantLag {
  std::string name;
  int64_t complete_offset = 0;
  // std::nullopt keeps the stored value (no message proves a newer one).
  std::optional<BootTime> fresh_as_of;
};

// One step of the apply loop, committed in one control.db transaction after
// the tenant transactions it describes (DESIGN §8.4).
struct AppliedUpdate {
  int64_t applied_offset = 0;
  uint64_t applied_chain = 0;  // of the entry at applied_offset; 0: unknown
  // The durable head carried by the newest message received; stored as the
  // maximum of it and the stored head (heads never go back).
  int64_t head_offset = 0;
  // Set only when the message's head <= applied_offset (DESIGN §8.5);
  // std::nullopt keeps the stored value.
  std::optional<BootTime> fresh_as_of;
  // New applied offsets of the tenants touched by the batch.
  std::vector<std::pair<std::string, int64_t>> tenant_offsets;
  // ControlState::complete_offset (never lowered).
  int64_t complete_offset = 0;
  // Tenants that lag now (set or updated), and tenants that stopped lagging.
  std::vector<TenantLag> lagging;
  std::vector<std::string> caught_up;
  // Index files named by this step (DESIGN.md §9.4).
  std::vector<std::pair<std::string, TenantIndex>> indexes;
};

// control.db on one connection. Not thread-safe. Every write method runs in
// its own BEGIN IMMEDIATE transaction (FAILED_PRECONDITION if one is already
// open on db(), or when opened read-only).
class ControlDb {
 public:
  // Creates control.db at `path` by CreateDatabase() (temporary file, WAL,
  // rename, fsync dir), with state RESTORING / ACTIVE, generation 0, no
  // tenants. ALREADY_EXISTS if `path` exists.
  static absl::Status Create(const std::string& path);

  // NOT_FOUND when missing; FAILED_PRECONDITION when it is not a control
  // database or its schema major version is not kControlSchemaMajor.
  static absl::StatusOr<std::unique_ptr<ControlDb>> Open(const std::string& path,
                                                         DbOptions options);

  ControlDb(const ControlDb&) = delete;
  ControlDb& operator=(const ControlDb&) = delete;

  Db* db() const { return db_.get(); }

  // The whole state in one read transaction (the caller's, if one is open on
  // db(); otherwise its own).
  absl::StatusOr<ControlState> Read();

  // FAILED_PRECONDITION if update.applied_offset is below the stored one;
  // NOT_FOUND if a tenant named in the update is not registered (nothing is
  // written then).
  absl::Status UpdateApplied(const AppliedUpdate& update);

  absl::Status SetReplicationState(ReplicationState state);
  absl::Status SetDrainState(DrainState state);

  // Records the cluster identity (DESIGN §8.1). FAILED_PRECONDITION when a
  // different non-empty cluster_id is already stored, or the epoch would go
  // back.
  absl::Status SetClusterIdentity(std::string_view cluster_id, int64_t epoch);

  // Adds a tenant to the current generation's registry. ALREADY_EXISTS if
  // the name is registered.
  absl::Status RegisterTenant(const TenantEntry& tenant);

  // Switches to a newly restored generation: replaces the tenant registry
  // with `tenants` (names, paths, applied offsets and index files), sets the global applied offset, clears fresh_as_of (the
  // new data has not proved itself fresh yet), then current_generation, all
  // in one transaction (the generation is what readers watch, DESIGN §8.8).
  // FAILED_PRECONDITION unless generation > current_generation.
  absl::Status SetGeneration(int64_t generation,
                             std::span<const TenantEntry> tenants,
                             int64_t applied_offset);

 private:
  explicit ControlDb(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  absl::StatusOr<Transaction> BeginWrite();
  // Adds the 1.1 columns to a 1.0 file.
  absl::Status Migrate(int from_minor);
  absl::Status UpdateTenant(std::string_view sql, std::string_view name,
                            absl::FunctionRef<absl::Status(Statement&)> bind);
  absl::Status SetText(std::string_view column, std::string_view value);

  std::unique_ptr<Db> db_;
};

}  // namespace arbiter::storage

#endif  // ARBITER_COMMON_STORAGE_CONTROL_DB_H_
