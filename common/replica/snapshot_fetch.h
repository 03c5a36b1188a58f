#ifndef ARBITER_COMMON_REPLICA_SNAPSHOT_FETCH_H_
#define ARBITER_COMMON_REPLICA_SNAPSHOT_FETCH_H_

// Downloading a snapshot from an arbiter-log over gRPC (ListSnapshots,
// FetchSnapshot) into a SnapshotInstall's staging directory. Shared by the
// host writer (services/writer/restorer.cc: RESTORING) and the log itself
// (LogCore: a front-end whose state is behind the retained log fetches a
// peer's snapshot).
//
// Every chunk's CRC32C is checked as it arrives (DATA_LOSS otherwise); a
// file interrupted mid-stream is resumed from the last byte that passed
// (kFetchAttempts attempts per file). Each file's size and SHA-256 are
// checked later by SnapshotInstall::Commit. Not thread-safe per install.

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "common/replica/snapshot_install.h"

namespace arbiter::replica {

struct FetchOptions {
  // The deadline of ListSnapshots, and of each 16 MiB of a file's stream.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // The pause before resuming an interrupted file grows by this per attempt.
  absl::Duration retry_pause = absl::Milliseconds(200);
  // Called after each chunk is written, with its size (metrics, crash
  // points); may be empty.
  std::function<void(size_t)> on_chunk;
};

// The newest snapshot `log` lists; NOT_FOUND when it lists none, its own
// status when the call fails.
absl::StatusOr<v1::SnapshotManifest> NewestSnapshot(v1::LogService::Stub& log,
                                                    absl::Duration rpc_timeout);

// Downloads every file of install.manifest() from `log` to
// install.StagedPath(file), fsynced. NOT_FOUND when the log no longer has
// the snapshot (retention removed it: list again).
absl::Status FetchSnapshotFiles(v1::LogService::Stub& log, SnapshotInstall& install,
                                const FetchOptions& options);

}  // namespace arbiter::replica

#endif  // ARBITER_COMMON_REPLICA_SNAPSHOT_FETCH_H_
