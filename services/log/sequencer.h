#ifndef ARBITER_SERVICES_LOG_SEQUENCER_H_
#define ARBITER_SERVICES_LOG_SEQUENCER_H_

// The log's single sequencer (DESIGN.md §8.2) with group commit.
//
//   RPC threads ──Submit──▶ queue ──▶ sequencer thread:
//     take every queued request (arrival order, up to a group bound)
//     validate each against the tenant state AS OF its offset (a
//       CreateTenant / SetPolicy earlier in the group counts for later ones)
//     assign consecutive offsets, then LogStore::Append(group): one
//       transaction, one fsync
//     publish the durable head (HeadListener), then complete every request
//
// A SetPolicy closes the group before it: the group is committed first, the
// materializer is caught up to it, the stored facts of the tenant are
// checked against the new policy (StoredFactChecker), and only then is the
// SetPolicy sequenced. Nothing can slip in between: this is the only thread
// that assigns offsets.
//
// An I/O error while appending is fatal (LOG(FATAL)): the sequencer's
// in-memory state may then be ahead of the disk; a restart recovers the
// exact durable state from the store (docs/LOG_FORMAT.md).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "arbiter/v1/log.pb.h"
#include "common/base/value.h"
#include "common/logstore/log_store.h"
#include "common/polar/program.h"

namespace arbiter::log {

// What a sequenced request returns.
struct SequenceResult {
  absl::Status status;
  uint64_t offset = 0;
  // SetPolicy with force: stored facts that do not fit (count, first 100).
  uint64_t inert_fact_count = 0;
  std::vector<Fact> inert_facts;
};
using SequenceDone = std::function<void(SequenceResult)>;

// The stored facts of a tenant that do not fit a program.
struct NonFittingFacts {
  uint64_t count = 0;
  std::vector<Fact> first;  // at most 100
};
// Called on the sequencer thread with the durable head: must bring the
// materialized state up to `head` and check every stored fact of `tenant`.
using StoredFactChecker = std::function<absl::StatusOr<NonFittingFacts>(
    const std::string& tenant, uint64_t head, const polar::Program& program)>;
// Called on the sequencer thread after each commit with the new durable head.
using HeadListener = std::function<void(uint64_t head)>;

// A policy compiled and its tests run (on the caller's thread).
// INVALID_ARGUMENT with "file:line:col: message" lines otherwise.
absl::StatusOr<std::shared_ptr<const polar::Program>> CompileAndTestPolicy(
    const std::string& source, const std::string& filename);

struct SequencerOptions {
  size_t max_group_entries = 1000;
  size_t max_group_bytes = 16 << 20;
  // Crash point names (--crash_at) are checked through common/base.
};

// Thread-safe.
class Sequencer {
 public:
  // Loads the tenant registry from the store (compiling every policy) and
  // starts the thread.
  static absl::StatusOr<std::unique_ptr<Sequencer>> Start(
      logstore::LogStore* store, SequencerOptions options,
      StoredFactChecker checker, HeadListener on_head);
  ~Sequencer();

  // Each validates the request's structure at once (calling `done` on this
  // thread with the error), else queues it; `done` is called exactly once,
  // on the sequencer thread, after the entry is durable (or with the error).
  void CreateTenant(v1::CreateTenantRequest request, SequenceDone done);
  void Write(v1::WriteRequest request, SequenceDone done);
  // Compiles the policy and runs its tests on the calling thread first.
  void SetPolicy(v1::SetPolicyRequest request, SequenceDone done);

  // As of the durable head. NOT_FOUND for an unknown tenant.
  absl::StatusOr<v1::GetPolicyResponse> GetPolicy(const std::string& tenant)
      ABSL_LOCKS_EXCLUDED(published_mu_);
  v1::ListTenantsResponse ListTenants() ABSL_LOCKS_EXCLUDED(published_mu_);

  // Stops accepting requests, fails queued ones with UNAVAILABLE, joins.
  void Stop();

  // Committed groups and entries so far (group commit's effect: entries per
  // fsync). Logged at shutdown; read by bench/log.
  struct Stats {
    uint64_t groups = 0;
    uint64_t entries = 0;
  };
  Stats stats() const { return {groups_.load(), entries_.load()}; }

 private:
  struct TenantState {
    uint64_t created_offset = 0;
    uint64_t policy_version = 0;
    std::string policy_source;
    std::string policy_filename;
    bool policy_forced = false;
    std::shared_ptr<const polar::Program> program;
  };
  struct Pending {
    std::variant<v1::CreateTenantRequest, v1::WriteRequest, v1::SetPolicyRequest> request;
    std::shared_ptr<const polar::Program> program;  // SetPolicy
    SequenceDone done;
    size_t bytes = 0;
  };
  // One request's fate within a group.
  struct Slot {
    SequenceDone done;
    SequenceResult result;
    uint64_t same_as = 0;  // a duplicate request id of an entry in this group
  };

  Sequencer(logstore::LogStore* store, SequencerOptions options,
            StoredFactChecker checker, HeadListener on_head)
      : store_(store), options_(options), checker_(std::move(checker)),
        on_head_(std::move(on_head)) {}
  void Enqueue(Pending p);
  void Run();
  // Appends, publishes and completes the group; clears it.
  void Commit();
  void Sequence(Pending& p);
  absl::StatusOr<std::optional<uint64_t>> FindRequest(const std::string& tenant,
                                                      const std::string& request_id);
  void Append(Pending& p, const std::string& tenant, v1::LogPayload payload,
              const std::string& request_id, std::optional<TenantState> new_state);

  logstore::LogStore* const store_;
  const SequencerOptions options_;
  const StoredFactChecker checker_;
  const HeadListener on_head_;

  absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  // Sequencer-thread state: the tenants as of the last assigned offset.
  std::map<std::string, TenantState> working_;
  uint64_t next_offset_ = 1;
  std::vector<logstore::AppendRecord> group_;
  std::vector<Slot> slots_;
  std::map<std::pair<std::string, std::string>, uint64_t> group_requests_;
  std::map<std::string, TenantState> group_tenants_;  // changed in this group

  absl::Mutex published_mu_;
  std::map<std::string, TenantState> published_ ABSL_GUARDED_BY(published_mu_);

  std::atomic<uint64_t> groups_{0};
  std::atomic<uint64_t> entries_{0};
  std::thread thread_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_SEQUENCER_H_
