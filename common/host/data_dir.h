#ifndef ARBITER_COMMON_HOST_DATA_DIR_H_
#define ARBITER_COMMON_HOST_DATA_DIR_H_

// The layout of a host's data directory, shared by the writer (the only
// process that writes it) and the readers (which write only their own
// registration files):
//
//   <data>/control.db                 cluster, generation, registry, freshness
//   <data>/gen-<N>/tenants/<t>.db     the tenant replicas of generation N
//   <data>/readers/<id>.json          one registration file per reader
//   <data>/notify                     touched after each control.db change
//   <data>/restore.tmp/               a snapshot being downloaded (never read)
//
// A generation directory is complete before control.db names it (DESIGN.md
// §8.8); older generations are deleted once no reader can be using them.

#include <cstdint>
#include <string>

namespace arbiter::host {

class DataDir {
 public:
  explicit DataDir(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string ControlDbPath() const { return root_ + "/control.db"; }
  std::string GenerationDir(int64_t generation) const {
    return root_ + "/gen-" + std::to_string(generation);
  }
  // `relative` is a registry path such as "tenants/acme.db".
  std::string TenantPath(int64_t generation, const std::string& relative) const {
    return GenerationDir(generation) + "/" + relative;
  }
  std::string ReadersDir() const { return root_ + "/readers"; }
  // Written by the writer after each control.db change (ChangeSignal).
  std::string ChangeSignalPath() const { return root_ + "/notify"; }
  std::string RestoreStagingDir() const { return root_ + "/restore.tmp"; }

  // The registry path of a tenant's database within a generation.
  static std::string TenantRelativePath(const std::string& tenant) {
    return "tenants/" + tenant + ".db";
  }

 private:
  std::string root_;
};

}  // namespace arbiter::host

#endif  // ARBITER_COMMON_HOST_DATA_DIR_H_
