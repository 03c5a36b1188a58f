#include "common/storage/tenant_db_cache.h"

#include "common/base/status_macros.h"

namespace arbiter::storage {

absl::StatusOr<TenantDb*> TenantDbCache::Get(const std::string& name, const std::string& path,
                                             const DbOptions& options) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    open_.splice(open_.begin(), open_, it->second);
    return open_.front().second.get();
  }
  ARBITER_ASSIGN_OR_RETURN(std::unique_ptr<TenantDb> db, TenantDb::Open(path, options));
  while (open_.size() >= capacity_) {
    index_.erase(open_.back().first);
    open_.pop_back();
  }
  open_.emplace_front(name, std::move(db));
  index_[name] = open_.begin();
  return open_.front().second.get();
}

void TenantDbCache::Erase(const std::string& name) {
  auto it = index_.find(name);
  if (it == index_.end()) return;
  open_.erase(it->second);
  index_.erase(it);
}

}  // namespace arbiter::storage
