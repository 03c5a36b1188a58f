#include "services/writer/restorer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/crash_point.h"
#include "common/base/crc32c.h"
#include "common/base/status_macros.h"
#include "common/replica/snapshot_install.h"
#include "common/server/grpc_status.h"
#include "glog/logging.h"
#include "services/writer/writer_metrics.h"

namespace arbiter::writer {
namespace {

constexpr int kFetchAttempts = 5;

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Appends the file from byte `from` to `fd`; returns the new size.
absl::StatusOr<uint64_t> FetchFrom(v1::LogService::Stub& log,
                                   const std::string& snapshot_id,
                                   const v1::SnapshotFile& file, int fd,
                                   uint64_t from, const WriterOptions& options) {
  grpc::ClientContext ctx;
  // The whole remaining file must arrive within a generous deadline: one
  // rpc_timeout per 16 MiB, at least one.
  int64_t chunks16 = static_cast<int64_t>((file.size_bytes() - from) >> 24) + 1;
  ctx.set_deadline(Deadline(options.rpc_timeout * chunks16));
  v1::FetchSnapshotRequest req;
  req.set_snapshot_id(snapshot_id);
  req.set_file(file.name());
  req.set_byte_offset(from);
  auto reader = log.FetchSnapshot(&ctx, req);
  v1::FetchSnapshotResponse chunk;
  uint64_t pos = from;
  while (reader->Read(&chunk)) {
    if (chunk.byte_offset() != pos) {
      ctx.TryCancel();
      (void)reader->Finish();
      return absl::DataLossError(absl::StrCat(
          file.name(), ": chunk at byte ", chunk.byte_offset(), ", expected ", pos));
    }
    if (Crc32c(chunk.data()) != chunk.crc32c()) {
      ctx.TryCancel();
      (void)reader->Finish();
      return absl::DataLossError(
          absl::StrCat(file.name(), ": CRC32C mismatch in the chunk at byte ", pos));
    }
    if (::pwrite(fd, chunk.data().data(), chunk.data().size(),
                 static_cast<off_t>(pos)) !=
        static_cast<ssize_t>(chunk.data().size())) {
      ctx.TryCancel();
      (void)reader->Finish();
      return Errno(absl::StrCat("write ", file.name()));
    }
    pos += chunk.data().size();
    RestoreBytes(chunk.data().size());
    MaybeCrash("restore_mid_download");
  }
  ARBITER_RETURN_IF_ERROR(server::FromGrpcStatus(reader->Finish()));
  return pos;
}

// Downloads one file, resuming after interruptions; every chunk passed its
// CRC32C. Its size and SHA-256 are checked by SnapshotInstall::Commit.
absl::Status FetchFile(v1::LogService::Stub& log, const std::string& snapshot_id,
                       const v1::SnapshotFile& file, const std::string& path,
                       const WriterOptions& options) {
  // 0666 less the umask: 0600 by default (SetFileAccess, --file_access).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  uint64_t size = 0;
  absl::Status last;
  for (int attempt = 0; attempt < kFetchAttempts && size < file.size_bytes();
       ++attempt) {
    auto got = FetchFrom(log, snapshot_id, file, fd, size, options);
    if (got.ok()) {
      size = *got;
      if (size >= file.size_bytes()) break;
      last = absl::DataLossError(absl::StrCat(file.name(), ": stream ended at byte ",
                                              size, " of ", file.size_bytes()));
      continue;
    }
    last = got.status();
    if (last.code() == absl::StatusCode::kNotFound) break;  // snapshot gone
    LOG(WARNING) << "fetching " << file.name() << " from byte " << size
                 << " failed (" << last << "); resuming";
    // Resume from what is certainly on disk: the bytes before `size` passed
    // their CRC; a partial failed chunk is rewritten from `size`.
    absl::SleepFor(options.reconnect_min * (attempt + 1));
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (size != file.size_bytes()) {
    return last.ok() ? absl::DataLossError(absl::StrCat(file.name(), ": incomplete"))
                     : last;
  }
  if (!synced) return Errno(absl::StrCat("fsync ", path));
  return absl::OkStatus();
}

absl::StatusOr<v1::SnapshotManifest> NewestSnapshot(v1::LogService::Stub& log,
                                                    const WriterOptions& options) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options.rpc_timeout));
  v1::ListSnapshotsResponse resp;
  ARBITER_RETURN_IF_ERROR(server::FromGrpcStatus(
      log.ListSnapshots(&ctx, v1::ListSnapshotsRequest(), &resp)));
  if (resp.snapshots().empty()) return absl::NotFoundError("no snapshot");
  const v1::SnapshotManifest* best = &resp.snapshots(0);
  for (const auto& m : resp.snapshots()) {
    if (m.offset() > best->offset()) best = &m;
  }
  return *best;
}

}  // namespace

absl::StatusOr<RestoredGeneration> RestoreGeneration(
    v1::LogService::Stub& log, const v1::GetHeadResponse& head,
    const host::DataDir& dir, int64_t generation, const WriterOptions& options) {
  RestoredGeneration result;
  result.generation = generation;
  result.cluster_id = head.cluster_id();
  result.epoch = static_cast<int64_t>(head.epoch());

  auto manifest = NewestSnapshot(log, options);
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
  for (const auto& file : m.files()) {
    ARBITER_ASSIGN_OR_RETURN(std::string path, install.StagedPath(file));
    ARBITER_RETURN_IF_ERROR(Annotate(FetchFile(log, m.snapshot_id(), file, path, options),
                                     absl::StrCat("snapshot ", m.snapshot_id())));
  }
  ARBITER_ASSIGN_OR_RETURN(replica::InstalledReplica installed, install.Commit());
  result.offset = installed.offset;
  result.tenants = std::move(installed.tenants);
  return result;
}

}  // namespace arbiter::writer
