#ifndef ARBITER_COMMON_SNAPSHOT_SNAPSHOT_H_
#define ARBITER_COMMON_SNAPSHOT_SNAPSHOT_H_

// Consistent multi-tenant snapshots (DESIGN.md §8.9) and their on-disk store.
//
//   <snapshots_dir>/snap-<20-digit offset>/   a replica directory
//                                             (replica::ReplicaDir) plus:
//       tenants/<tenant>.db     a SQLite copy of each tenant database
//       MANIFEST                a serialized v1::SnapshotManifest, written
//                               LAST (temporary file, fsync, rename, fsync dir)
//
// Installing a snapshot as a replica (verified, atomically) is
// replica::SnapshotInstall.
//
// A snapshot is built in "snap-<offset>.tmp" and renamed into place once its
// manifest is durable; directories without a MANIFEST, or ending in .tmp,
// are incomplete and never listed (Cleanup() removes them).
//
// Consistency: the caller pauses its applier, opens a read transaction on
// every tenant database (storage::Transaction kRead), resumes the applier,
// and hands those connections to WriteSnapshot: the SQLite backup API copies
// each database as that connection's read transaction sees it.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.pb.h"
#include "common/storage/sqlite.h"

namespace arbiter::snapshot {

// FetchSnapshotResponse.data is at most this long.
inline constexpr size_t kChunkBytes = 256 * 1024;
inline constexpr char kManifestName[] = "MANIFEST";

// "snap-00000000000000001234".
std::string SnapshotId(uint64_t offset);

// One tenant database to copy. `db` must hold an open read transaction.
struct TenantSource {
  std::string name;
  storage::Db* db = nullptr;
  uint64_t applied_offset = 0;
  uint64_t policy_version = 0;
};

struct SnapshotInfo {
  std::string cluster_id;
  uint64_t epoch = 0;
  uint64_t offset = 0;  // every entry <= offset is in the snapshot
  int64_t created_unix_ms = 0;
};

// Copies every tenant (backup API), fsyncs files and directories, writes the
// manifest last and renames the directory into place. ALREADY_EXISTS if a
// complete snapshot at that offset exists. `before_manifest` (may be null)
// runs after the files are durable and before the manifest is written (the
// "mid_snapshot" crash point).
absl::StatusOr<v1::SnapshotManifest> WriteSnapshot(
    const std::string& snapshots_dir, const SnapshotInfo& info,
    std::span<const TenantSource> tenants, void (*before_manifest)() = nullptr);

// A chunk of a snapshot file.
struct Chunk {
  uint64_t byte_offset = 0;
  std::string data;  // <= kChunkBytes; empty at the end of the file
  uint64_t file_size = 0;
};

// What SnapshotStore::ApplyRetention keeps.
struct RetentionPolicy {
  int64_t keep = 3;                             // K: the newest K (--snapshot_keep)
  absl::Duration retention = absl::Hours(24);  // --snapshot_retention
};

// The complete snapshots in a directory. Thread-safe.
class SnapshotStore {
 public:
  explicit SnapshotStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // Removes incomplete snapshot directories (left by a crash). Call at start.
  absl::Status Cleanup();

  // Complete snapshots, newest (highest offset) first.
  absl::StatusOr<std::vector<v1::SnapshotManifest>> List() const;

  // NOT_FOUND for an unknown id.
  absl::StatusOr<v1::SnapshotManifest> Get(const std::string& snapshot_id) const;

  // Retention delete skips pinned snapshots. Every Pin needs one Unpin.
  void Pin(const std::string& snapshot_id) ABSL_LOCKS_EXCLUDED(mu_);
  void Unpin(const std::string& snapshot_id) ABSL_LOCKS_EXCLUDED(mu_);

  // Reads up to kChunkBytes of `file` of the snapshot from `byte_offset`.
  // NOT_FOUND for an unknown snapshot or a file not in its manifest;
  // OUT_OF_RANGE if byte_offset > the file's size.
  absl::StatusOr<Chunk> ReadChunk(const v1::SnapshotManifest& manifest,
                                  const std::string& file,
                                  uint64_t byte_offset) const;

  // Retention (DESIGN.md §8.9, §9.11). With the complete snapshots s_1
  // (highest offset) ... s_n, T = now - policy.retention and L =
  // `oldest_retained` (the log's oldest retained entry; 1 if it was never
  // truncated):
  //
  //   R     = the newest snapshot created at or before T (none if every
  //           snapshot is younger): the one the log may truncate to;
  //   floor = when L > 1, the newest snapshot with offset < L: the state the
  //           oldest retained entry applies to, so every retained entry can
  //           be replayed from a kept snapshot;
  //   next  = the oldest snapshot created after T: the next R, so that
  //           truncation keeps moving while snapshots are cut more often
  //           than every retention / K.
  //
  // Kept: s_1 ... s_K (K = policy.keep), every pinned snapshot, floor, R and
  // next. Every other snapshot is deleted, however young. Returns R's offset
  // (0 when there is no R): the log may delete the entries <= it. R was cut
  // at or before T, when its entries were all applied, so no entry younger
  // than the retention is ever deleted. Once the log truncated to R, R is the
  // floor and the next pass deletes the previous floor.
  //
  // Bounds: at most K + 3 unpinned snapshots; the log keeps between about
  // one and two retentions of entries (truncation waits for `next` to age).
  // INVALID_ARGUMENT when policy.keep < 1.
  absl::StatusOr<uint64_t> ApplyRetention(absl::Time now, const RetentionPolicy& policy,
                                          uint64_t oldest_retained) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string dir_;
  absl::Mutex mu_;
  std::map<std::string, int> pins_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arbiter::snapshot

#endif  // ARBITER_COMMON_SNAPSHOT_SNAPSHOT_H_
