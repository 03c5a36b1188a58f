#ifndef ARBITER_SERVICES_WRITER_INDEX_MAINTAINER_H_
#define ARBITER_SERVICES_WRITER_INDEX_MAINTAINER_H_

// The host-shared index (DESIGN.md §9.4, docs/ARCHITECTURE.md "The index"):
// a background thread of the writer that keeps, for every tenant of the
// current generation, immutable segment files that the host's readers map
// read-only, so N readers share one copy in the page cache and a new reader
// serves at once:
//
//   gen-N/index/<tenant>/base-<offset>-…seg    every fact at <offset>
//   gen-N/index/<tenant>/delta-<offset>-…seg   the net changes since the
//                                              base, at <offset>
//   gen-N/index/<tenant>/recent-<offset>-…seg  the net changes since the
//                                              delta (or base), at <offset>
//
// A reader serves base + delta + recent + the changes after them (its small
// in-memory top layer, read from the tenant's `changes` table and rebuilt at
// every advance). The cost of a write is therefore O(changes), never
// O(facts); each level is rebuilt from memory when the one above it grows
// past a bound, so every change is rewritten a bounded number of times per
// level:
//   * after every `recent_every_changes` changed facts, a new recent layer
//     (every change since the delta: O(recent));
//   * once those reach `delta_every_changes`, a new delta (every change since
//     the base: O(delta)) and no recent layer;
//   * once the changes since the base reach clamp(base facts × merge_ratio,
//     merge_min_changes, merge_max_changes), a merge into a new base, on a
//     second thread (O(facts); for 10M facts it takes tens of seconds, while
//     deltas and recent layers go on over the old base), after which the
//     changes that arrived meanwhile form the new delta.
// Only the first base of a tenant is read from its database.
//
// New files are handed to the apply loop (TakeReady), which names them in
// its next control.db transaction — the only writer of control.db — and
// reports back (Named). A replaced file is deleted `grace` after its
// replacement was named (a reader may still be opening it; a reader that
// finds a named file gone re-reads control.db). Files are immutable once
// written (never rewritten in place: readers would take SIGBUS), and checked
// by their CRC32C when mapped; they are not fsynced (derived data: at start
// the writer verifies every named file and rebuilds what fails).
//
// Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eval/fact_index.h"
#include "common/replica/change_set.h"
#include "common/storage/control_db.h"
#include "common/storage/tenant_db.h"
#include "common/storage/tenant_db_cache.h"

namespace arbiter::writer {

struct IndexOptions {
  int64_t recent_every_changes = 100;
  int64_t delta_every_changes = 2000;
  // Merge when the delta holds at least
  // clamp(base facts × merge_ratio, merge_min_changes, merge_max_changes).
  int64_t merge_min_changes = 20000;
  int64_t merge_max_changes = 200000;
  double merge_ratio = 0.125;
  absl::Duration grace = absl::Seconds(30);
  // Open tenant connections kept (least recently used ones are closed).
  int max_open_tenants = 64;

  // INVALID_ARGUMENT naming the flag (--index_delta_every_changes, ...).
  absl::Status Validate() const;
};

class IndexMaintainer {
 public:
  // `wake` is called (from the maintainer thread) when TakeReady has
  // something.
  IndexMaintainer(IndexOptions options, std::function<void()> wake);
  ~IndexMaintainer();
  IndexMaintainer(const IndexMaintainer&) = delete;
  IndexMaintainer& operator=(const IndexMaintainer&) = delete;

  void Start();
  void Stop();

  // A generation is (again) current: `generation_dir` holds its tenants,
  // `state` is control.db as read now. Forgets the previous generation,
  // verifies the index files `state` names (adopting those that pass), and
  // deletes unnamed files in the index directory. Blocks until the thread
  // has taken it over. Called by the apply loop.
  void Reset(const std::string& generation_dir, const storage::ControlState& state)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The apply loop committed new entries of these tenants.
  void Notify(const std::vector<std::pair<std::string, int64_t>>& tenant_offsets)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Index files built since the last call, to name in control.db; then
  // Named() with the same list once the transaction committed.
  std::vector<std::pair<std::string, storage::TenantIndex>> TakeReady()
      ABSL_LOCKS_EXCLUDED(mu_);
  void Named(const std::vector<std::pair<std::string, storage::TenantIndex>>& named)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The transaction failed: offer them again (unless newer ones wait).
  void Requeue(std::vector<std::pair<std::string, storage::TenantIndex>> taken)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Whether a long read transaction (a first base build) is open on the
  // tenant's database right now: its WAL cannot be restarted meanwhile.
  bool LongRead(const std::string& tenant) const ABSL_LOCKS_EXCLUDED(mu_);

  // Builds a tenant's first base from its database in `generation_dir` and
  // writes its file there; returns the names to put in the registry. Used
  // when a generation is restored, so it comes with its index (readers of a
  // new host serve as soon as it is LIVE). REQUIRES: nothing writes the
  // tenant's database meanwhile.
  static absl::StatusOr<storage::TenantIndex> BuildFirstBase(
      const std::string& generation_dir, const std::string& tenant);

  // Counters for logs, tests and benchmarks.
  struct Stats {
    int64_t bases_from_db = 0;
    int64_t bases_merged = 0;
    int64_t deltas = 0;
    int64_t recents = 0;
    int64_t errors = 0;
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Per tenant, owned by the maintainer thread.
  struct Tenant {
    std::shared_ptr<const eval::Segment> base, delta, recent;
    std::string base_name, delta_name, recent_name;
    replica::ChangeSet since_base;   // net changes since the base
    replica::ChangeSet since_delta;  // ... since the delta (the base if none)
    bool merging = false;            // a merge of since_base runs
    replica::ChangeSet since_merge;  // while merging: since its offset
    int64_t read_offset = 0;         // changes read up to this tenant offset
    int64_t unpublished = 0;         // change rows since the newest layer
    int64_t target = 0;              // the tenant's applied offset, as notified
    bool failed = false;  // the last Process failed: retried after a pause
    absl::Time retry_at;
  };
  // A merge handed to the merge thread, and its result.
  struct Merge {
    std::string tenant;
    uint64_t reset = 0;  // the Reset it belongs to
    std::shared_ptr<const eval::Segment> base;
    replica::ChangeSet changes;
    absl::StatusOr<std::shared_ptr<const eval::Segment>> merged;
    absl::Duration took;
    int64_t changed = 0;  // facts the merge changed (for the log)
  };

  void Run();
  void RunMerges();
  void ResetNow() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Process(const std::string& name, Tenant& t);
  absl::Status InstallMerge(Merge& m, Tenant& t);
  // Writes `layer` as a new file of `kind` and returns its name.
  absl::StatusOr<std::string> Write(const std::string& tenant, const char* kind,
                                    const eval::Segment& layer);
  absl::StatusOr<storage::TenantDb*> Db(const std::string& name);
  absl::Status Publish(const std::string& name, Tenant& t);
  static std::string NewName(const std::string& tenant, const char* kind, int64_t offset);
  void Retire(const std::string& relative) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteRetired(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  const IndexOptions options_;
  const std::function<void()> wake_;

  // Maintainer thread only.
  std::string dir_;  // the generation directory
  absl::flat_hash_map<std::string, Tenant> tenants_;
  storage::TenantDbCache dbs_{static_cast<size_t>(options_.max_open_tenants)};

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // A Reset waiting to be taken over by the thread.
  bool reset_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::string reset_dir_ ABSL_GUARDED_BY(mu_);
  storage::ControlState reset_state_ ABSL_GUARDED_BY(mu_);
  // Tenants with new entries, and their applied offsets.
  std::map<std::string, int64_t> dirty_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, storage::TenantIndex>> ready_ ABSL_GUARDED_BY(mu_);
  // What control.db names per tenant, as confirmed by Named().
  absl::flat_hash_map<std::string, storage::TenantIndex> named_ ABSL_GUARDED_BY(mu_);
  // Replaced files (relative to dir) and when they may go.
  std::vector<std::pair<absl::Time, std::string>> retired_ ABSL_GUARDED_BY(mu_);
  std::string retire_dir_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> long_reads_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // Merges: one at a time, on merge_thread_.
  std::vector<std::unique_ptr<Merge>> merge_queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Merge>> merged_ ABSL_GUARDED_BY(mu_);
  uint64_t resets_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
  std::thread merge_thread_;
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_INDEX_MAINTAINER_H_
