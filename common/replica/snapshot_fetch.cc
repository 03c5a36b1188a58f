#include "common/replica/snapshot_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/crc32c.h"
#include "common/base/status_macros.h"
#include "common/server/grpc_status.h"
#include "glog/logging.h"

namespace arbiter::replica {
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
                                   uint64_t from, const FetchOptions& options) {
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
    if (options.on_chunk) options.on_chunk(chunk.data().size());
  }
  ARBITER_RETURN_IF_ERROR(server::FromGrpcStatus(reader->Finish()));
  return pos;
}

// Downloads one file, resuming after interruptions; every chunk passed its
// CRC32C. Its size and SHA-256 are checked by SnapshotInstall::Commit.
absl::Status FetchFile(v1::LogService::Stub& log, const std::string& snapshot_id,
                       const v1::SnapshotFile& file, const std::string& path,
                       const FetchOptions& options) {
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
    absl::SleepFor(options.retry_pause * (attempt + 1));
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

}  // namespace

absl::StatusOr<v1::SnapshotManifest> NewestSnapshot(v1::LogService::Stub& log,
                                                    absl::Duration rpc_timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(rpc_timeout));
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

absl::Status FetchSnapshotFiles(v1::LogService::Stub& log, SnapshotInstall& install,
                                const FetchOptions& options) {
  const v1::SnapshotManifest& m = install.manifest();
  for (const auto& file : m.files()) {
    ARBITER_ASSIGN_OR_RETURN(std::string path, install.StagedPath(file));
    ARBITER_RETURN_IF_ERROR(Annotate(FetchFile(log, m.snapshot_id(), file, path, options),
                                     absl::StrCat("snapshot ", m.snapshot_id())));
  }
  return absl::OkStatus();
}

}  // namespace arbiter::replica
