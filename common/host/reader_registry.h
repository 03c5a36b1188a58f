#ifndef ARBITER_COMMON_HOST_READER_REGISTRY_H_
#define ARBITER_COMMON_HOST_READER_REGISTRY_H_

// Reader registration files (DESIGN.md §8.11): each reader owns
// <data>/readers/<id>.json, an arbiter.v1.ReaderRegistration in protobuf's
// JSON mapping, replaced by atomic rename about every second. The writer
// only reads them.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "arbiter/v1/writer_admin.pb.h"
#include "common/storage/boot_clock.h"

namespace arbiter::host {

// Writes `registration` to <readers_dir>/<id>.json by write-to-temporary,
// fsync, rename. Creates readers_dir if needed. INVALID_ARGUMENT for an id
// outside [A-Za-z0-9._-]{1,128}; INTERNAL on I/O errors.
absl::Status WriteReaderRegistration(
    const std::string& readers_dir,
    const v1::ReaderRegistration& registration);

// Removes this reader's file (a clean exit). OK if it does not exist.
absl::Status RemoveReaderRegistration(const std::string& readers_dir,
                                      const std::string& id);

// A registration as the writer sees it.
struct RegisteredReader {
  v1::ReaderRegistration registration;
  // The lease has expired (or is from another boot): counts as DRAINED.
  bool expired = false;
  // Milliseconds until the lease expires (<= 0 when expired).
  int64_t lease_remaining_ms = 0;
  // DRAINED, or expired.
  bool drained() const {
    return expired ||
           registration.drain_state() == v1::DRAIN_STATE_DRAINED;
  }
};

// Every parsable *.json file in readers_dir, by id. A file that does not
// parse (e.g. from a newer version) is skipped with a warning: it cannot
// block a drain forever because it is also not a live lease. A missing
// directory means no readers.
absl::StatusOr<std::vector<RegisteredReader>> ReadReaderRegistrations(
    const std::string& readers_dir, const storage::BootTime& now);

}  // namespace arbiter::host

#endif  // ARBITER_COMMON_HOST_READER_REGISTRY_H_
