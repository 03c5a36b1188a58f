#ifndef ARBITER_COMMON_STORAGE_TENANT_DB_CACHE_H_
#define ARBITER_COMMON_STORAGE_TENANT_DB_CACHE_H_

// A bounded set of open tenant databases, by tenant name: the least recently
// used is closed once `capacity` are open, so descriptors (three per open
// SQLite database in WAL mode: the file, -wal, -shm) do not grow with the
// number of tenants. Used by every component that keeps tenant databases
// open: the applier (writer, log materializer), the writer's index
// maintainer and each reader.
//
// Not thread-safe: one cache per thread that uses it.

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/storage/sqlite.h"
#include "common/storage/tenant_db.h"

namespace arbiter::storage {

class TenantDbCache {
 public:
  explicit TenantDbCache(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  TenantDbCache(const TenantDbCache&) = delete;
  TenantDbCache& operator=(const TenantDbCache&) = delete;

  // The open database of `name`, opening `path` with `options` when it is
  // not open (TenantDb::Open's errors). Valid until the next Get, Erase or
  // Clear: a later Get may close it.
  absl::StatusOr<TenantDb*> Get(const std::string& name, const std::string& path,
                                const DbOptions& options);
  bool contains(const std::string& name) const { return index_.contains(name); }
  void Erase(const std::string& name);
  void Clear() {
    index_.clear();
    open_.clear();
  }
  size_t size() const { return open_.size(); }

 private:
  using Open = std::list<std::pair<std::string, std::unique_ptr<TenantDb>>>;
  const size_t capacity_;
  Open open_;                                // most recently used first
  std::map<std::string, Open::iterator> index_;  // into open_
};

}  // namespace arbiter::storage

#endif  // ARBITER_COMMON_STORAGE_TENANT_DB_CACHE_H_
