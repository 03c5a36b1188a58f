#include "services/reader/tenant_replicas.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/polar/policy.h"
#include "common/storage/sqlite.h"
#include "glog/logging.h"

namespace arbiter::reader {
namespace {
// Change rows read per query while catching up (all inside one read
// transaction, so the result is one consistent state).
constexpr int64_t kChangesPage = 10000;
}  // namespace

absl::StatusOr<std::shared_ptr<const TenantMap>> TenantReplicas::Advance(
    const storage::ControlState& control) {
  if (control.current_generation != generation_) {
    if (generation_ >= 0) {
      LOG(INFO) << "generation " << generation_ << " -> "
                << control.current_generation << ": reopening every tenant";
    }
    replicas_.clear();
    map_ = std::make_shared<TenantMap>();
    generation_ = control.current_generation;
  }
  if (generation_ == 0) return map_;

  bool changed = false;
  // Tenants that left the registry (only possible with a new generation,
  // handled above, but be exact).
  if (replicas_.size() > control.tenants.size()) {
    absl::flat_hash_map<std::string, bool> keep;
    for (const auto& t : control.tenants) keep[t.name] = true;
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      if (!keep.contains(it->first)) {
        replicas_.erase(it++);
        changed = true;
      } else {
        ++it;
      }
    }
  }
  for (const storage::TenantEntry& entry : control.tenants) {
    auto it = replicas_.find(entry.name);
    if (it == replicas_.end()) {
      ARBITER_ASSIGN_OR_RETURN(std::unique_ptr<Replica> r, Open(entry));
      bool ignored = false;
      ARBITER_RETURN_IF_ERROR(
          Annotate(CatchUp(*r, /*full_reload=*/true, &ignored),
                   absl::StrCat("tenant \"", entry.name, "\"")));
      replicas_.emplace(entry.name, std::move(r));
      changed = true;
      continue;
    }
    Replica& r = *it->second;
    // The registry's offset moves in the same control.db transaction as the
    // global applied offset: equal means nothing of this tenant was applied
    // since the snapshot (which then also holds every entry <= the global
    // applied offset).
    if (entry.applied_offset == r.tenant_offset) continue;
    bool c = false;
    ARBITER_RETURN_IF_ERROR(Annotate(CatchUp(r, /*full_reload=*/false, &c),
                                     absl::StrCat("tenant \"", entry.name, "\"")));
    changed |= c;
  }
  if (changed) {
    auto map = std::make_shared<TenantMap>();
    map->reserve(replicas_.size());
    for (const auto& [name, r] : replicas_) map->emplace(name, r->snapshot);
    map_ = std::move(map);
  }
  return map_;
}

absl::StatusOr<std::unique_ptr<TenantReplicas::Replica>> TenantReplicas::Open(
    const storage::TenantEntry& entry) {
  storage::DbOptions options;
  options.read_only = true;
  const std::string path = dir_.TenantPath(generation_, entry.path);
  auto db = storage::TenantDb::Open(path, options);
  if (!db.ok()) {
    return Annotate(db.status(), absl::StrCat("opening tenant \"", entry.name,
                                              "\" at ", path));
  }
  auto r = std::make_unique<Replica>();
  r->name = entry.name;
  r->db = std::move(*db);
  return r;
}

absl::Status TenantReplicas::CatchUp(Replica& r, bool full_reload,
                                     bool* changed) {
  *changed = false;
  ARBITER_ASSIGN_OR_RETURN(
      storage::Transaction txn,
      storage::Transaction::Begin(r.db->db(), storage::Transaction::Mode::kRead));
  ARBITER_ASSIGN_OR_RETURN(storage::TenantMeta meta, r.db->Meta());
  if (!full_reload && meta.applied_offset == r.tenant_offset) {
    return absl::OkStatus();
  }
  if (!full_reload) {
    std::vector<storage::Change> all;
    int64_t after_offset = r.tenant_offset;
    int64_t after_seq = std::numeric_limits<int64_t>::max();
    while (true) {
      auto page = r.db->ChangesSince(after_offset, kChangesPage, after_seq);
      if (absl::IsOutOfRange(page.status())) {
        LOG(INFO) << "tenant \"" << r.name << "\": change feed pruned past "
                  << r.tenant_offset << "; rebuilding from the facts";
        full_reload = true;
        break;
      }
      ARBITER_RETURN_IF_ERROR(page.status());
      for (auto& c : *page) {
        if (c.offset > meta.applied_offset) break;  // not ours yet (cannot happen in one txn)
        all.push_back(std::move(c));
      }
      if (static_cast<int64_t>(page->size()) < kChangesPage) break;
      after_offset = page->back().offset;
      after_seq = page->back().seq;
    }
    if (!full_reload) {
      for (storage::Change& c : all) {
        if (c.op == storage::ChangeOp::kInsert) {
          r.facts.insert(std::move(c.fact));
        } else {
          r.facts.erase(c.fact);
        }
      }
    }
  }
  if (full_reload) {
    r.facts.clear();
    ARBITER_RETURN_IF_ERROR(r.db->ForEachFact([&](const Fact& f) {
      r.facts.insert(f);
      return true;
    }));
  }
  ARBITER_RETURN_IF_ERROR(txn.Commit());

  ARBITER_ASSIGN_OR_RETURN(
      std::shared_ptr<const eval::FactIndex> index,
      eval::FactIndex::Create(std::vector<Fact>(r.facts.begin(), r.facts.end()),
                              meta.applied_offset));
  if (meta.policy_version != r.policy_version) CompilePolicy(r, meta);
  r.tenant_offset = meta.applied_offset;
  auto snap = std::make_shared<TenantSnapshot>();
  snap->tenant = r.name;
  snap->tenant_offset = r.tenant_offset;
  snap->policy_version = r.policy_version;
  snap->facts = std::move(index);
  snap->engine = r.engine;
  snap->policy_status = r.policy_status;
  r.snapshot = std::move(snap);
  ++rebuilds_;
  *changed = true;
  return absl::OkStatus();
}

void TenantReplicas::CompilePolicy(Replica& r, const storage::TenantMeta& meta) {
  r.policy_version = meta.policy_version;
  r.engine = nullptr;
  if (meta.policy_version == 0) {
    r.policy_status = absl::FailedPreconditionError(
        absl::StrCat("tenant \"", r.name, "\" has no policy"));
    return;
  }
  auto program = polar::CompilePolicy(meta.policy_source);
  if (!program.ok()) {
    r.policy_status = absl::FailedPreconditionError(
        absl::StrCat("tenant \"", r.name, "\": policy version ",
                     meta.policy_version, " does not compile in this reader: ",
                     program.status().message()));
    LOG(ERROR) << r.policy_status;
    return;
  }
  auto engine = eval::Engine::Create(std::move(*program));
  if (!engine.ok()) {
    r.policy_status = absl::FailedPreconditionError(
        absl::StrCat("tenant \"", r.name, "\": policy version ",
                     meta.policy_version, ": ", engine.status().message()));
    LOG(ERROR) << r.policy_status;
    return;
  }
  r.engine = std::move(*engine);
  r.policy_status = absl::OkStatus();
  LOG(INFO) << "tenant \"" << r.name << "\": policy version "
            << meta.policy_version << " compiled";
}

}  // namespace arbiter::reader
