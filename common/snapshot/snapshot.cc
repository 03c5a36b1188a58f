#include "common/snapshot/snapshot.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/sha256.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/replica/replica_dir.h"

namespace arbiter::snapshot {
namespace fs = std::filesystem;
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}


absl::Status Backup(storage::Db* src, const std::string& dest_path) {
  sqlite3* dest = nullptr;
  int rc = sqlite3_open_v2(dest_path.c_str(), &dest,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(dest);
    return absl::InternalError(absl::StrCat("open ", dest_path, ": ", sqlite3_errstr(rc)));
  }
  sqlite3_backup* b = sqlite3_backup_init(dest, "main", src->raw(), "main");
  if (b == nullptr) {
    std::string msg = sqlite3_errmsg(dest);
    sqlite3_close(dest);
    return absl::InternalError(absl::StrCat("backup ", dest_path, ": ", msg));
  }
  rc = sqlite3_backup_step(b, -1);
  int finish = sqlite3_backup_finish(b);
  std::string msg = sqlite3_errmsg(dest);
  sqlite3_close(dest);
  if (rc != SQLITE_DONE || finish != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("backup ", dest_path, ": ", msg));
  }
  return SyncPath(dest_path);
}

absl::StatusOr<v1::SnapshotManifest> ReadManifest(const std::string& snap_dir) {
  std::ifstream in(snap_dir + "/" + kManifestName, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no manifest in ", snap_dir));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  v1::SnapshotManifest m;
  if (!m.ParseFromString(data)) {
    return absl::DataLossError(absl::StrCat("manifest of ", snap_dir, " does not parse"));
  }
  return m;
}

}  // namespace

std::string SnapshotId(uint64_t offset) { return absl::StrFormat("snap-%020d", offset); }

absl::StatusOr<v1::SnapshotManifest> WriteSnapshot(
    const std::string& snapshots_dir, const SnapshotInfo& info,
    std::span<const TenantSource> tenants, void (*before_manifest)()) {
  const std::string id = SnapshotId(info.offset);
  const std::string final_dir = absl::StrCat(snapshots_dir, "/", id);
  const std::string tmp_dir = final_dir + ".tmp";
  std::error_code ec;
  if (fs::exists(absl::StrCat(final_dir, "/", kManifestName), ec)) {
    return absl::AlreadyExistsError(absl::StrCat("snapshot ", id, " exists"));
  }
  fs::remove_all(tmp_dir, ec);
  fs::remove_all(final_dir, ec);
  const replica::ReplicaDir tmp(tmp_dir);
  fs::create_directories(tmp.TenantsDir(), ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", tmp_dir, ": ", ec.message()));

  v1::SnapshotManifest m;
  m.set_snapshot_id(id);
  m.set_cluster_id(info.cluster_id);
  m.set_epoch(info.epoch);
  m.set_offset(info.offset);
  m.set_created_unix_ms(info.created_unix_ms);
  for (const TenantSource& t : tenants) {
    const std::string rel = replica::ReplicaDir::TenantRelativePath(t.name);
    const std::string path = tmp.TenantPath(t.name);
    ARBITER_RETURN_IF_ERROR(Backup(t.db, path));
    ARBITER_ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
    auto* f = m.add_files();
    f->set_name(rel);
    f->set_size_bytes(fs::file_size(path, ec));
    f->set_sha256(sha);
    auto* st = m.add_tenants();
    st->set_name(t.name);
    st->set_file(rel);
    st->set_applied_offset(t.applied_offset);
    st->set_policy_version(t.policy_version);
  }
  ARBITER_RETURN_IF_ERROR(SyncPath(tmp.TenantsDir()));
  if (before_manifest != nullptr) before_manifest();
  ARBITER_RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(tmp_dir, "/", kManifestName), m.SerializeAsString()));
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    return ErrnoError("rename", tmp_dir, errno);
  }
  ARBITER_RETURN_IF_ERROR(SyncPath(snapshots_dir));
  return m;
}

absl::Status SnapshotStore::Cleanup() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir_, ": ", ec.message()));
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!absl::StartsWith(name, "snap-")) continue;
    std::error_code item_ec;
    if (absl::EndsWith(name, ".tmp") || !fs::exists(it->path() / kManifestName, item_ec)) {
      fs::remove_all(it->path(), item_ec);
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", dir_, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::SnapshotManifest>> SnapshotStore::List() const {
  std::vector<v1::SnapshotManifest> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!absl::StartsWith(name, "snap-") || absl::EndsWith(name, ".tmp")) continue;
    absl::StatusOr<v1::SnapshotManifest> m = ReadManifest(it->path().string());
    if (m.status().code() == absl::StatusCode::kNotFound) continue;
    if (!m.ok()) return m.status();
    out.push_back(*std::move(m));
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", dir_, ": ", ec.message()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.offset() > b.offset();
  });
  return out;
}

absl::StatusOr<v1::SnapshotManifest> SnapshotStore::Get(const std::string& snapshot_id) const {
  if (!absl::StartsWith(snapshot_id, "snap-") || snapshot_id.find('/') != std::string::npos ||
      absl::EndsWith(snapshot_id, ".tmp")) {
    return absl::NotFoundError(absl::StrCat("snapshot \"", snapshot_id, "\" not found"));
  }
  absl::StatusOr<v1::SnapshotManifest> m = ReadManifest(absl::StrCat(dir_, "/", snapshot_id));
  if (m.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("snapshot \"", snapshot_id, "\" not found"));
  }
  return m;
}

void SnapshotStore::Pin(const std::string& snapshot_id) {
  absl::MutexLock l(&mu_);
  ++pins_[snapshot_id];
}

void SnapshotStore::Unpin(const std::string& snapshot_id) {
  absl::MutexLock l(&mu_);
  if (--pins_[snapshot_id] <= 0) pins_.erase(snapshot_id);
}

absl::StatusOr<Chunk> SnapshotStore::ReadChunk(const v1::SnapshotManifest& manifest,
                                               const std::string& file,
                                               uint64_t byte_offset) const {
  const v1::SnapshotFile* f = nullptr;
  for (const auto& x : manifest.files()) {
    if (x.name() == file) f = &x;
  }
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("snapshot ", manifest.snapshot_id(),
                                            " has no file \"", file, "\""));
  }
  if (byte_offset > f->size_bytes()) {
    return absl::OutOfRangeError(absl::StrCat("byte_offset ", byte_offset,
                                              " is past the end of ", file, " (",
                                              f->size_bytes(), " bytes)"));
  }
  Chunk c;
  c.byte_offset = byte_offset;
  c.file_size = f->size_bytes();
  size_t want = std::min<uint64_t>(kChunkBytes, f->size_bytes() - byte_offset);
  if (want == 0) return c;
  std::string path = absl::StrCat(dir_, "/", manifest.snapshot_id(), "/", file);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("snapshot ", manifest.snapshot_id(),
                                              " is gone"));
    }
    return ErrnoError("open", path, errno);
  }
  c.data.resize(want);
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::pread(fd, c.data.data() + done, want - done, byte_offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return n == 0 ? absl::DataLossError(absl::StrCat(path, " is shorter than its manifest says"))
                    : ErrnoError("read", path, err);
    }
    done += n;
  }
  ::close(fd);
  return c;
}

absl::StatusOr<uint64_t> SnapshotStore::ApplyRetention(absl::Time now,
                                                       const RetentionPolicy& policy,
                                                       uint64_t oldest_retained) {
  if (policy.keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot retention: keep is ", policy.keep, ", must be >= 1"));
  }
  ARBITER_ASSIGN_OR_RETURN(std::vector<v1::SnapshotManifest> all, List());  // newest first
  const int64_t cutoff = absl::ToUnixMillis(now - policy.retention);
  std::set<std::string> kept;
  for (size_t i = 0; i < all.size() && i < static_cast<size_t>(policy.keep); ++i) {
    kept.insert(all[i].snapshot_id());
  }
  const v1::SnapshotManifest* r = nullptr;      // newest created at or before the cutoff
  const v1::SnapshotManifest* next = nullptr;   // oldest created after it
  const v1::SnapshotManifest* floor = nullptr;  // newest below the oldest retained entry
  for (const auto& m : all) {
    if (m.created_unix_ms() <= cutoff) {
      if (r == nullptr) r = &m;
    } else if (next == nullptr || m.created_unix_ms() <= next->created_unix_ms()) {
      next = &m;
    }
    if (oldest_retained > 1 && floor == nullptr && m.offset() < oldest_retained) floor = &m;
  }
  for (const v1::SnapshotManifest* m : {r, next, floor}) {
    if (m != nullptr) kept.insert(m->snapshot_id());
  }
  std::error_code ec;
  for (const auto& m : all) {
    if (kept.count(m.snapshot_id())) continue;
    // Under the lock: a fetch pins first and then reads the manifest, so
    // it either sees the snapshot whole or not at all.
    absl::MutexLock l(&mu_);
    if (pins_.count(m.snapshot_id())) continue;
    std::string d = absl::StrCat(dir_, "/", m.snapshot_id());
    // Remove the manifest first: a crash midway leaves an incomplete
    // directory that Cleanup() removes, never a listed snapshot with files
    // missing.
    fs::remove(absl::StrCat(d, "/", kManifestName), ec);
    fs::remove_all(d, ec);
  }
  return r == nullptr ? 0 : r->offset();
}

}  // namespace arbiter::snapshot
