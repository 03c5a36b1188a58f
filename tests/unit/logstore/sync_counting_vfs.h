#ifndef ARBITER_TESTS_UNIT_LOGSTORE_SYNC_COUNTING_VFS_H_
#define ARBITER_TESTS_UNIT_LOGSTORE_SYNC_COUNTING_VFS_H_

// A test SQLite VFS that wraps the default one and, for every file whose
// name ends with a watched suffix, counts xSync calls and remembers whether
// a write happened since the last sync ("dirty"). Registered as the default
// VFS, so every connection opened afterwards goes through it. kill -9
// cannot detect a missing fsync (the page cache survives the process); this
// can: at an acknowledgement, the log's files must have no unsynced writes.

#include <atomic>
#include <string>

namespace arbiter::testing {

struct SyncStats {
  std::atomic<int64_t> syncs{0};
  std::atomic<int64_t> writes{0};
  std::atomic<bool> dirty{false};
};

// Installs the shim (idempotent) as the default VFS. Files whose path ends
// with "log.db-wal" are tracked in WalStats(), "log.db" in DbStats().
void InstallSyncCountingVfs();
SyncStats& WalStats();
SyncStats& DbStats();

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_UNIT_LOGSTORE_SYNC_COUNTING_VFS_H_
