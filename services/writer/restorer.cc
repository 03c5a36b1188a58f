#include "services/writer/restorer.h"

#include "absl/strings/str_cat.h"
#include "common/base/crash_point.h"
#include "common/base/status_macros.h"
#include "common/replica/snapshot_fetch.h"
#include "common/replica/snapshot_install.h"
#include "glog/logging.h"
#include "services/writer/writer_metrics.h"

namespace arbiter::writer {

absl::StatusOr<RestoredGeneration> RestoreGeneration(
    v1::LogService::Stub& log, const v1::GetHeadResponse& head,
    const host::DataDir& dir, int64_t generation, const WriterOptions& options) {
  RestoredGeneration result;
  result.generation = generation;
  result.cluster_id = head.cluster_id();
  result.epoch = static_cast<int64_t>(head.epoch());

  auto manifest = replica::NewestSnapshot(log, options.rpc_timeout);
  if (!manifest.ok() && manifest.status().code() != absl::StatusCode::kNotFound) {
    return manifest.status();
  }
  if (!manifest.ok()) {
    if (head.oldest_retained_offset() > 1) {
      return absl::UnavailableError(absl::StrCat(
          "the log has no snapshot and its history starts at offset ",
          head.oldest_retained_offset(), "; waiting for a snapshot"));
    }
    LOG(INFO) << "the log has no snapshot yet: starting generation " << generation
              << " empty, replaying the whole log";
    manifest = v1::SnapshotManifest();  // installs an empty generation
  } else {
    const v1::SnapshotManifest& m = *manifest;
    if (m.cluster_id() != head.cluster_id() || m.epoch() != head.epoch()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "snapshot ", m.snapshot_id(), " belongs to cluster ", m.cluster_id(),
          " epoch ", m.epoch(), ", the log to cluster ", head.cluster_id(),
          " epoch ", head.epoch()));
    }
    LOG(INFO) << "RESTORING snapshot " << m.snapshot_id() << " at offset "
              << m.offset() << " (" << m.files_size() << " files, "
              << m.tenants_size() << " tenants) into generation " << generation;
  }
  replica::InstallOptions install_options{
      .staging_dir = dir.RestoreStagingDir(),
      .target_dir = dir.GenerationDir(generation),
      .before_rename = +[] { MaybeCrash("restore_before_rename"); },
  };
  // Readers open the tenant files read-only; the writer checkpoints itself.
  install_options.db_options.wal_autocheckpoint = 0;
  ARBITER_ASSIGN_OR_RETURN(
      replica::SnapshotInstall install,
      replica::SnapshotInstall::Begin(*std::move(manifest), std::move(install_options)));
  const v1::SnapshotManifest& m = install.manifest();
  uint64_t total_bytes = 0;
  for (const auto& file : m.files()) total_bytes += file.size_bytes();
  RestoreStarted(total_bytes);
  ARBITER_RETURN_IF_ERROR(replica::FetchSnapshotFiles(
      log, install,
      {.rpc_timeout = options.rpc_timeout,
       .retry_pause = options.reconnect_min,
       .on_chunk = [](size_t bytes) {
         RestoreBytes(bytes);
         MaybeCrash("restore_mid_download");
       }}));
  ARBITER_ASSIGN_OR_RETURN(replica::InstalledReplica installed, install.Commit());
  result.offset = installed.offset;
  result.tenants = std::move(installed.tenants);
  return result;
}

}  // namespace arbiter::writer
