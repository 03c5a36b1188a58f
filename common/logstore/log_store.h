#ifndef ARBITER_COMMON_LOGSTORE_LOG_STORE_H_
#define ARBITER_COMMON_LOGSTORE_LOG_STORE_H_

// The log's durable store, behind an interface so that a replicated backend
// (etcd: etcd_log_store.h) can replace the embedded SQLite one (DESIGN.md §7)
// with no change to the sequencer, the subscribers or the materializer.
//
// Contract every implementation keeps (docs/LOG_FORMAT.md):
//   * offsets start at 1, are gap-free and strictly increasing; Append takes
//     exactly Head()+1, Head()+2, ...;
//   * Append returns only once its entries are durable (fsync, or a quorum);
//     after a crash every appended entry is present with the same content,
//     and an offset is never reused;
//   * Head() is the newest durable offset; Read never returns an entry past
//     the Head() it observed when called;
//   * the idempotency records (tenant, request_id) -> offset, the tenant
//     registry and the key registry are appended in the same atomic step as
//     the entries.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "arbiter/v1/log.pb.h"
#include "common/auth/api_key.h"

namespace arbiter::logstore {

// DESIGN.md §8.1: created on first start, then persisted.
struct ClusterIdentity {
  std::string cluster_id;  // random, 32 lowercase hex digits
  uint64_t epoch = 1;
};

// A new cluster id: 32 lowercase hex digits from the system's random source.
std::string RandomClusterId();

// A tenant as the sequencer needs it at start-up (its registry lives in the
// store so that truncating old entries never loses a tenant or its policy).
struct TenantRecord {
  std::string name;
  uint64_t created_offset = 0;
  uint64_t policy_version = 0;  // 0: no policy
  std::string policy_source;
  std::string policy_filename;
  bool policy_forced = false;
};

// A request id as the store records it: per tenant.
struct RequestKey {
  std::string tenant;
  std::string request_id;
};

// One entry to append, with its side records.
struct AppendRecord {
  v1::LogEntry entry;      // offset, tenant, time, payload, payload_crc32c
  std::string request_id;  // "" = none; else (entry.tenant, request_id) -> offset
  // Set for CreateTenant and SetPolicy entries: the tenant's new registry row.
  std::optional<TenantRecord> tenant;
  // Key entries: keys removed from and added to the key registry (in that
  // order; KeyGrant.created_offset is the entry's offset).
  std::vector<std::string> keys_revoked;
  std::vector<auth::KeyGrant> keys_created;
};

struct ReadOptions {
  size_t max_entries = 1000;
  size_t max_bytes = 4 * 1024 * 1024;  // at least one entry is returned
};

// Thread-safe.
class LogStore {
 public:
  virtual ~LogStore() = default;

  virtual const ClusterIdentity& identity() const = 0;

  // Appends `records` (offsets Head()+1.. in order) atomically and durably.
  // FAILED_PRECONDITION on an offset out of sequence; other errors are I/O
  // errors after which the caller must not assume anything was written or
  // not (the log process treats them as fatal and recovers by restarting).
  virtual absl::Status Append(const std::vector<AppendRecord>& records) = 0;

  // The newest durable offset; 0 when the log has never had an entry.
  virtual uint64_t Head() const = 0;
  // LogEntry.chain of the entry at Head() (kept when it was truncated);
  // 0 when the store is empty or the entry had none.
  virtual uint64_t HeadChain() const = 0;
  // The oldest offset still stored (Head()+1 if every entry was truncated;
  // 1 when nothing was ever truncated).
  virtual uint64_t OldestRetained() const = 0;

  // Calls `fn` with entries from `from_offset` on, in offset order, at most
  // options.max_entries / max_bytes of them, up to Head() as of the call,
  // in one short read transaction. Returns how many were visited (stops
  // early when `fn` returns false). OUT_OF_RANGE if from_offset <
  // OldestRetained(); DATA_LOSS if a stored CRC does not match.
  virtual absl::StatusOr<size_t> Read(
      uint64_t from_offset, const ReadOptions& options,
      absl::FunctionRef<bool(v1::LogEntry&&)> fn) = 0;

  // The offset recorded for each (tenant, request_id), if retained, in the
  // order of `keys`. One round trip for the whole batch where the store is
  // remote (etcd: one read-only Txn per max_txn_ops keys), so the sequencer
  // looks up a group's request ids at once, not one after the other.
  virtual absl::StatusOr<std::vector<std::optional<uint64_t>>> LookupRequests(
      const std::vector<RequestKey>& keys) = 0;
  // LookupRequests for one key.
  absl::StatusOr<std::optional<uint64_t>> LookupRequest(const std::string& tenant,
                                                        const std::string& request_id);

  // Every tenant in the registry, by name.
  virtual absl::StatusOr<std::vector<TenantRecord>> Tenants() = 0;
  // Every live key in the registry, by id.
  virtual absl::StatusOr<std::vector<auth::KeyGrant>> Keys() = 0;

  // Removes entries (and their request ids) with offset < `offset`.
  // REQUIRES: offset <= Head()+1. A no-op when offset <= OldestRetained().
  virtual absl::Status TruncateBefore(uint64_t offset) = 0;

  // The most bytes one AppendRecord may hold: its payload plus the registry
  // rows it writes (a SetPolicy's tenant row repeats the policy source).
  // etcd: its request limit. The sequencer refuses a bigger write or policy
  // with RESOURCE_EXHAUSTED before giving it an offset.
  virtual size_t MaxRecordBytes() const { return std::numeric_limits<size_t>::max(); }

  // Whether other processes may append to this store (etcd: the log's
  // front-ends). Then an Append may fail with FAILED_PRECONDITION (another
  // one appended first: nothing of this append was written), and an I/O
  // error leaves the outcome unknown without making the process's state
  // unrecoverable: Refresh() and the registries tell what the store holds.
  virtual bool Shared() const { return false; }
  // Re-reads Head(), HeadChain(), OldestRetained() and RegistryVersion()
  // from the store, by a linearizable read: what any process appended
  // before the call is then visible. FAILED_PRECONDITION when the store's
  // identity changed under this process (a restore). Not shared: a no-op.
  virtual absl::Status Refresh() { return absl::OkStatus(); }
  // Changes whenever Tenants() or Keys() may have changed (the offset of the
  // newest entry that changed them; a store that does not track it returns
  // Head()).
  virtual uint64_t RegistryVersion() const { return Head(); }

  // Moves the store to the next epoch, durably: for a store found behind
  // what it once acknowledged (entries lost and their offsets about to be
  // handed out again), so that every host that saw the lost history
  // re-restores. REQUIRES: before any other call but identity() and Head().
  virtual absl::Status StartNewEpoch() = 0;
};

}  // namespace arbiter::logstore

#endif  // ARBITER_COMMON_LOGSTORE_LOG_STORE_H_
