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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/storage/boot_clock.h"
#include "common/storage/sqlite.h"

namespace arbiter::storage {

inline constexpr int kControlSchemaMajor = 1;
inline constexpr int kControlSchemaMinor = 0;

enum class ReplicationState { kRestoring, kReplaying, kLive };
enum class DrainState { kActive, kDraining, kDrained };

// "RESTORING", "REPLAYING", "LIVE" / "ACTIVE", "DRAINING", "DRAINED".
std::string_view ToString(ReplicationState state);
std::string_view ToString(DrainState state);
// INVALID_ARGUMENT for any other text.
absl::StatusOr<ReplicationState> ParseReplicationState(std::string_view text);
absl::StatusOr<DrainState> ParseDrainState(std::string_view text);

// One registered tenant of the current generation.
struct TenantEntry {
  std::string name;
  std::string path;  // relative to the generation directory
  int64_t applied_offset = 0;

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
  // DESIGN §8.5: the replica held everything the log had made durable at
  // this host-local time. boot_id '' = never fresh.
  BootTime fresh_as_of;
  int64_t head_offset = 0;  // the newest durable log head the writer heard
  ReplicationState replication_state = ReplicationState::kRestoring;
  DrainState drain_state = DrainState::kActive;
  std::vector<TenantEntry> tenants;  // ordered by name
};

// One step of the apply loop, committed in one control.db transaction after
// the tenant transactions it describes (DESIGN §8.4).
struct AppliedUpdate {
  int64_t applied_offset = 0;
  // The durable head carried by the newest message received; stored as the
  // maximum of it and the stored head (heads never go back).
  int64_t head_offset = 0;
  // Set only when the message's head <= applied_offset (DESIGN §8.5);
  // std::nullopt keeps the stored value.
  std::optional<BootTime> fresh_as_of;
  // New applied offsets of the tenants touched by the batch.
  std::vector<std::pair<std::string, int64_t>> tenant_offsets;
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
  // NOT_FOUND if a tenant in tenant_offsets is not registered (nothing is
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
  // with `tenants`, sets the global applied offset, clears fresh_as_of (the
  // new data has not proved itself fresh yet), then current_generation, all
  // in one transaction (the generation is what readers watch, DESIGN §8.8).
  // FAILED_PRECONDITION unless generation > current_generation.
  absl::Status SetGeneration(int64_t generation,
                             std::span<const TenantEntry> tenants,
                             int64_t applied_offset);

 private:
  explicit ControlDb(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  absl::StatusOr<Transaction> BeginWrite();
  absl::Status SetText(std::string_view column, std::string_view value);

  std::unique_ptr<Db> db_;
};

}  // namespace arbiter::storage

#endif  // ARBITER_COMMON_STORAGE_CONTROL_DB_H_
