#include "services/writer/index_maintainer.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/base/thread_util.h"
#include "common/replica/replica_dir.h"
#include "common/storage/sqlite.h"
#include "glog/logging.h"

namespace arbiter::writer {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kRetryPause = absl::Seconds(1);

// The stack of a tenant's built layers (null ones left out).
absl::StatusOr<std::shared_ptr<const eval::FactIndex>> StackOf(
    const std::shared_ptr<const eval::Segment>& base,
    const std::shared_ptr<const eval::Segment>& delta = nullptr,
    const std::shared_ptr<const eval::Segment>& recent = nullptr) {
  std::vector<std::shared_ptr<const eval::Segment>> layers = {base};
  if (delta != nullptr) layers.push_back(delta);
  if (recent != nullptr) layers.push_back(recent);
  return eval::FactIndex::Stack(std::move(layers));
}

// Adds the net changes an upper layer holds to `out` (rows present,
// tombstones absent), and sets its offset.
void LoadDelta(const eval::FactIndex& stack, const eval::Segment& delta,
               replica::ChangeSet* out) {
  for (const eval::SegmentRelation& rel : delta.relations()) {
    auto fact_of = [&](const eval::SymbolId* ids) {
      storage::Change c;
      c.fact.predicate = std::string(rel.name);
      for (int i = 0; i < rel.arity; ++i) c.fact.args.push_back(stack.value(ids[i]).ToValue());
      return c;
    };
    for (uint32_t r = 0; r < rel.num_rows; ++r) {
      storage::Change c = fact_of(rel.ids(r));
      c.op = storage::ChangeOp::kInsert;
      out->Apply(std::move(c));
    }
    for (uint32_t t = 0; t < rel.num_tombstones; ++t) {
      storage::Change c = fact_of(rel.tombstones + size_t{t} * rel.arity);
      c.op = storage::ChangeOp::kDelete;
      out->Apply(std::move(c));
    }
  }
  out->set_offset(delta.offset());
}

}  // namespace

absl::Status IndexOptions::Validate() const {
  if (recent_every_changes < 1) {
    return absl::InvalidArgumentError("--index_recent_every_changes: must be >= 1");
  }
  if (delta_every_changes < recent_every_changes) {
    return absl::InvalidArgumentError(
        "--index_delta_every_changes: must be >= --index_recent_every_changes");
  }
  if (merge_min_changes < 1 || merge_max_changes < merge_min_changes) {
    return absl::InvalidArgumentError(
        "--index_merge_min_changes / --index_merge_max_changes: need 1 <= min <= max");
  }
  if (!(merge_ratio > 0 && merge_ratio <= 1)) {
    return absl::InvalidArgumentError("--index_merge_ratio: must be in (0, 1]");
  }
  if (grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--index_grace: must be >= 0");
  }
  if (max_open_tenants < 1) {
    return absl::InvalidArgumentError("--index_max_open_tenants: must be >= 1");
  }
  return absl::OkStatus();
}

IndexMaintainer::IndexMaintainer(IndexOptions options, std::function<void()> wake)
    : options_(std::move(options)), wake_(std::move(wake)) {}

IndexMaintainer::~IndexMaintainer() { Stop(); }

void IndexMaintainer::Start() {
  thread_ = std::thread([this] { Run(); });
  merge_thread_ = std::thread([this] { RunMerges(); });
}

void IndexMaintainer::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (merge_thread_.joinable()) merge_thread_.join();
}

void IndexMaintainer::Reset(const std::string& generation_dir,
                            const storage::ControlState& state) {
  absl::MutexLock l(&mu_);
  reset_pending_ = true;
  reset_dir_ = generation_dir;
  reset_state_ = state;
  auto taken = [this] {
    mu_.AssertReaderHeld();
    return !reset_pending_ || stopping_;
  };
  mu_.Await(absl::Condition(&taken));
}

void IndexMaintainer::Notify(
    const std::vector<std::pair<std::string, int64_t>>& tenant_offsets) {
  if (tenant_offsets.empty()) return;
  absl::MutexLock l(&mu_);
  for (const auto& [name, offset] : tenant_offsets) {
    int64_t& d = dirty_[name];
    d = std::max(d, offset);
  }
}

std::vector<std::pair<std::string, storage::TenantIndex>> IndexMaintainer::TakeReady() {
  absl::MutexLock l(&mu_);
  return std::exchange(ready_, {});
}

void IndexMaintainer::Named(
    const std::vector<std::pair<std::string, storage::TenantIndex>>& named) {
  absl::MutexLock l(&mu_);
  for (const auto& [name, index] : named) {
    storage::TenantIndex& before = named_[name];
    for (const std::string& f : before.files()) {
      if (!index.names(f)) Retire(f);
    }
    before = index;
    // Publish may have retired these files while this list was in flight
    // (taken, not yet named) when a newer one replaced a list sharing them:
    // named now, they go only once a later list replaces them.
    const storage::TenantIndex& now = index;  // (clang 14 cannot capture a binding)
    retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                  [&](const auto& r) { return now.names(r.second); }),
                   retired_.end());
  }
}

void IndexMaintainer::Requeue(
    std::vector<std::pair<std::string, storage::TenantIndex>> taken) {
  absl::MutexLock l(&mu_);
  for (auto& t : taken) {
    const bool newer = std::any_of(ready_.begin(), ready_.end(),
                                   [&](const auto& r) { return r.first == t.first; });
    if (!newer) ready_.push_back(std::move(t));
  }
}

void IndexMaintainer::Retire(const std::string& relative) {
  retired_.emplace_back(absl::Now() + options_.grace, relative);
}

void IndexMaintainer::DeleteRetired(absl::Time now) {
  std::vector<std::string> go;
  std::string dir;
  {
    absl::MutexLock l(&mu_);
    dir = retire_dir_;
    auto keep = std::stable_partition(retired_.begin(), retired_.end(),
                                      [&](const auto& r) { return r.first > now; });
    for (auto it = keep; it != retired_.end(); ++it) go.push_back(it->second);
    retired_.erase(keep, retired_.end());
  }
  for (const std::string& relative : go) {
    std::error_code ec;
    fs::remove(replica::ReplicaDir(dir).Path(relative), ec);
  }
}

bool IndexMaintainer::LongRead(const std::string& tenant) const {
  absl::MutexLock l(&mu_);
  return long_reads_.contains(tenant);
}

IndexMaintainer::Stats IndexMaintainer::stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

std::string IndexMaintainer::NewName(const std::string& tenant, const char* kind,
                                     int64_t offset) {
  static std::atomic<uint64_t> nonce{0};
  return replica::ReplicaDir::IndexRelativePath(tenant, kind, offset,
                                                static_cast<int64_t>(::getpid()), ++nonce);
}

absl::StatusOr<storage::TenantIndex> IndexMaintainer::BuildFirstBase(
    const std::string& generation_dir, const std::string& tenant) {
  const replica::ReplicaDir dir(generation_dir);
  std::error_code ec;
  fs::create_directories(dir.TenantIndexDir(tenant), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("create ", dir.TenantIndexDir(tenant), ": ", ec.message()));
  }
  storage::DbOptions o;
  o.read_only = true;
  ARBITER_ASSIGN_OR_RETURN(std::unique_ptr<storage::TenantDb> db,
                           storage::TenantDb::Open(dir.TenantPath(tenant), o));
  ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::Segment> base,
                           replica::BuildBaseFromDb(*db));
  storage::TenantIndex index;
  index.base = NewName(tenant, "base", base->offset());
  index.base_offset = base->offset();
  ARBITER_RETURN_IF_ERROR(eval::WriteSegmentFile(dir.Path(index.base), *base));
  return index;
}

absl::StatusOr<storage::TenantDb*> IndexMaintainer::Db(const std::string& name) {
  storage::DbOptions o;
  o.read_only = true;
  return dbs_.Get(name, replica::ReplicaDir(dir_).TenantPath(name), o);
}

void IndexMaintainer::ResetNow() {
  std::string dir;
  storage::ControlState state;
  {
    absl::MutexLock l(&mu_);
    dir = reset_dir_;
    state = std::move(reset_state_);
    dirty_.clear();
    ready_.clear();
    named_.clear();
    retired_.clear();
    merge_queue_.clear();
    merged_.clear();
    ++resets_;  // a merge still running belongs to the old generation
    retire_dir_ = dir;
  }
  tenants_.clear();
  dbs_.Clear();
  dir_ = dir;
  const replica::ReplicaDir replica_dir(dir_);
  absl::flat_hash_set<std::string> keep;
  std::map<std::string, int64_t> dirty;
  absl::flat_hash_map<std::string, storage::TenantIndex> named;
  for (const storage::TenantEntry& e : state.tenants) {
    Tenant& t = tenants_[e.name];
    named[e.name] = e.index;
    dirty[e.name] = e.applied_offset;
    if (e.index.base.empty()) continue;
    // Adopt the named files if every one of them opens, verifies and stacks.
    std::shared_ptr<const eval::Segment> layers[3];
    const std::string* names[3] = {&e.index.base, &e.index.delta, &e.index.recent};
    absl::Status s;
    for (int i = 0; i < 3 && s.ok(); ++i) {
      if (names[i]->empty()) continue;
      auto seg = eval::Segment::Open(replica_dir.Path(*names[i]));
      s = seg.status();
      if (s.ok()) layers[i] = std::move(*seg);
    }
    std::shared_ptr<const eval::FactIndex> with_delta, full;
    if (s.ok()) {
      auto st = StackOf(layers[0], layers[1]);
      s = st.status();
      if (s.ok()) with_delta = std::move(*st);
    }
    if (s.ok()) {
      auto st = StackOf(layers[0], layers[1], layers[2]);
      s = st.status();
      if (s.ok()) full = std::move(*st);
    }
    if (!s.ok()) {
      LOG(WARNING) << "tenant \"" << e.name << "\": its index files cannot be used (" << s
                   << "); rebuilding them";
      continue;
    }
    t.base = layers[0];
    t.base_name = e.index.base;
    t.since_base.set_offset(t.base->offset());
    t.since_delta.set_offset(t.base->offset());
    if (layers[1] != nullptr) {
      LoadDelta(*with_delta, *layers[1], &t.since_base);
      t.since_delta.set_offset(layers[1]->offset());
      t.delta = layers[1];
      t.delta_name = e.index.delta;
    }
    if (layers[2] != nullptr) {
      LoadDelta(*full, *layers[2], &t.since_base);
      LoadDelta(*full, *layers[2], &t.since_delta);
      t.recent = layers[2];
      t.recent_name = e.index.recent;
    }
    t.read_offset = t.since_base.offset();
    for (const std::string& f : e.index.files()) keep.insert(f);
  }
  // Files no registry row names are leftovers of an earlier process.
  std::error_code ec;
  for (const auto& tenant_dir : fs::directory_iterator(replica_dir.IndexDir(), ec)) {
    std::error_code ec2;
    for (const auto& f : fs::directory_iterator(tenant_dir.path(), ec2)) {
      const std::string relative = fs::relative(f.path(), dir_, ec2).string();
      if (!keep.contains(relative)) {
        std::error_code ec3;
        fs::remove(f.path(), ec3);
      }
    }
  }
  absl::MutexLock l(&mu_);
  named_ = std::move(named);
  for (const auto& [name, offset] : dirty) {
    int64_t& d = dirty_[name];
    d = std::max(d, offset);
  }
  reset_pending_ = false;
}

absl::StatusOr<std::string> IndexMaintainer::Write(const std::string& tenant,
                                                   const char* kind,
                                                   const eval::Segment& layer) {
  const std::string file = NewName(tenant, kind, layer.offset());
  ARBITER_RETURN_IF_ERROR(eval::WriteSegmentFile(replica::ReplicaDir(dir_).Path(file), layer));
  return file;
}

absl::Status IndexMaintainer::Publish(const std::string& name, Tenant& t) {
  storage::TenantIndex index;
  index.base = t.base_name;
  index.base_offset = t.base->offset();
  if (t.delta != nullptr) {
    index.delta = t.delta_name;
    index.delta_offset = t.delta->offset();
  }
  if (t.recent != nullptr) {
    index.recent = t.recent_name;
    index.recent_offset = t.recent->offset();
  }
  {
    absl::MutexLock l(&mu_);
    // A newer list replaces an older one of the same tenant not yet taken.
    // Its files that control.db names stay until Named() replaces them
    // there; the others were never named, and go. (A plain loop: clang's
    // thread-safety analysis does not see the lock inside a lambda.)
    const auto it = named_.find(name);
    const storage::TenantIndex none;
    const storage::TenantIndex& current = it == named_.end() ? none : it->second;
    std::vector<std::pair<std::string, storage::TenantIndex>> kept;
    for (auto& r : ready_) {
      if (r.first != name) {
        kept.push_back(std::move(r));
        continue;
      }
      for (const std::string& f : r.second.files()) {
        if (!index.names(f) && !current.names(f)) Retire(f);
      }
    }
    ready_ = std::move(kept);
    ready_.emplace_back(name, index);
  }
  if (wake_) wake_();
  return absl::OkStatus();
}

absl::Status IndexMaintainer::Process(const std::string& name, Tenant& t) {
  ARBITER_ASSIGN_OR_RETURN(storage::TenantDb * db, Db(name));
  std::error_code ec;
  const std::string index_dir = replica::ReplicaDir(dir_).TenantIndexDir(name);
  fs::create_directories(index_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", index_dir, ": ", ec.message()));
  if (t.base == nullptr) {
    {
      absl::MutexLock l(&mu_);
      long_reads_.insert(name);
    }
    const absl::Time start = absl::Now();
    absl::StatusOr<std::shared_ptr<const eval::Segment>> base = replica::BuildBaseFromDb(*db);
    {
      absl::MutexLock l(&mu_);
      long_reads_.erase(name);
    }
    ARBITER_RETURN_IF_ERROR(base.status());
    ARBITER_ASSIGN_OR_RETURN(std::string file, Write(name, "base", **base));
    LOG(INFO) << "tenant \"" << name << "\": index base of " << (*base)->fact_delta()
              << " facts at offset " << (*base)->offset() << " built from its database in "
              << absl::Now() - start << " (" << (*base)->byte_size() << " bytes)";
    t.base = *base;
    t.base_name = std::move(file);
    t.delta = t.recent = nullptr;
    t.delta_name.clear();
    t.recent_name.clear();
    t.since_base.Clear();
    t.since_base.set_offset(t.base->offset());
    t.since_delta.Clear();
    t.since_delta.set_offset(t.base->offset());
    t.merging = false;
    t.read_offset = t.base->offset();
    t.unpublished = 0;
    {
      absl::MutexLock l(&mu_);
      ++stats_.bases_from_db;
    }
    return Publish(name, t);
  }

  if (t.target > t.read_offset) {
    ARBITER_ASSIGN_OR_RETURN(
        storage::Transaction txn,
        storage::Transaction::Begin(db->db(), storage::Transaction::Mode::kRead));
    ARBITER_ASSIGN_OR_RETURN(int64_t applied, db->AppliedOffset());
    int64_t rows = 0;
    ARBITER_RETURN_IF_ERROR(replica::ForEachChange(
        *db, t.read_offset, applied, [&](storage::Change c) {
          t.since_delta.Apply(c);
          if (t.merging) t.since_merge.Apply(c);
          t.since_base.Apply(std::move(c));
          ++rows;
        }));
    ARBITER_RETURN_IF_ERROR(txn.Commit());
    t.read_offset = std::max(t.read_offset, applied);
    t.since_base.set_offset(t.read_offset);
    t.since_delta.set_offset(t.read_offset);
    if (t.merging) t.since_merge.set_offset(t.read_offset);
    t.unpublished += rows;
  }
  if (t.unpublished == 0) return absl::OkStatus();

  // A merge into a new base, on the merge thread; deltas go on meanwhile.
  const int64_t merge_at = std::clamp<int64_t>(
      static_cast<int64_t>(static_cast<double>(t.base->fact_delta()) * options_.merge_ratio),
      options_.merge_min_changes, options_.merge_max_changes);
  if (!t.merging && static_cast<int64_t>(t.since_base.size()) >= merge_at) {
    auto m = std::make_unique<Merge>();
    m->tenant = name;
    m->base = t.base;
    m->changes = t.since_base;
    t.merging = true;
    t.since_merge.Clear();
    t.since_merge.set_offset(t.read_offset);
    absl::MutexLock l(&mu_);
    m->reset = resets_;
    merge_queue_.push_back(std::move(m));
    // The merge covers these changes; later ones get deltas and recent
    // layers over the old base while it runs.
    return absl::OkStatus();
  }
  if (static_cast<int64_t>(t.since_delta.size()) >= options_.delta_every_changes) {
    ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::FactIndex> base_only, StackOf(t.base));
    ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::Segment> delta,
                             t.since_base.BuildLayer(base_only.get()));
    ARBITER_ASSIGN_OR_RETURN(t.delta_name, Write(name, "delta", *delta));
    t.delta = std::move(delta);
    t.recent = nullptr;
    t.recent_name.clear();
    t.since_delta.Clear();
    t.since_delta.set_offset(t.read_offset);
    t.unpublished = 0;
    {
      absl::MutexLock l(&mu_);
      ++stats_.deltas;
    }
    return Publish(name, t);
  }
  if (t.unpublished < options_.recent_every_changes) return absl::OkStatus();
  ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::FactIndex> below,
                           StackOf(t.base, t.delta));
  ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::Segment> recent,
                           t.since_delta.BuildLayer(below.get()));
  ARBITER_ASSIGN_OR_RETURN(t.recent_name, Write(name, "recent", *recent));
  t.recent = std::move(recent);
  t.unpublished = 0;
  {
    absl::MutexLock l(&mu_);
    ++stats_.recents;
  }
  return Publish(name, t);
}

absl::Status IndexMaintainer::InstallMerge(Merge& m, Tenant& t) {
  t.merging = false;
  ARBITER_RETURN_IF_ERROR(m.merged.status());
  std::shared_ptr<const eval::Segment> merged = *m.merged;
  ARBITER_ASSIGN_OR_RETURN(std::string file, Write(m.tenant, "base", *merged));
  VLOG(1) << "tenant \"" << m.tenant << "\": merged " << m.changed
          << " changed facts into a new base of " << merged->fact_delta() << " facts in "
          << m.took;
  t.base = std::move(merged);
  t.base_name = std::move(file);
  // The changes since the merge's offset become the new delta.
  t.since_base = std::move(t.since_merge);
  t.since_merge = replica::ChangeSet();
  t.recent = nullptr;
  t.recent_name.clear();
  t.delta = nullptr;
  t.delta_name.clear();
  if (!t.since_base.empty()) {
    ARBITER_ASSIGN_OR_RETURN(std::shared_ptr<const eval::FactIndex> base_only, StackOf(t.base));
    ARBITER_ASSIGN_OR_RETURN(t.delta, t.since_base.BuildLayer(base_only.get()));
    ARBITER_ASSIGN_OR_RETURN(t.delta_name, Write(m.tenant, "delta", *t.delta));
  }
  t.since_delta.Clear();
  t.since_delta.set_offset(t.read_offset);
  t.unpublished = 0;
  {
    absl::MutexLock l(&mu_);
    ++stats_.bases_merged;
  }
  return Publish(m.tenant, t);
}

void IndexMaintainer::RunMerges() {
  SetCurrentThread("index-merge");
  while (true) {
    std::unique_ptr<Merge> m;
    {
      absl::MutexLock l(&mu_);
      auto work = [this] {
        mu_.AssertReaderHeld();
        return stopping_ || !merge_queue_.empty();
      };
      mu_.Await(absl::Condition(&work));
      if (stopping_) return;
      m = std::move(merge_queue_.front());
      merge_queue_.erase(merge_queue_.begin());
    }
    const absl::Time start = absl::Now();
    absl::StatusOr<std::shared_ptr<const eval::FactIndex>> base_only = StackOf(m->base);
    m->merged = base_only.ok() ? replica::BuildBaseFromStack(**base_only, m->changes)
                               : base_only.status();
    m->took = absl::Now() - start;
    m->changed = static_cast<int64_t>(m->changes.size());
    m->changes.Clear();
    absl::MutexLock l(&mu_);
    if (m->reset == resets_) merged_.push_back(std::move(m));
  }
}

void IndexMaintainer::Run() {
  SetCurrentThread("index-maint");
  while (true) {
    std::map<std::string, int64_t> dirty;
    std::vector<std::unique_ptr<Merge>> merged;
    bool reset = false;
    {
      absl::MutexLock l(&mu_);
      auto work = [this] {
        mu_.AssertReaderHeld();
        return stopping_ || reset_pending_ || !dirty_.empty() || !merged_.empty();
      };
      mu_.AwaitWithTimeout(absl::Condition(&work), absl::Seconds(1));
      if (stopping_) return;
      reset = reset_pending_;
      if (!reset) {
        dirty.swap(dirty_);
        merged.swap(merged_);
      }
    }
    if (reset) {
      ResetNow();
      continue;
    }
    const absl::Time now = absl::Now();
    DeleteRetired(now);
    if (dir_.empty()) continue;
    for (auto& m : merged) {
      auto it = tenants_.find(m->tenant);
      if (it == tenants_.end() || !it->second.merging) continue;
      absl::Status s = InstallMerge(*m, it->second);
      if (!s.ok()) {
        LOG(WARNING) << "tenant \"" << m->tenant << "\": index merge: " << s;
        absl::MutexLock l(&mu_);
        ++stats_.errors;
      }
    }
    for (const auto& [name, offset] : dirty) {
      Tenant& t = tenants_[name];
      t.target = std::max(t.target, offset);
    }
    // Tenants with new entries, and those whose last attempt failed.
    for (auto& [name, t] : tenants_) {
      if (!dirty.contains(name) && !(t.failed && now >= t.retry_at)) continue;
      {
        absl::MutexLock l(&mu_);
        if (stopping_ || reset_pending_) break;
      }
      absl::Status s = Process(name, t);
      t.failed = !s.ok();
      if (!s.ok()) {
        t.retry_at = now + kRetryPause;
        LOG_EVERY_N(WARNING, 20) << "tenant \"" << name << "\": index: " << s;
        absl::MutexLock l(&mu_);
        ++stats_.errors;
      }
    }
  }
}

}  // namespace arbiter::writer
