#ifndef ARBITER_COMMON_LOGSTORE_SQLITE_LOG_STORE_H_
#define ARBITER_COMMON_LOGSTORE_SQLITE_LOG_STORE_H_

// The embedded LogStore: one SQLite database (<data_dir>/log.db), WAL,
// synchronous=FULL, offset as INTEGER PRIMARY KEY, the serialized LogPayload
// as a BLOB with its CRC32C. One Append = one transaction = one fsync of the
// WAL (group commit is the sequencer's job: it hands a whole group to one
// Append). Layout and recovery: docs/LOG_FORMAT.md.
//
// WAL bound (DESIGN §8.10): automatic checkpoints are off; after an Append
// that leaves the WAL above options.checkpoint_bytes the store runs
// wal_checkpoint(RESTART) with a short busy timeout (readers hold only
// short transactions, so it soon succeeds), and journal_size_limit trims
// the file.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/logstore/log_store.h"

struct sqlite3;

namespace arbiter::logstore {

struct SqliteLogStoreOptions {
  // The database file; its directory must exist.
  std::string path;
  // Checkpoint (RESTART) once the WAL holds more than this.
  int64_t checkpoint_bytes = 16 << 20;
  int busy_timeout_ms = 5000;
};

// Thread-safe: appends and truncation share one connection under a mutex;
// reads take a connection from a small pool.
class SqliteLogStore final : public LogStore {
 public:
  // Opens or creates the store. On first creation the cluster identity is
  // generated (random cluster_id, epoch 1) and persisted.
  // DATA_LOSS if the file is not a log store; INTERNAL on I/O errors.
  static absl::StatusOr<std::unique_ptr<SqliteLogStore>> Open(
      const SqliteLogStoreOptions& options);
  ~SqliteLogStore() override;

  const ClusterIdentity& identity() const override { return identity_; }
  absl::Status Append(const std::vector<AppendRecord>& records) override;
  uint64_t Head() const override { return head_.load(); }
  uint64_t HeadChain() const override { return head_chain_.load(); }
  absl::Status StartNewEpoch() override;
  uint64_t OldestRetained() const override { return oldest_.load(); }
  absl::StatusOr<size_t> Read(uint64_t from_offset, const ReadOptions& options,
                              absl::FunctionRef<bool(v1::LogEntry&&)> fn) override;
  absl::StatusOr<std::vector<std::optional<uint64_t>>> LookupRequests(
      const std::vector<RequestKey>& keys) override;
  absl::StatusOr<std::vector<TenantRecord>> Tenants() override;
  absl::StatusOr<std::vector<auth::KeyGrant>> Keys() override;
  absl::Status TruncateBefore(uint64_t offset) override;

  // Size of the -wal file in bytes (0 if absent), for tests and metrics.
  int64_t WalFileBytes() const;
  // How many checkpoints ran (tests).
  int64_t checkpoints() const { return checkpoints_.load(); }

 private:
  explicit SqliteLogStore(SqliteLogStoreOptions options)
      : options_(std::move(options)) {}
  absl::Status Init();
  absl::StatusOr<sqlite3*> TakeReader();
  void ReturnReader(sqlite3* db);
  void MaybeCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const SqliteLogStoreOptions options_;
  ClusterIdentity identity_;
  std::atomic<uint64_t> head_{0};
  std::atomic<uint64_t> head_chain_{0};
  std::atomic<uint64_t> oldest_{1};
  std::atomic<int64_t> checkpoints_{0};

  absl::Mutex write_mu_;
  sqlite3* writer_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  int wal_pages_ ABSL_GUARDED_BY(write_mu_) = 0;

  absl::Mutex readers_mu_;
  std::vector<sqlite3*> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace arbiter::logstore

#endif  // ARBITER_COMMON_LOGSTORE_SQLITE_LOG_STORE_H_
