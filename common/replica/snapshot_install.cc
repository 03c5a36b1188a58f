#include "common/replica/snapshot_install.h"

#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/replica/applied_offset_db.h"
#include "common/storage/tenant_db.h"

namespace arbiter::replica {
namespace fs = std::filesystem;
namespace {

absl::Status FsError(absl::string_view what, const std::string& path, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", ec.message()));
}

// A manifest name must stay inside the staging directory.
absl::Status CheckRelativeName(const std::string& name) {
  if (name.empty() || name[0] == '/' || absl::StrContains(name, "..")) {
    return absl::DataLossError(
        absl::StrCat("snapshot file name \"", name, "\" is not a safe relative path"));
  }
  return absl::OkStatus();
}

// fsyncs every regular file under `dir` (the caller syncs the directories).
absl::Status SyncFilesUnder(const std::string& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) ARBITER_RETURN_IF_ERROR(SyncPath(it->path().string()));
  }
  if (ec) return FsError("list", dir, ec);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SnapshotInstall> SnapshotInstall::Begin(v1::SnapshotManifest manifest,
                                                       InstallOptions options) {
  std::error_code ec;
  fs::remove_all(options.staging_dir, ec);
  if (ec) return FsError("remove", options.staging_dir, ec);
  fs::remove_all(options.target_dir, ec);
  if (ec) return FsError("remove", options.target_dir, ec);
  const std::string tenants = ReplicaDir(options.staging_dir).TenantsDir();
  fs::create_directories(tenants, ec);
  if (ec) return FsError("create", tenants, ec);
  return SnapshotInstall(std::move(manifest), std::move(options));
}

absl::StatusOr<std::string> SnapshotInstall::StagedPath(const v1::SnapshotFile& file) {
  ARBITER_RETURN_IF_ERROR(CheckRelativeName(file.name()));
  const fs::path path = fs::path(options_.staging_dir) / file.name();
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return FsError("create", path.parent_path().string(), ec);
  return path.string();
}

absl::Status SnapshotInstall::CopyFrom(const std::string& snapshot_dir) {
  for (const v1::SnapshotFile& f : manifest_.files()) {
    ARBITER_ASSIGN_OR_RETURN(std::string to, StagedPath(f));
    const std::string from = absl::StrCat(snapshot_dir, "/", f.name());
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return FsError("copy", from, ec);
  }
  return absl::OkStatus();
}

absl::Status SnapshotInstall::VerifyFiles() const {
  for (const v1::SnapshotFile& f : manifest_.files()) {
    ARBITER_RETURN_IF_ERROR(CheckRelativeName(f.name()));
    const std::string path = absl::StrCat(options_.staging_dir, "/", f.name());
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) {
      return absl::DataLossError(absl::StrCat("snapshot ", manifest_.snapshot_id(), ": ", path,
                                              ": ", ec.message()));
    }
    if (size != f.size_bytes()) {
      return absl::DataLossError(absl::StrCat("snapshot ", manifest_.snapshot_id(), ": ", path,
                                              " has ", size, " bytes, the manifest says ",
                                              f.size_bytes()));
    }
    ARBITER_ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
    if (sha != f.sha256()) {
      return absl::DataLossError(absl::StrCat("snapshot ", manifest_.snapshot_id(), ": ", path,
                                              ": SHA-256 ", sha,
                                              " does not match the manifest's ", f.sha256()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::TenantEntry> SnapshotInstall::PlaceTenant(
    const v1::SnapshotTenant& t) {
  if (absl::Status s = api::ValidateStoredTenantName(t.name()); !s.ok()) {
    return absl::DataLossError(absl::StrCat("snapshot ", manifest_.snapshot_id(),
                                            ": bad tenant name: ", s.message()));
  }
  ARBITER_RETURN_IF_ERROR(CheckRelativeName(t.file()));
  bool listed = false;
  for (const v1::SnapshotFile& f : manifest_.files()) listed = listed || f.name() == t.file();
  if (!listed) {
    return absl::DataLossError(absl::StrCat("snapshot ", manifest_.snapshot_id(), ": tenant \"",
                                            t.name(), "\" names file ", t.file(),
                                            ", which the manifest does not list"));
  }
  const ReplicaDir staging(options_.staging_dir);
  const std::string relative = ReplicaDir::TenantRelativePath(t.name());
  const std::string path = staging.TenantPath(t.name());
  if (t.file() != relative) {
    const std::string from = absl::StrCat(options_.staging_dir, "/", t.file());
    std::error_code ec;
    fs::rename(from, path, ec);
    if (ec) return FsError("move", from, ec);
  }
  // Opening it writable checks that it is a tenant database of our schema
  // and switches it to WAL with a persistent -wal file.
  storage::DbOptions db_options = options_.db_options;
  db_options.read_only = false;
  ARBITER_ASSIGN_OR_RETURN(auto db, storage::TenantDb::Open(path, db_options));
  ARBITER_ASSIGN_OR_RETURN(storage::TenantMeta meta, db->Meta());
  if (meta.tenant != t.name()) {
    return absl::DataLossError(absl::StrCat("snapshot file ", path, " holds tenant \"",
                                            meta.tenant, "\", expected \"", t.name(), "\""));
  }
  return storage::TenantEntry{t.name(), relative, meta.applied_offset};
}

absl::StatusOr<InstalledReplica> SnapshotInstall::Commit() {
  ARBITER_RETURN_IF_ERROR(VerifyFiles());
  InstalledReplica result;
  result.offset = static_cast<int64_t>(manifest_.offset());
  std::set<std::string> seen;
  for (const v1::SnapshotTenant& t : manifest_.tenants()) {
    if (!seen.insert(t.name()).second) {
      return absl::DataLossError(absl::StrCat("snapshot ", manifest_.snapshot_id(),
                                              " lists tenant \"", t.name(), "\" twice"));
    }
    ARBITER_ASSIGN_OR_RETURN(storage::TenantEntry entry, PlaceTenant(t));
    result.tenants.push_back(std::move(entry));
  }
  const ReplicaDir staging(options_.staging_dir);
  if (options_.record_applied_offset) {
    ARBITER_ASSIGN_OR_RETURN(auto applied, AppliedOffsetDb::Open(staging));
    ARBITER_RETURN_IF_ERROR(applied->Set(result.offset));
  }
  ARBITER_RETURN_IF_ERROR(SyncFilesUnder(staging.root()));
  ARBITER_RETURN_IF_ERROR(SyncPath(staging.TenantsDir()));
  ARBITER_RETURN_IF_ERROR(SyncPath(staging.root()));
  if (options_.before_rename != nullptr) options_.before_rename();
  std::error_code ec;
  fs::remove_all(options_.target_dir, ec);  // nothing, unless the caller broke REQUIRES
  if (ec) return FsError("remove", options_.target_dir, ec);
  fs::rename(options_.staging_dir, options_.target_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("rename ", options_.staging_dir, " to ",
                                            options_.target_dir, ": ", ec.message()));
  }
  std::string parent = fs::path(options_.target_dir).parent_path().string();
  if (parent.empty()) parent = ".";
  ARBITER_RETURN_IF_ERROR(SyncPath(parent));
  return result;
}

}  // namespace arbiter::replica
