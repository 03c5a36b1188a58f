#ifndef ARBITER_COMMON_HOST_DATA_DIR_H_
#define ARBITER_COMMON_HOST_DATA_DIR_H_

// The layout of a host's data directory, shared by the writer (the only
// process that writes it) and the readers (which write only their own
// registration files):
//
//   <data>/control.db          cluster, generation, registry, freshness
//   <data>/gen-<N>/            generation N: a replica directory
//                              (replica::ReplicaDir: tenants/<t>.db)
//   <data>/readers/<id>.json   one registration file per reader
//   <data>/notify              touched after each control.db change
//   <data>/restore.tmp/        a snapshot being downloaded (never read)
//
// A generation directory is complete before control.db names it (DESIGN.md
// §8.8); older generations are deleted once no reader can be using them.
// The layout inside a generation is replica::ReplicaDir's; the control.db
// registry names each tenant's file relative to the generation
// (replica::ReplicaDir::TenantRelativePath).

#include <cstdint>
#include <string>

namespace arbiter::host {

// A value type naming paths. Thread-compatible.
class DataDir {
 public:
  explicit DataDir(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string ControlDbPath() const { return root_ + "/control.db"; }
  std::string GenerationDir(int64_t generation) const {
    return root_ + "/gen-" + std::to_string(generation);
  }
  // `relative` is a registry path (TenantEntry.path) such as
  // "tenants/acme.db".
  std::string TenantPath(int64_t generation, const std::string& relative) const {
    return GenerationDir(generation) + "/" + relative;
  }
  std::string ReadersDir() const { return root_ + "/readers"; }
  // Written by the writer after each control.db change (ChangeSignal).
  std::string ChangeSignalPath() const { return root_ + "/notify"; }
  std::string RestoreStagingDir() const { return root_ + "/restore.tmp"; }

 private:
  std::string root_;
};

}  // namespace arbiter::host

#endif  // ARBITER_COMMON_HOST_DATA_DIR_H_
