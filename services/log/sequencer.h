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
// A SetPolicy is prepared off both the RPC thread and the sequencer thread,
// on a policy worker (--policy_workers, at most --max_pending_policies in
// progress): the policy is compiled, its tests run (bounded by the
// evaluation limits and by min(the call's deadline, --policy_test_timeout)),
// and the tenant's stored facts are checked against it as of some offset A
// (StoredFactChecker: the materialized state, caught up past every entry
// assigned when the check began). From the moment the check begins the
// sequencer records the facts inserted into that tenant; when the SetPolicy
// reaches it, it checks only those inserted after A: the check holds at the
// entry's own offset, and no other request waits for it.
//
// An I/O error while appending is fatal (LOG(FATAL)): the sequencer's
// in-memory state may then be ahead of the disk; a restart recovers the
// exact durable state from the store (docs/LOG_FORMAT.md).
//
// A shared store (etcd, LogStore::Shared) may be appended to by other
// front-ends: before each group the sequencer catches up with what they
// wrote (Resync: the registries are reloaded when they changed, offsets
// continue from the store's head, and SetPolicy checks in progress are
// ABORTED, since other front-ends' inserts were not recorded). An append
// that fails there is not fatal: the group's requests get UNAVAILABLE
// (FAILED_PRECONDITION from the store: another front-end appended first,
// nothing was written; any other error: the outcome is unknown, retry with
// the same request id) and the next group starts from the store's state.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.pb.h"
#include "common/auth/api_key.h"
#include "common/base/value.h"
#include "common/eval/engine.h"
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

// A change of API keys: one "_system" entry (auth/key_facts.h). Every key
// revoked must be live and of `tenant`; every key created is of `tenant`
// ("" for cluster keys), which must exist.
struct KeyChange {
  std::string tenant;
  std::vector<std::string> revoke;
  std::vector<auth::KeyGrant> create;
};
// Live keys by id, as of some offset.
using KeyMap = std::map<std::string, auth::KeyGrant>;
// NOT_FOUND for a key id that is not a live key of `tenant` ("": the cluster).
absl::Status KeyNotFound(const std::string& tenant, const std::string& id);

// The stored facts of a tenant that do not fit a program.
struct NonFittingFacts {
  uint64_t count = 0;
  std::vector<Fact> first;  // at most 100
  // The tenant's own applied offset in the state that was checked: every
  // entry of the tenant up to it, none after it.
  uint64_t checked_offset = 0;
};
// Called on a policy worker: must bring the materialized state up to at
// least `offset` (by `deadline`) and check every stored fact of `tenant`.
using StoredFactChecker = std::function<absl::StatusOr<NonFittingFacts>(
    const std::string& tenant, uint64_t offset, absl::Time deadline,
    const polar::Program& program)>;
// Called on the sequencer thread after each commit with the new durable head.
using HeadListener = std::function<void(uint64_t head)>;

// A policy compiled and its tests run (on the caller's thread).
// INVALID_ARGUMENT with "file:line:col: message" lines otherwise.
// A policy compiled and its tests run under `engine`'s limits and `q`'s
// deadline and cancellation. INVALID_ARGUMENT with "file:line:col: message"
// lines (at most 20, then how many more); DEADLINE_EXCEEDED / CANCELLED when
// the tests were stopped.
absl::StatusOr<std::shared_ptr<const polar::Program>> CompileAndTestPolicy(
    const std::string& source, const std::string& filename,
    const eval::EngineOptions& engine = {}, const eval::QueryOptions& q = {});

struct SequencerOptions {
  size_t max_group_entries = 1000;
  size_t max_group_bytes = 16 << 20;
  // SetPolicy preparation (see above): worker threads, how many calls may be
  // in progress at once (more: RESOURCE_EXHAUSTED), the longest a policy's
  // tests may take (DEADLINE_EXCEEDED; the stored-fact check that follows
  // waits for the materializer up to the call's deadline or 60 s), and the
  // evaluation limits of the tests.
  int policy_workers = 1;
  size_t max_pending_policies = 16;
  absl::Duration policy_test_timeout = absl::Seconds(10);
  eval::EngineOptions engine;
  // A check that saw more inserted facts of its tenant than this while it
  // ran is ABORTED (retry): the sequencer keeps them in memory.
  size_t max_recorded_facts = 100'000;
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
  //
  // `key_id` is the caller's API key ('' without authentication): the
  // request fails with UNAUTHENTICATED if the key was revoked by an entry
  // before the request's own, and the entry records it (LogPayload.key_id).
  void CreateTenant(v1::CreateTenantRequest request, SequenceDone done,
                    std::string key_id = "");
  void Write(v1::WriteRequest request, SequenceDone done, std::string key_id = "");
  void UpdateKeys(KeyChange change, SequenceDone done, std::string key_id = "");
  // Creates the reserved tenant "_system" that holds the keys on hosts
  // (ALREADY_EXISTS once it exists).
  void CreateSystemTenant(SequenceDone done);
  // Prepared on a policy worker (see above), then sequenced; `done` may run
  // on the worker (errors before sequencing). `deadline` and `cancelled`
  // are the call's; cancelled may be empty.
  void SetPolicy(v1::SetPolicyRequest request, SequenceDone done,
                 absl::Time deadline = absl::InfiniteFuture(),
                 std::function<bool()> cancelled = {}, std::string key_id = "")
      ABSL_LOCKS_EXCLUDED(policy_mu_);

  // As of the durable head. NOT_FOUND for an unknown tenant.
  absl::StatusOr<v1::GetPolicyResponse> GetPolicy(const std::string& tenant)
      ABSL_LOCKS_EXCLUDED(published_mu_);
  // Every tenant but the reserved "_system".
  v1::ListTenantsResponse ListTenants() ABSL_LOCKS_EXCLUDED(published_mu_);
  bool HasTenant(const std::string& tenant) ABSL_LOCKS_EXCLUDED(published_mu_) {
    return CreatedOffset(tenant).has_value();
  }
  // The offset of the tenant's CreateTenant entry; nullopt for none.
  std::optional<uint64_t> CreatedOffset(const std::string& tenant)
      ABSL_LOCKS_EXCLUDED(published_mu_);
  // The live keys as of the durable head.
  std::shared_ptr<const KeyMap> keys() ABSL_LOCKS_EXCLUDED(published_mu_);

  // Shared store: wakes the sequencer thread to catch up with the store's
  // head (Refresh()ed by the caller) and publish its registries, with or
  // without requests queued.
  void CatchUp() ABSL_LOCKS_EXCLUDED(queue_mu_);

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
    std::variant<v1::CreateTenantRequest, v1::WriteRequest, v1::SetPolicyRequest, KeyChange>
        request;
    std::string key_id;  // the caller's ('' for none)
    // SetPolicy: the program, the stored-fact check and its registration.
    std::shared_ptr<const polar::Program> program;
    NonFittingFacts checked;
    uint64_t check_id = 0;  // 0: no check (the tenant did not exist yet)
    SequenceDone done;
    size_t bytes = 0;
  };
  struct PolicyJob {
    v1::SetPolicyRequest request;
    SequenceDone done;
    absl::Time deadline;       // of the tests: min(the call's, policy_test_timeout)
    absl::Time rpc_deadline;   // of the stored-fact check (with kMaxCheckWait)
    std::function<bool()> cancelled;
    std::string key_id;
  };
  // Inserted facts of one tenant recorded while its check runs.
  struct FactCheck {
    std::string tenant;
    std::vector<std::pair<uint64_t, Fact>> inserted;  // (offset, fact)
    bool overflow = false;
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
  // Reads the tenant and key registries from the store into working_ and
  // working_keys_ (policies compiled unless unchanged since the last load).
  absl::Status LoadRegistry();
  // published_ = working_ (tenants and keys).
  void Publish() ABSL_LOCKS_EXCLUDED(published_mu_);
  // Brings the sequencer-thread state to the store's head (see above).
  absl::Status Resync() ABSL_LOCKS_EXCLUDED(checks_mu_, published_mu_);
  void Run();
  void RunPolicyWorker() ABSL_LOCKS_EXCLUDED(policy_mu_);
  void PreparePolicy(PolicyJob job) ABSL_LOCKS_EXCLUDED(checks_mu_, published_mu_);
  // Appends, publishes and completes the group; clears it.
  void Commit();
  void Sequence(Pending& p);
  // Looks up the request ids of a batch's requests in the store at once
  // (one round trip with etcd) into prefetched_; FindRequest answers from it.
  void PrefetchRequests(const std::deque<Pending>& batch);
  absl::StatusOr<std::optional<uint64_t>> FindRequest(const std::string& tenant,
                                                      const std::string& request_id);
  void Append(Pending& p, const std::string& tenant, v1::LogPayload payload,
              const std::string& request_id, std::optional<TenantState> new_state,
              const KeyChange* keys = nullptr);
  void SequenceKeys(Pending& p, KeyChange& change);

  logstore::LogStore* const store_;
  const SequencerOptions options_;
  const StoredFactChecker checker_;
  const HeadListener on_head_;

  absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool catch_up_ ABSL_GUARDED_BY(queue_mu_) = false;

  // Sequencer-thread state: the tenants as of the last assigned offset.
  std::map<std::string, TenantState> working_;
  uint64_t next_offset_ = 1;
  uint64_t last_chain_ = 0;  // LogEntry.chain of offset next_offset_ - 1
  std::vector<logstore::AppendRecord> group_;
  std::vector<Slot> slots_;
  std::map<std::pair<std::string, std::string>, uint64_t> group_requests_;
  // The store's answers for this batch's request ids (PrefetchRequests), or
  // why it could not give them.
  std::map<std::pair<std::string, std::string>, std::optional<uint64_t>> prefetched_;
  absl::Status prefetch_status_;
  std::map<std::string, TenantState> group_tenants_;  // changed in this group
  KeyMap working_keys_;       // as of the last assigned offset
  bool group_keys_ = false;   // working_keys_ changed in this group
  // Shared store: the registry version working_ was loaded at, and whether
  // an append failed (then the store is re-read before the next group).
  uint64_t loaded_registry_ = 0;
  bool resync_needed_ = false;

  // Policy workers' queue. pending_policies_ counts calls queued or being
  // prepared (the admission bound).
  absl::Mutex policy_mu_;
  std::deque<PolicyJob> policy_queue_ ABSL_GUARDED_BY(policy_mu_);
  size_t pending_policies_ ABSL_GUARDED_BY(policy_mu_) = 0;
  bool policy_stopping_ ABSL_GUARDED_BY(policy_mu_) = false;
  std::vector<std::thread> policy_threads_;

  // Stored-fact checks in progress. Invariant: a check registered when
  // last_assigned_ was L holds every fact inserted into its tenant by an
  // entry with offset > L (the sequencer records them as it assigns
  // offsets, under this lock).
  absl::Mutex checks_mu_;
  uint64_t last_assigned_ ABSL_GUARDED_BY(checks_mu_) = 0;
  uint64_t next_check_id_ ABSL_GUARDED_BY(checks_mu_) = 0;
  std::map<uint64_t, FactCheck> checks_ ABSL_GUARDED_BY(checks_mu_);

  absl::Mutex published_mu_;
  std::map<std::string, TenantState> published_ ABSL_GUARDED_BY(published_mu_);
  std::shared_ptr<const KeyMap> published_keys_ ABSL_GUARDED_BY(published_mu_) =
      std::make_shared<const KeyMap>();

  std::atomic<uint64_t> groups_{0};
  std::atomic<uint64_t> entries_{0};
  std::thread thread_;
};

}  // namespace arbiter::log

#endif  // ARBITER_SERVICES_LOG_SEQUENCER_H_
