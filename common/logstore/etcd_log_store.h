#ifndef ARBITER_COMMON_LOGSTORE_ETCD_LOG_STORE_H_
#define ARBITER_COMMON_LOGSTORE_ETCD_LOG_STORE_H_

// The replicated LogStore: the log's entries and registries in an etcd
// cluster (issue #14, DESIGN.md §7, §9.2), over etcd's gRPC KV API
// (proto/etcd: the messages Arbiter uses, with etcd's names and numbers).
// An append is acknowledged once etcd acknowledged it: a Raft quorum has
// fsynced it.
//
// Keys, under `prefix` (default "/arbiter/"; nothing else of the cluster is
// touched):
//   meta/identity        "v1 <cluster_id> <epoch>"     (prefix: at most 256 bytes)
//   meta/head            "<offset> <chain> <registry>": the newest entry, its
//                        chain, and the newest entry that changed t/ or k/
//   meta/oldest          "<offset>": the oldest retained entry
//   e/<offset, 20 digits> a serialized LogEntry (payload, CRC32C, chain)
//   r/<tenant>/<request id>  "<offset>"
//   t/<tenant>           a TenantRecord        (length-prefixed fields)
//   k/<key id>           an auth::KeyGrant     (length-prefixed fields)
//
// Append: one etcd Txn that compares meta/head with the head this store
// last wrote or read and puts the new head, the entries and their side
// records, so offsets stay gap-free and no offset ever gets two contents,
// whatever else writes to the cluster. An append larger than etcd's limits
// (`max_txn_ops` operations, `max_txn_bytes` bytes: etcd's --max-txn-ops and
// --max-request-bytes) is split into several Txns, each comparing the head
// the previous one wrote, and acknowledged after the last; a single entry
// over max_txn_bytes is RESOURCE_EXHAUSTED naming the limit. A compare that
// fails (another writer moved the head) is FAILED_PRECONDITION and reloads
// the head; an etcd error is UNAVAILABLE / DEADLINE_EXCEEDED: the outcome is
// unknown, as the interface says.
//
// TruncateBefore raises meta/oldest first (reads below it are then
// OUT_OF_RANGE), deletes the entries below it with one range delete and
// their request ids, then (options.compact) compacts etcd's history at that
// revision — cluster-wide, as etcd's history is.
//
// Several processes may append to one prefix (the log's front-ends): a
// compare that fails leaves this store's view at the store's new head, and
// Refresh() learns what the others appended (Shared()).
//
// Thread-safe: appends, refreshes and truncation are serialized by a mutex;
// reads run concurrently (gRPC stubs are thread-safe).

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/logstore/log_store.h"
#include "common/logstore/etcd_client.h"

namespace arbiter::logstore {

struct EtcdLogStoreOptions {
  // host:port of each etcd member's client URL (plaintext gRPC). Calls go
  // to one of them and move to the next on UNAVAILABLE.
  std::vector<std::string> endpoints;
  std::string prefix = "/arbiter/";
  // Deadline of each etcd call.
  absl::Duration call_timeout = absl::Seconds(5);
  // etcd's own limits (its --max-txn-ops, 128, and --max-request-bytes,
  // 1.5 MiB, by default), less a margin for the request's framing.
  int max_txn_ops = 128;
  size_t max_txn_bytes = (3u << 19) - 4096;
  // Compact etcd's history after a truncation. etcd keeps one revision
  // history for the whole cluster: compaction also drops other
  // applications' old revisions (run the log on its own etcd, or turn this
  // off and rely on etcd's --auto-compaction-retention).
  bool compact = true;
};

class EtcdLogStore final : public LogStore {
 public:
  // Connects, and creates the identity (random cluster id, epoch 1), head and
  // oldest keys in one Txn if the prefix holds none. UNAVAILABLE when no
  // endpoint answers within call_timeout; DATA_LOSS when the keys under the
  // prefix are not a log store's; INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<EtcdLogStore>> Open(EtcdLogStoreOptions options);

  const ClusterIdentity& identity() const override { return identity_; }
  absl::Status Append(const std::vector<AppendRecord>& records) override;
  uint64_t Head() const override { return head_.load(); }
  uint64_t HeadChain() const override { return head_chain_.load(); }
  uint64_t OldestRetained() const override { return oldest_.load(); }
  absl::StatusOr<size_t> Read(uint64_t from_offset, const ReadOptions& options,
                              absl::FunctionRef<bool(v1::LogEntry&&)> fn) override;
  absl::StatusOr<std::vector<std::optional<uint64_t>>> LookupRequests(
      const std::vector<RequestKey>& keys) override;
  absl::StatusOr<std::vector<TenantRecord>> Tenants() override;
  absl::StatusOr<std::vector<auth::KeyGrant>> Keys() override;
  absl::Status TruncateBefore(uint64_t offset) override;
  absl::Status StartNewEpoch() override;
  // max_txn_bytes less the room of the head compare, keys and envelopes.
  size_t MaxRecordBytes() const override { return options_.max_txn_bytes - 16384; }
  bool Shared() const override { return true; }
  // Reads the identity, meta/oldest and meta/head: FAILED_PRECONDITION when
  // the identity changed (a restore, a new epoch), DATA_LOSS when the head
  // went back.
  absl::Status Refresh() override;
  uint64_t RegistryVersion() const override { return registry_.load(); }

  // The etcd key of the entry at `offset` (tests).
  std::string EntryKey(uint64_t offset) const;

 private:
  explicit EtcdLogStore(EtcdLogStoreOptions options);
  absl::Status Init();
  // Reads meta/head into head_, head_chain_ and registry_ (DATA_LOSS if it
  // went back): LoadHead from etcd, SetHead from a value read.
  absl::Status SetHead(const std::string& value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status LoadHead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status AppendTxn(const std::vector<const AppendRecord*>& part)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const EtcdLogStoreOptions options_;
  const EtcdClient client_;

  ClusterIdentity identity_;
  std::atomic<uint64_t> head_{0};
  std::atomic<uint64_t> head_chain_{0};
  std::atomic<uint64_t> oldest_{1};
  std::atomic<uint64_t> registry_{0};

  absl::Mutex write_mu_;
  std::string head_value_ ABSL_GUARDED_BY(write_mu_);  // meta/head as last seen
};

}  // namespace arbiter::logstore

#endif  // ARBITER_COMMON_LOGSTORE_ETCD_LOG_STORE_H_
