#ifndef ARBITER_COMMON_LOGSTORE_ETCD_CLIENT_H_
#define ARBITER_COMMON_LOGSTORE_ETCD_CLIENT_H_

// A client of one etcd cluster over etcd's gRPC API (proto/etcd): the KV
// calls the log store makes and the Lease calls of the log's leader
// election. One channel per member; a call goes to the member that answered
// last and moves to the next on UNAVAILABLE (every call here is a read, a
// compare-guarded Txn, or a lease operation: all safe to send again). A
// call's deadline is reported as UNAVAILABLE: it says nothing about the
// request's fate, like a lost connection.
//
// Thread-safe (gRPC stubs are).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "etcdserverpb/rpc.grpc.pb.h"

namespace arbiter::logstore {

// The first key after every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix);
// The Txn applies only while `key` holds `value`.
void CompareValue(etcdserverpb::TxnRequest* txn, std::string key, std::string value);
// The Txn applies only while `key` does not exist.
void CompareAbsent(etcdserverpb::TxnRequest* txn, std::string key);
// A put among the Txn's success operations (`lease` 0: none).
void AddPut(etcdserverpb::TxnRequest* txn, std::string key, std::string value,
            int64_t lease = 0);

class EtcdClient {
 public:
  // `endpoints`: host:port of each member's client URL (plaintext gRPC).
  EtcdClient(std::vector<std::string> endpoints, absl::Duration call_timeout);

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& req) const;
  // The value of `key`, or NOT_FOUND.
  absl::StatusOr<mvccpb::KeyValue> Get(const std::string& key) const;
  absl::Status Txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp) const;
  // Calls `fn` with every key-value under `prefix`, a page at a time, in key
  // order; stops at the first error.
  absl::Status ForEachUnder(const std::string& prefix,
                            absl::FunctionRef<absl::Status(const mvccpb::KeyValue&)> fn) const;
  // Compacts the cluster's history up to `revision` (OUT_OF_RANGE when it
  // was already compacted past it).
  absl::Status Compact(int64_t revision) const;

  // A new lease of `ttl_seconds` (etcd may grant a longer one): its id.
  absl::StatusOr<int64_t> LeaseGrant(int64_t ttl_seconds) const;
  absl::Status LeaseRevoke(int64_t id) const;
  // Renews lease `id` once: its TTL in seconds from now, 0 when the lease no
  // longer exists (expired or revoked).
  absl::StatusOr<int64_t> LeaseKeepAlive(int64_t id) const;

 private:
  template <typename Resp, typename Method>
  absl::Status Call(Method method, Resp* resp) const;

  const absl::Duration call_timeout_;
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> kv_;
  std::vector<std::unique_ptr<etcdserverpb::Lease::Stub>> lease_;
  mutable std::atomic<size_t> current_{0};
};

}  // namespace arbiter::logstore

#endif  // ARBITER_COMMON_LOGSTORE_ETCD_CLIENT_H_
