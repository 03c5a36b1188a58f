#ifndef ARBITER_SERVICES_LOG_LEADERSHIP_H_
#define ARBITER_SERVICES_LOG_LEADERSHIP_H_

// Which of several arbiter-log front-ends over one etcd prefix sequences
// writes (DESIGN.md §9.2): they elect one leader with an etcd lease, and the
// others forward writes to it, so "validated as of its own offset" stays one
// sequencer's job and 64 writers never livelock on the head compare. The
// election only keeps the front-ends from racing: safety is the store's
// (every append compares the head; one that loses gets FAILED_PRECONDITION
// and nothing is written).
//
// Keys, under the log's prefix (etcd_log_store.h), each attached to this
// front-end's lease (so a front-end that dies or is cut off from etcd
// disappears within --leader_lease_ttl):
//   leader      "<front-end id> <address>": created only while absent
//   fe/<id>     "<address> <newest snapshot offset>": every live front-end
//
// One thread renews the lease every ttl/3 (a new lease when it expired),
// keeps the registration current and campaigns: a Txn that creates the
// leader key if it is absent, else reads it. This front-end leads while it
// holds the key and its lease was renewed less than 2/3 of the TTL ago (so
// it stops before the lease can have expired in etcd). Stop() revokes the
// lease: another front-end takes over within ttl/3, not after the TTL.
//
// Thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/logstore/etcd_client.h"

namespace arbiter::log {

struct LeadershipOptions {
  std::string prefix = "/arbiter/";
  // This front-end's, kept across restarts (<data_dir>/front_end_id): a
  // restarted front-end that finds the leader key holding its own id under
  // another lease revokes that lease (its previous run, dead since the
  // data directory's lock is held) instead of waiting for it to expire.
  std::string id;
  std::string address;  // host:port where peers reach this front-end
  absl::Duration lease_ttl = absl::Seconds(5);  // whole seconds, >= 2
};

// One front-end's registration (fe/<id>).
struct RegisteredFrontEnd {
  std::string id;
  std::string address;
  uint64_t snapshot_offset = 0;  // its newest snapshot's; 0: none yet
};

// Every front-end registered under `prefix` now (live ones: each key is on
// its lease). DATA_LOSS naming a key whose value is not "<address> <offset>".
absl::StatusOr<std::vector<RegisteredFrontEnd>> RegisteredFrontEnds(
    const logstore::EtcdClient& client, const std::string& prefix);

class Leadership {
 public:
  // Starts the thread; `on_elected` runs on it each time this front-end
  // becomes the leader.
  Leadership(std::unique_ptr<logstore::EtcdClient> client, LeadershipOptions options,
             std::function<void()> on_elected);
  ~Leadership();
  // Revokes the lease (the leadership and the registration end now) and
  // joins. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Whether this front-end may sequence writes now (see above).
  bool IsLeader() const ABSL_LOCKS_EXCLUDED(mu_);
  // The leader's address as last read; "" when no leader is known.
  std::string LeaderAddress() const ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes this front-end's newest snapshot offset in its registration.
  void SetSnapshotOffset(uint64_t offset) ABSL_LOCKS_EXCLUDED(mu_);
  // The smallest newest-snapshot offset over every registered front-end
  // (0 when one has none yet): the log may be truncated only below it.
  absl::StatusOr<uint64_t> MinSnapshotOffset() const;

 private:
  void Run();
  // One renewal and campaign; true when it should campaign again at once.
  bool Step() ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<logstore::EtcdClient> client_;
  const LeadershipOptions options_;
  const std::function<void()> on_elected_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;          // 0: none
  absl::Time renewed_at_ ABSL_GUARDED_BY(mu_);      // when the last renewal was sent
  bool holds_key_ ABSL_GUARDED_BY(mu_) = false;
  std::string leader_address_ ABSL_GUARDED_BY(mu_);
  uint64_t snapshot_offset_ ABSL_GUARDED_BY(mu_) = 0;
  std::string registered_ ABSL_GUARDED_BY(mu_);     // fe/<id>'s value as last put
  std::thread thread_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_LEADERSHIP_H_
