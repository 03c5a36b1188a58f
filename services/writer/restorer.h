#ifndef ARBITER_SERVICES_WRITER_RESTORER_H_
#define ARBITER_SERVICES_WRITER_RESTORER_H_

// RESTORING (DESIGN.md §1, §8.8, §8.9): fetch the log's newest snapshot into
// <data>/restore.tmp, verifying every chunk's CRC32C, then install it as
// <data>/gen-<N> with replica::SnapshotInstall (every file's size and
// SHA-256, every tenant database opened and checked, fsync, rename). The
// caller makes it current by writing control.db (ControlDb::SetGeneration) —
// the commit point. A crash at any moment before that leaves at most a
// staging directory or an unreferenced gen-<N>, both wiped by the next
// attempt.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "common/host/data_dir.h"
#include "common/storage/control_db.h"
#include "services/writer/writer_options.h"

namespace arbiter::writer {

struct RestoredGeneration {
  int64_t generation = 0;
  int64_t offset = 0;  // every entry <= offset is in the data
  std::string cluster_id;
  int64_t epoch = 0;
  std::vector<storage::TenantEntry> tenants;
};

// Installs the newest snapshot as generation `generation` (the directory must
// not be in use). When the log has no snapshot yet and its history was never
// truncated, installs an empty generation at offset 0 (the whole log will be
// replayed). UNAVAILABLE when the log cannot be reached or no usable snapshot
// exists yet (the caller retries); DATA_LOSS when a checksum does not match
// after retries; FAILED_PRECONDITION when the snapshot belongs to another
// cluster than `head`.
absl::StatusOr<RestoredGeneration> RestoreGeneration(
    v1::LogService::Stub& log, const v1::GetHeadResponse& head,
    const host::DataDir& dir, int64_t generation, const WriterOptions& options);

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_RESTORER_H_
