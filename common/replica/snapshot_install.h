#ifndef ARBITER_COMMON_REPLICA_SNAPSHOT_INSTALL_H_
#define ARBITER_COMMON_REPLICA_SNAPSHOT_INSTALL_H_

// Installs a snapshot as a replica directory (ReplicaDir), verified and
// atomically (DESIGN.md §8.8, §8.9). Shared by the host writer (the files
// come from FetchSnapshot: services/writer/restorer.cc) and the log (the
// files come from its own snapshot store: LogCore::RestoreStateIfBehind).
//
//   Begin    removes <staging> and <target> (leftovers of a crashed attempt;
//            REQUIRES: nothing uses <target>), creates <staging>/tenants
//   caller   writes each file of the manifest to StagedPath(file), or
//            CopyFrom(a local snapshot directory)
//   Commit   1. every manifest file: its size and SHA-256 equal the
//               manifest's (DATA_LOSS naming the file otherwise)
//            2. every manifest tenant: a valid tenant name, a file the
//               manifest lists, moved to ReplicaDir::TenantRelativePath;
//               it opens writable as a storage::TenantDb of our schema (so
//               it is switched to WAL with a persistent -wal file, and
//               read-only openers find it) whose meta names that tenant
//               (DATA_LOSS otherwise)
//            3. with record_applied_offset: materializer.db := the
//               manifest's offset (AppliedOffsetDb)
//            4. fsync every file, <staging>/tenants and <staging>;
//               before_rename(); rename <staging> to <target>; fsync the
//               parent of <target>
//
// A crash at any point leaves no <target> (before the rename) or a complete,
// durable one (after it); the next Begin wipes a half-written staging
// directory. An empty manifest (no files, no tenants, offset 0) installs an
// empty replica: a host whose log has no snapshot yet replays from offset 1.
// The download (and its per-chunk CRC32C) is the caller's business.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "arbiter/v1/log.pb.h"
#include "common/replica/replica_dir.h"
#include "common/storage/control_db.h"
#include "common/storage/sqlite.h"

namespace arbiter::replica {

struct InstallOptions {
  // Where the files are put together. Same file system as target_dir.
  std::string staging_dir;
  // The replica directory to create, e.g. <host data>/gen-<N>.
  std::string target_dir;
  // Also record the manifest's offset as the replica's applied offset
  // (AppliedOffsetDb): for a replica without control.db.
  bool record_applied_offset = false;
  // How Commit opens each tenant database (e.g. wal_autocheckpoint = 0 for a
  // writer's generation). `create` is ignored.
  storage::DbOptions db_options;
  // Runs when everything is durable, just before the rename (a crash point
  // for tests); may be null.
  void (*before_rename)() = nullptr;
};

// What Commit installed.
struct InstalledReplica {
  int64_t offset = 0;  // every entry <= offset is in the replica
  // One entry per manifest tenant, in manifest order: its name, its path
  // relative to the target (ReplicaDir::TenantRelativePath) and the applied
  // offset its meta row records.
  std::vector<storage::TenantEntry> tenants;
};

// One installation. Not thread-safe; movable.
class SnapshotInstall {
 public:
  // INTERNAL naming the directory when staging cannot be prepared.
  static absl::StatusOr<SnapshotInstall> Begin(v1::SnapshotManifest manifest,
                                               InstallOptions options);

  const v1::SnapshotManifest& manifest() const { return manifest_; }
  const std::string& staging_dir() const { return options_.staging_dir; }

  // Where `file` (one of manifest().files()) must be written; creates its
  // parent directory. DATA_LOSS when its name is not a safe relative path
  // (empty, absolute, or containing ".."); INTERNAL naming the directory.
  absl::StatusOr<std::string> StagedPath(const v1::SnapshotFile& file);

  // Copies every file of the manifest from `snapshot_dir` (a complete
  // snapshot of a local store: the files under their manifest names) into
  // the staging directory. INTERNAL naming the file on a copy error.
  absl::Status CopyFrom(const std::string& snapshot_dir);

  // Verifies and installs as described in the file comment. On error the
  // target does not exist and the staging directory is left for the next
  // Begin. REQUIRES: called once.
  absl::StatusOr<InstalledReplica> Commit();

 private:
  SnapshotInstall(v1::SnapshotManifest manifest, InstallOptions options)
      : manifest_(std::move(manifest)), options_(std::move(options)) {}
  absl::Status VerifyFiles() const;
  absl::StatusOr<storage::TenantEntry> PlaceTenant(const v1::SnapshotTenant& tenant);

  v1::SnapshotManifest manifest_;
  InstallOptions options_;
};

}  // namespace arbiter::replica

#endif  // ARBITER_COMMON_REPLICA_SNAPSHOT_INSTALL_H_
