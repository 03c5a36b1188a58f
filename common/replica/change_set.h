#ifndef ARBITER_COMMON_REPLICA_CHANGE_SET_H_
#define ARBITER_COMMON_REPLICA_CHANGE_SET_H_

// The net effect of a run of fact changes (a tenant's `changes` rows) on the
// index layers below them: for each fact touched, whether it is present
// after the run. The writer keeps one per tenant to build its delta layer,
// a reader one to build its in-memory top layer (DESIGN.md §9.4,
// docs/ARCHITECTURE.md "The index").
//
// Not thread-safe.

#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/value.h"
#include "common/eval/fact_index.h"
#include "common/eval/segment.h"
#include "common/storage/tenant_db.h"

namespace arbiter::replica {

class ChangeSet {
 public:
  // The changes describe the state at this tenant offset.
  int64_t offset() const { return offset_; }
  void set_offset(int64_t offset) { offset_ = offset; }

  // An insert makes the fact present, a delete absent; the last one wins.
  void Apply(storage::Change change);
  void Clear() { net_.clear(); }
  // Facts touched.
  size_t size() const { return net_.size(); }
  bool empty() const { return net_.empty(); }

  // An upper segment over `parent` holding these changes, tagged offset().
  // `parent` must be the stack the changes apply to.
  absl::StatusOr<std::shared_ptr<const eval::Segment>> BuildLayer(
      const eval::FactIndex* parent) const;

  // Every touched fact and whether it is present (unordered).
  void ForEach(absl::FunctionRef<void(const Fact&, bool present)> fn) const;

 private:
  absl::flat_hash_map<Fact, bool> net_;
  int64_t offset_ = 0;
};

// Calls `fn` with every change row of `db` with offset in (after_offset,
// upto_offset], in (offset, seq) order, reading pages of `page` rows.
// REQUIRES: a read transaction is open on db->db() (so the rows form one
// state). OUT_OF_RANGE when the rows after after_offset were pruned.
absl::Status ForEachChange(storage::TenantDb& db, int64_t after_offset,
                           int64_t upto_offset,
                           absl::FunctionRef<void(storage::Change)> fn,
                           int64_t page = 10000);

// A base segment of every fact of `db`, tagged with its applied offset, read
// in one read transaction (opened here).
absl::StatusOr<std::shared_ptr<const eval::Segment>> BuildBaseFromDb(
    storage::TenantDb& db);

// A base segment of every live fact of `stack` with `changes` applied on top
// (a merge: no database read), tagged changes.offset().
absl::StatusOr<std::shared_ptr<const eval::Segment>> BuildBaseFromStack(
    const eval::FactIndex& stack, const ChangeSet& changes);

}  // namespace arbiter::replica

#endif  // ARBITER_COMMON_REPLICA_CHANGE_SET_H_
