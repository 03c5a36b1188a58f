#include "services/reader/tenant_replicas.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/polar/policy.h"
#include "common/storage/sqlite.h"
#include "glog/logging.h"

namespace arbiter::reader {

std::shared_ptr<const TenantMap> TenantReplicas::Advance(
    const storage::ControlState& control) {
  retry_ = false;
  if (control.current_generation != generation_) {
    if (generation_ >= 0) {
      LOG(INFO) << "generation " << generation_ << " -> "
                << control.current_generation << ": reopening every tenant";
    }
    replicas_.clear();
    dbs_.Clear();
    map_ = std::make_shared<TenantMap>();
    generation_ = control.current_generation;
  }
  if (generation_ == 0) return map_;

  // Tenants that left the registry (only with a new generation, handled
  // above, but be exact).
  if (replicas_.size() > control.tenants.size()) {
    absl::flat_hash_map<std::string, bool> keep;
    for (const auto& t : control.tenants) keep[t.name] = true;
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      if (!keep.contains(it->first)) {
        dbs_.Erase(it->first);
        replicas_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  auto map = std::make_shared<TenantMap>();
  map->reserve(control.tenants.size());
  for (const storage::TenantEntry& entry : control.tenants) {
    std::unique_ptr<Replica>& slot = replicas_[entry.name];
    if (slot == nullptr) {
      slot = std::make_unique<Replica>();
      slot->name = entry.name;
    }
    Replica& r = *slot;
    bool held = false;
    absl::Status s = CatchUp(r, entry, &held);
    if (s.ok() && held) {
      // The snapshot, and what the view says of it, stay as they were.
      ++held_;
    } else if (s.ok()) {
      r.view.snapshot = r.snapshot;
      r.view.complete_offset = storage::TenantComplete(control, entry);
      r.view.fresh_as_of = storage::TenantFreshAsOf(control, entry);
      r.view.error = absl::OkStatus();
    } else {
      // The last good data stays, with what was true of it; it goes stale
      // by itself, and then the error is the reason given.
      if (r.view.error.ok() || r.view.error.message() != s.message()) {
        LOG(WARNING) << "tenant \"" << entry.name << "\": " << s;
      }
      r.view.error = Annotate(s, absl::StrCat("tenant \"", entry.name, "\""));
    }
    map->emplace(entry.name, r.view);
  }
  map_ = std::move(map);
  return map_;
}

absl::Status TenantReplicas::UseIndex(Replica& r, const storage::TenantIndex& index,
                                      storage::TenantDb& db) {
  std::vector<std::shared_ptr<const eval::Segment>> layers;
  std::vector<std::string> names = index.files();
  if (index.base.empty()) {
    // Not indexed by the writer yet: a private base, read once.
    if (r.index.base.empty() && !r.layers.empty()) {
      layers.push_back(r.layers.front());
    } else {
      ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::Segment> base,
                               replica::BuildBaseFromDb(db));
      LOG(INFO) << "tenant \"" << r.name << "\": no shared index yet; a private one of "
                << base->fact_delta() << " facts at offset " << base->offset();
      layers.push_back(std::move(base));
    }
  } else {
    // Files already mapped are reused; the others are mapped and verified.
    const std::vector<std::string> have = r.index.files();
    for (const std::string& name : names) {
      std::shared_ptr<const eval::Segment> seg;
      for (size_t i = 0; i < have.size() && i < r.layers.size(); ++i) {
        if (have[i] == name) seg = r.layers[i];
      }
      if (seg == nullptr) {
        auto opened = eval::Segment::Open(dir_.TenantPath(generation_, name));
        if (absl::IsNotFound(opened.status())) {
          retry_ = true;  // replaced since control.db was read
          return absl::UnavailableError(
              absl::StrCat("index file ", name, " was replaced; re-reading control.db"));
        }
        ARBITER_RETURN_IF_ERROR(opened.status());
        ++segments_mapped_;
        seg = std::move(*opened);
      }
      layers.push_back(std::move(seg));
    }
  }
  ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::FactIndex> stack,
                           eval::FactIndex::Stack(layers));
  r.layers = std::move(layers);
  r.index = index;
  r.stack = std::move(stack);
  r.top.Clear();
  r.top.set_offset(r.stack->offset());
  r.tenant_offset = -1;  // read the changes after the new stack
  return absl::OkStatus();
}

absl::Status TenantReplicas::CatchUp(Replica& r, const storage::TenantEntry& entry,
                                     bool* held) {
  *held = false;
  if (r.snapshot != nullptr && entry.applied_offset == r.tenant_offset &&
      r.stack != nullptr && entry.index == r.index) {
    return absl::OkStatus();  // nothing changed: no need for its database
  }
  const std::string path = dir_.TenantPath(generation_, entry.path);
  storage::DbOptions read_only;
  read_only.read_only = true;
  absl::StatusOr<storage::TenantDb*> opened = dbs_.Get(r.name, path, read_only);
  if (!opened.ok()) return Annotate(opened.status(), absl::StrCat("opening ", path));
  storage::TenantDb& db = **opened;
  if (r.stack == nullptr || !(entry.index == r.index)) {
    absl::Status s = UseIndex(r, entry.index, db);
    if (!s.ok()) {
      if (r.stack == nullptr) return s;
      // The stack in use is still right (its files stay mapped): keep it,
      // with the changes after it, and try the new files next time.
      LOG_EVERY_N(WARNING, 100) << "tenant \"" << r.name << "\": " << s
                                << "; staying on the index in use";
    }
  }
  // The registry's offset moves in the same control.db transaction as the
  // completeness it reports: equal means nothing of this tenant was applied
  // since the snapshot.
  if (r.snapshot != nullptr && entry.applied_offset == r.tenant_offset) {
    return absl::OkStatus();
  }
  if (r.snapshot != nullptr && r.view.error.ok() &&
      static_cast<int64_t>(r.top.size()) > max_top_changes_) {
    if (!r.held) {
      LOG(WARNING) << "tenant \"" << r.name << "\": " << r.top.size()
                   << " changes past the writer's newest index file (over "
                      "--max_top_changes): holding its view at offset "
                   << r.tenant_offset << " until the writer names a newer one";
      r.held = true;
    }
    *held = true;
    return absl::OkStatus();
  }
  if (r.held) {
    LOG(INFO) << "tenant \"" << r.name << "\": the writer's index caught up; advancing";
    r.held = false;
  }
  ARBITER_ASSIGN_OR_RETURN(
      storage::Transaction txn,
      storage::Transaction::Begin(db.db(), storage::Transaction::Mode::kRead));
  ARBITER_ASSIGN_OR_RETURN(storage::TenantMeta meta, db.Meta());
  if (meta.applied_offset > r.top.offset()) {
    ARBITER_RETURN_IF_ERROR(replica::ForEachChange(
        db, r.top.offset(), meta.applied_offset,
        [&](storage::Change c) { r.top.Apply(std::move(c)); }));
    r.top.set_offset(meta.applied_offset);
  }
  ARBITER_RETURN_IF_ERROR(txn.Commit());

  std::shared_ptr<const eval::FactIndex> facts = r.stack;
  if (!r.top.empty()) {
    ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::Segment> top,
                             r.top.BuildLayer(r.stack.get()));
    std::vector<std::shared_ptr<const eval::Segment>> layers = r.stack->layers();
    layers.push_back(std::move(top));
    ARBITER_ASSIGN_OR_RETURN(facts, eval::FactIndex::Stack(std::move(layers)));
    ++top_rebuilds_;
  }
  if (meta.policy_version != r.policy_version) CompilePolicy(r, meta);
  r.tenant_offset = meta.applied_offset;
  auto snap = std::make_shared<TenantSnapshot>();
  snap->tenant = r.name;
  snap->db_path = path;
  snap->tenant_offset = r.tenant_offset;
  snap->policy_version = r.policy_version;
  snap->facts = std::move(facts);
  snap->engine = r.engine;
  snap->policy_status = r.policy_status;
  r.snapshot = std::move(snap);
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
  auto engine = eval::Engine::Create(std::move(*program), engine_options_);
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
