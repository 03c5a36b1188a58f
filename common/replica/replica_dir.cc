#include "common/replica/replica_dir.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace arbiter::replica {
namespace fs = std::filesystem;
namespace {

constexpr char kTenantsDir[] = "tenants";
constexpr char kTenantSuffix[] = ".db";
constexpr char kAppliedOffsetFile[] = "materializer.db";  // the name it always had
constexpr char kIndexDir[] = "index";

}  // namespace

std::string ReplicaDir::TenantsDir() const { return absl::StrCat(root_, "/", kTenantsDir); }

std::string ReplicaDir::TenantPath(absl::string_view tenant) const {
  return absl::StrCat(root_, "/", TenantRelativePath(tenant));
}

std::string ReplicaDir::AppliedOffsetPath() const {
  return absl::StrCat(root_, "/", kAppliedOffsetFile);
}

std::string ReplicaDir::TenantRelativePath(absl::string_view tenant) {
  return absl::StrCat(kTenantsDir, "/", tenant, kTenantSuffix);
}

std::string ReplicaDir::IndexDir() const { return absl::StrCat(root_, "/", kIndexDir); }

std::string ReplicaDir::TenantIndexDir(absl::string_view tenant) const {
  return absl::StrCat(root_, "/", kIndexDir, "/", tenant);
}

std::string ReplicaDir::IndexRelativePath(absl::string_view tenant, absl::string_view kind,
                                          int64_t offset, int64_t pid, uint64_t nonce) {
  return absl::StrFormat("%s/%s/%s-%020d-%d-%d.seg", kIndexDir, tenant, kind, offset, pid,
                         nonce);
}

std::string ReplicaDir::Path(absl::string_view relative) const {
  return absl::StrCat(root_, "/", relative);
}

absl::StatusOr<std::vector<std::string>> ReplicaDir::ListTenants() const {
  std::vector<std::string> names;
  const std::string dir = TenantsDir();
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (ec) return absl::InternalError(absl::StrCat("list ", dir, ": ", ec.message()));
    return names;
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string f = it->path().filename().string();
    if (!absl::EndsWith(f, kTenantSuffix) || absl::StrContains(f, ".tmp")) continue;
    names.push_back(f.substr(0, f.size() - (sizeof(kTenantSuffix) - 1)));
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", dir, ": ", ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace arbiter::replica
