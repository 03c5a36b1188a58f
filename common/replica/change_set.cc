#include "common/replica/change_set.h"

#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/storage/sqlite.h"

namespace arbiter::replica {

void ChangeSet::Apply(storage::Change change) {
  net_.insert_or_assign(std::move(change.fact),
                        change.op == storage::ChangeOp::kInsert);
}

void ChangeSet::ForEach(absl::FunctionRef<void(const Fact&, bool)> fn) const {
  for (const auto& [fact, present] : net_) fn(fact, present);
}

absl::StatusOr<std::shared_ptr<const eval::Segment>> ChangeSet::BuildLayer(
    const eval::FactIndex* parent) const {
  eval::SegmentBuilder b(parent);
  b.set_offset(offset_);
  for (const auto& [fact, present] : net_) {
    ARBITER_RETURN_IF_ERROR(present ? b.Put(fact) : b.Erase(fact));
  }
  ARBITER_ASSIGN_OR_RETURN(eval::SegmentBytes bytes, b.Finish());
  return eval::Segment::FromBytes(std::move(bytes), eval::Segment::Check::kBuilt,
                                  absl::StrCat("layer at offset ", offset_));
}

absl::Status ForEachChange(storage::TenantDb& db, int64_t after_offset,
                           int64_t upto_offset,
                           absl::FunctionRef<void(storage::Change)> fn,
                           int64_t page) {
  int64_t from_offset = after_offset;
  int64_t from_seq = std::numeric_limits<int64_t>::max();
  while (true) {
    ARBITER_ASSIGN_OR_RETURN(std::vector<storage::Change> rows,
                             db.ChangesSince(from_offset, page, from_seq));
    const bool last_page = static_cast<int64_t>(rows.size()) < page;
    if (!rows.empty()) {
      from_offset = rows.back().offset;
      from_seq = rows.back().seq;
    }
    for (storage::Change& c : rows) {
      if (c.offset > upto_offset) return absl::OkStatus();
      fn(std::move(c));
    }
    if (last_page) return absl::OkStatus();
  }
}

absl::StatusOr<std::shared_ptr<const eval::Segment>> BuildBaseFromDb(
    storage::TenantDb& db) {
  ARBITER_ASSIGN_OR_RETURN(
      storage::Transaction txn,
      storage::Transaction::Begin(db.db(), storage::Transaction::Mode::kRead));
  ARBITER_ASSIGN_OR_RETURN(int64_t offset, db.AppliedOffset());
  eval::SegmentBuilder b;
  b.set_offset(offset);
  absl::Status put;
  ARBITER_RETURN_IF_ERROR(db.ForEachFact([&](const Fact& f) {
    put = b.Put(f);
    return put.ok();
  }));
  ARBITER_RETURN_IF_ERROR(put);
  ARBITER_RETURN_IF_ERROR(txn.Commit());
  ARBITER_ASSIGN_OR_RETURN(eval::SegmentBytes bytes, b.Finish());
  return eval::Segment::FromBytes(std::move(bytes), eval::Segment::Check::kBuilt,
                                  absl::StrCat("base at offset ", offset));
}

absl::StatusOr<std::shared_ptr<const eval::Segment>> BuildBaseFromStack(
    const eval::FactIndex& stack, const ChangeSet& changes) {
  // Stack the changes as one more layer, then copy every live fact.
  std::shared_ptr<const eval::FactIndex> merged;
  const eval::FactIndex* source = &stack;
  if (!changes.empty()) {
    ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::Segment> top,
                             changes.BuildLayer(&stack));
    std::vector<std::shared_ptr<const eval::Segment>> layers = stack.layers();
    layers.push_back(std::move(top));
    ARBITER_ASSIGN_OR_RETURN(merged, eval::FactIndex::Stack(std::move(layers)));
    source = merged.get();
  }
  eval::SegmentBuilder b;
  b.set_offset(changes.offset());
  absl::Status put;
  source->ForEachRelation([&](std::string_view name, const eval::IndexedRelation& rel) {
    if (!put.ok()) return;
    const size_t arity = static_cast<size_t>(rel.arity());
    rel.ForEach(0, nullptr, [&](const eval::SymbolId* ids) {
      put = b.PutFrom(*source, name, std::span<const eval::SymbolId>(ids, arity));
      return put.ok();
    });
  });
  ARBITER_RETURN_IF_ERROR(put);
  ARBITER_ASSIGN_OR_RETURN(eval::SegmentBytes bytes, b.Finish());
  return eval::Segment::FromBytes(std::move(bytes), eval::Segment::Check::kBuilt,
                                  "merged base");
}

}  // namespace arbiter::replica
