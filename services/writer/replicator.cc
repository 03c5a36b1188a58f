#include "services/writer/replicator.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/api/api.h"
#include "common/auth/client.h"
#include "common/base/crash_point.h"
#include "common/base/status_macros.h"
#include "common/base/thread_util.h"
#include "common/server/grpc_status.h"
#include "common/storage/sqlite.h"
#include "glog/logging.h"
#include "services/writer/restorer.h"
#include "services/writer/writer_metrics.h"

namespace arbiter::writer {

// A message as received, with the host-local time it arrived.
struct Replicator::Received {
  v1::SubscribeResponse msg;
  storage::BootTime at;
};

// Messages received but not moved into the lanes yet (see Follow).
struct Replicator::Inbox {
  absl::Mutex mu;
  std::deque<Received> queue ABSL_GUARDED_BY(mu);
  // Payload bytes received and not yet applied (queue and lanes).
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
  bool done ABSL_GUARDED_BY(mu) = false;         // the stream ended
  bool abandoned ABSL_GUARDED_BY(mu) = false;    // the apply loop stopped
  bool index_ready ABSL_GUARDED_BY(mu) = false;  // index files to name
};

namespace {

namespace fs = std::filesystem;
using storage::ReplicationState;

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}


// Backpressure: the receiver stops reading (and gRPC flow control slows the
// log's stream) when this many messages, or --max_queued_bytes of payload,
// wait (in the inbox and the lanes).
constexpr size_t kInboxLimit = 10000;

// The smallest slice of a tenant's lane one batch takes (see Follow).
constexpr double kMinSliceBytes = 64 << 10;

}  // namespace

absl::StatusOr<std::unique_ptr<Replicator>> Replicator::Create(
    const WriterOptions& options, const storage::BootClock* clock,
    std::function<void()> on_fatal) {
  host::DataDir dir(options.data_dir);
  std::error_code ec;
  fs::create_directories(dir.root(), ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--data_dir: cannot create ", dir.root(), ": ", ec.message()));
  }
  if (!fs::exists(dir.ControlDbPath())) {
    ARBITER_RETURN_IF_ERROR(storage::ControlDb::Create(dir.ControlDbPath()));
  }
  auto control = storage::ControlDb::Open(dir.ControlDbPath(), storage::DbOptions{});
  if (!control.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir.ControlDbPath(), " cannot be used (", control.status().message(),
        "); move the data directory away to start this host afresh"));
  }
  ARBITER_ASSIGN_OR_RETURN(storage::ControlState state, (*control)->Read());
  // DESIGN.md §8.4: REPLAYING before anything else, so no reader trusts a
  // LIVE left behind by a previous process.
  ARBITER_RETURN_IF_ERROR((*control)->SetReplicationState(
      state.current_generation == 0 ? ReplicationState::kRestoring
                                    : ReplicationState::kReplaying));
  return std::unique_ptr<Replicator>(
      new Replicator(options, clock, std::move(on_fatal), std::move(*control)));
}

Replicator::Replicator(const WriterOptions& options, const storage::BootClock* clock,
                       std::function<void()> on_fatal,
                       std::unique_ptr<storage::ControlDb> control)
    : options_(options),
      clock_(clock),
      on_fatal_(std::move(on_fatal)),
      dir_(options.data_dir),
      control_(std::move(control)) {
  for (absl::string_view a : absl::StrSplit(options.log_address, ',')) {
    addresses_.emplace_back(a);
  }
  Connect(0);
  if (absl::Status s = signal_.Open(dir_.ChangeSignalPath()); !s.ok()) {
    LOG(WARNING) << "readers will not be signalled (they poll): " << s;
  }
  index_ = std::make_unique<IndexMaintainer>(options.index, [this] { WakeForIndex(); });
}

void Replicator::Connect(size_t index) {
  address_index_ = index % addresses_.size();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Reconnect quickly when the log comes back (our own loop backs off).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_max)));
  channel_ = auth::CreateKeyedChannel(log_address(), options_.log_key,
                                      auth::ChannelCredentials(options_.log_tls), args);
  log_ = v1::LogService::NewStub(channel_);
}

Replicator::~Replicator() { Stop(); }

void Replicator::Start() {
  index_->Start();
  thread_ = std::thread([this] { Run(); });
}

void Replicator::Stop() {
  stopping_.store(true);
  {
    absl::MutexLock l(&mu_);
    if (stream_ctx_ != nullptr) stream_ctx_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
  if (index_ != nullptr) index_->Stop();
  CloseTenants();
}

std::string Replicator::fatal_error() const {
  absl::MutexLock l(&mu_);
  return fatal_error_;
}

bool Replicator::SleepUnlessStopped(absl::Duration d) {
  absl::Time until = absl::Now() + d;
  while (!stopping_.load() && absl::Now() < until) {
    absl::SleepFor(std::min(absl::Milliseconds(20), until - absl::Now()));
  }
  return !stopping_.load();
}

void Replicator::Run() {
  // Ahead of request threads: every tenant's freshness waits on this loop
  // (measured at 1M facts on one core under read load: at the default
  // priority single-fact writes fell seconds behind). During a bulk load it
  // can starve the index maintainer; readers then hold that tenant alone
  // (--max_top_changes), never the host.
  SetCurrentThread("apply-loop", ThreadPriority::kLatencyCritical);
  absl::Duration backoff = options_.reconnect_min;
  while (!stopping_.load()) {
    absl::Time started = absl::Now();
    absl::Status s = RunOnce();
    if (stopping_.load()) break;
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      LOG(ERROR) << "the writer cannot continue: " << s.message();
      {
        absl::MutexLock l(&mu_);
        fatal_error_ = std::string(s.message());
      }
      on_fatal_();
      return;
    }
    if (s.ok()) {
      backoff = options_.reconnect_min;
      continue;
    }
    // A connection that lasted a while earns a fresh backoff.
    if (absl::Now() - started > options_.reconnect_max) {
      backoff = options_.reconnect_min;
    }
    LOG(WARNING) << "log " << log_address() << ": " << s << "; retrying in " << backoff
                 << (addresses_.size() > 1 ? " through the next front-end" : "");
    if (!SleepUnlessStopped(backoff)) break;
    // Several front-ends: the next one (the subscription resumes from the
    // applied offset; the identity is checked again against its GetHead).
    if (addresses_.size() > 1) Connect(address_index_ + 1);
    backoff = std::min(backoff * 2, options_.reconnect_max);
  }
}

absl::Status Replicator::RunOnce() {
  v1::GetHeadResponse head;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(options_.rpc_timeout));
    ARBITER_RETURN_IF_ERROR(server::FromGrpcStatus(
        log_->GetHead(&ctx, v1::GetHeadRequest(), &head)));
  }
  ARBITER_ASSIGN_OR_RETURN(storage::ControlState state, control_->Read());
  ARBITER_ASSIGN_OR_RETURN(bool restore, NeedsRestore(head, state));
  if (restore) return Restore(head, state);
  return Follow(head, state);
}

absl::StatusOr<bool> Replicator::NeedsRestore(const v1::GetHeadResponse& head,
                                              const storage::ControlState& state) {
  if (force_restore_) return true;
  if (state.current_generation == 0) return true;
  const auto epoch = static_cast<int64_t>(head.epoch());
  if (!state.cluster_id.empty()) {
    if (state.cluster_id != head.cluster_id()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the data directory ", dir_.root(), " holds cluster ", state.cluster_id,
          " but the log at ", log_address(), " is cluster ", head.cluster_id(),
          ": point --log_address at the right log, or move the data directory "
          "away to start this host afresh"));
    }
    if (state.epoch > epoch) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the data directory holds epoch ", state.epoch, " of cluster ", state.cluster_id,
          " but the log is at the older epoch ", epoch,
          ": the log went back in time; move the data directory away to start "
          "this host afresh from the log"));
    }
    if (state.epoch < epoch) {
      LOG(WARNING) << "the log moved to epoch " << epoch << " (host data: epoch "
                   << state.epoch << "): re-restoring";
      return true;
    }
  }
  if (state.applied_offset > static_cast<int64_t>(head.head_offset())) {
    LOG(ERROR) << "the host applied up to offset " << state.applied_offset
               << " but the log's head is " << head.head_offset()
               << ": the log lost history; re-restoring";
    return true;
  }
  if (applier_ != nullptr && generation_ == state.current_generation) {
    return false;  // checked when this generation was opened
  }

  // DESIGN.md §8.4: every registered tenant's file must exist and be at least
  // as far as the registry says; never recreate a tenant empty.
  CloseTenants();
  for (const auto& t : state.tenants) {
    std::string path = dir_.TenantPath(state.current_generation, t.path);
    auto db = storage::TenantDb::Open(path, storage::DbOptions{.wal_autocheckpoint = 0});
    if (!db.ok()) {
      LOG(ERROR) << "tenant " << t.name << ": " << path << " cannot be used ("
                 << db.status() << "); re-restoring into a new generation";
      return true;
    }
    auto meta = (*db)->Meta();
    if (!meta.ok() || meta->tenant != t.name || meta->applied_offset < t.applied_offset) {
      LOG(ERROR) << "tenant " << t.name << ": " << path
                 << (meta.ok() ? absl::StrCat(" is at offset ", meta->applied_offset,
                                              ", behind the registry's ", t.applied_offset)
                               : absl::StrCat(": ", meta.status().ToString()))
                 << "; re-restoring into a new generation";
      return true;
    }
  }
  return false;
}

absl::Status Replicator::Restore(const v1::GetHeadResponse& head,
                                 const storage::ControlState& state) {
  ARBITER_RETURN_IF_ERROR(control_->SetReplicationState(ReplicationState::kRestoring));
  CloseTenants();
  generation_ = 0;
  const int64_t generation = state.current_generation + 1;
  ARBITER_ASSIGN_OR_RETURN(RestoredGeneration r,
                           RestoreGeneration(*log_, head, dir_, generation, options_));
  // The generation comes with its index (DESIGN.md §9.4): readers of this
  // host serve from shared files as soon as it is LIVE, instead of each
  // reading every tenant's facts for a private copy.
  const absl::Time index_start = absl::Now();
  for (storage::TenantEntry& t : r.tenants) {
    ARBITER_ASSIGN_OR_RETURN(t.index, IndexMaintainer::BuildFirstBase(
                                          dir_.GenerationDir(generation), t.name));
  }
  if (!r.tenants.empty()) {
    LOG(INFO) << "generation " << generation << ": index bases of " << r.tenants.size()
              << " tenants built in " << absl::Now() - index_start;
  }
  ARBITER_RETURN_IF_ERROR(control_->SetClusterIdentity(r.cluster_id, r.epoch));
  ARBITER_RETURN_IF_ERROR(control_->SetGeneration(generation, r.tenants, r.offset));
  ARBITER_RETURN_IF_ERROR(control_->SetReplicationState(ReplicationState::kReplaying));
  force_restore_ = false;
  LOG(INFO) << "generation " << generation << " installed at offset " << r.offset
            << " with " << r.tenants.size() << " tenants; REPLAYING";
  // Keep the previous generation for readers still switching over; older
  // ones are unused.
  for (int64_t g = generation - 2; g >= 1; --g) {
    std::error_code ec;
    if (!fs::exists(dir_.GenerationDir(g), ec)) break;
    fs::remove_all(dir_.GenerationDir(g), ec);
  }
  return absl::OkStatus();
}

void Replicator::CloseTenants() { applier_.reset(); }

absl::Status Replicator::OpenGeneration(const storage::ControlState& state) {
  if (applier_ != nullptr && generation_ == state.current_generation) {
    return absl::OkStatus();
  }
  // The index maintainer takes over this generation's index files (and
  // verifies them) before anything is applied to it.
  index_->Reset(dir_.GenerationDir(state.current_generation), state);
  replica::ApplierOptions options;
  options.replica_dir = dir_.GenerationDir(state.current_generation);
  options.cluster_id = state.cluster_id;
  options.db_options.wal_autocheckpoint = 0;  // checkpointed in ApplyBatch
  ARBITER_ASSIGN_OR_RETURN(applier_, replica::Applier::Open(std::move(options)));
  generation_ = state.current_generation;
  return absl::OkStatus();
}

absl::Status Replicator::Follow(const v1::GetHeadResponse& head,
                                const storage::ControlState& state) {
  ARBITER_RETURN_IF_ERROR(OpenGeneration(state));
  applied_ = state.applied_offset;
  applied_chain_ = state.applied_chain;
  // Every entry received must continue the chain of the one before it,
  // starting from the chain of the entry this host applied last.
  chain_ = state.applied_chain;
  chain_offset_ = state.applied_offset;
  received_chains_.clear();
  tenant_offsets_.clear();
  lagging_.clear();
  for (const auto& t : state.tenants) {
    tenant_offsets_[t.name] = t.applied_offset;
    if (t.lagging) lagging_.insert(t.name);
  }

  grpc::ClientContext ctx;
  {
    absl::MutexLock l(&mu_);
    if (stopping_.load()) return absl::CancelledError("stopping");
    stream_ctx_ = &ctx;
  }
  struct Unregister {
    Replicator* self;
    ~Unregister() {
      absl::MutexLock l(&self->mu_);
      self->stream_ctx_ = nullptr;
    }
  } unregister{this};

  v1::SubscribeRequest req;
  req.set_from_offset(static_cast<uint64_t>(applied_) + 1);
  req.set_expected_cluster_id(head.cluster_id());
  auto stream = log_->Subscribe(&ctx, req);
  LOG(INFO) << "subscribed to " << log_address() << " from offset "
            << applied_ + 1 << " (log head " << head.head_offset() << ")";

  // A receiver thread queues messages as they arrive; this thread moves
  // them into per-tenant lanes and applies, per batch, a slice of every lane
  // (ApplyLanes): while one batch is applied the next accumulates, so batch
  // sizes follow the write rate (group commit on the host side), and one
  // tenant's bulk load never holds back another tenant's entries.
  Inbox inbox;
  std::thread receiver([&] {
    SetCurrentThread("log-receiver", ThreadPriority::kLatencyCritical);
    while (true) {
      Received r;
      if (!stream->Read(&r.msg)) break;
      r.at = clock_->Now();
      const size_t bytes = r.msg.entry().payload().size();
      absl::MutexLock l(&inbox.mu);
      auto room = [&] {
        inbox.mu.AssertReaderHeld();
        return inbox.abandoned ||
               (inbox.queue.size() < kInboxLimit &&
                inbox.bytes < static_cast<size_t>(options_.max_queued_bytes));
      };
      inbox.mu.Await(absl::Condition(&room));
      if (inbox.abandoned) break;
      inbox.bytes += bytes;
      inbox.queue.push_back(std::move(r));
    }
    absl::MutexLock l(&inbox.mu);
    inbox.done = true;
  });
  {
    absl::MutexLock l(&wake_mu_);
    inbox_ = &inbox;
  }

  ApplyLanes lanes(applied_);
  // Payload bytes applied per second (an EWMA over batches), to size slices.
  double apply_rate = 4 << 20;
  absl::Status result;
  absl::Time next_check = absl::Now() + options_.tenant_check_interval;
  while (result.ok()) {
    if (absl::Now() >= next_check) {  // heartbeats wake this loop 4 times a second
      next_check = absl::Now() + options_.tenant_check_interval;
      if (absl::Status files = CheckTenantFiles(); !files.ok()) {
        LOG(ERROR) << files << ": re-restoring into a new generation";
        force_restore_ = true;
        result = files;
        break;
      }
    }
    std::deque<Received> taken;
    bool index_ready = false;
    {
      absl::MutexLock l(&inbox.mu);
      auto ready = [&] {
        inbox.mu.AssertReaderHeld();
        return inbox.done || !inbox.queue.empty() || inbox.index_ready ||
               !lanes.empty();
      };
      // The log sends at least a heartbeat every ~250 ms: a stream silent
      // for --log_silence_timeout has lost its front-end (one cut off from
      // its store sends nothing, DESIGN.md §9.2), so move to the next.
      if (!inbox.mu.AwaitWithTimeout(absl::Condition(&ready), options_.log_silence_timeout)) {
        result = absl::UnavailableError(absl::StrCat(
            "no message from the log for ", absl::FormatDuration(options_.log_silence_timeout),
            " (--log_silence_timeout)"));
        break;
      }
      if (inbox.queue.empty() && lanes.empty() && !inbox.index_ready) break;  // ended
      taken.swap(inbox.queue);
      index_ready = std::exchange(inbox.index_ready, false);
    }
    for (Received& r : taken) {
      if (r.msg.cluster_id() != head.cluster_id() || r.msg.epoch() != head.epoch()) {
        force_restore_ = r.msg.epoch() > head.epoch();
        result = absl::AbortedError(absl::StrCat("the log changed identity to cluster ",
                                                 r.msg.cluster_id(), " epoch ", r.msg.epoch()));
        break;
      }
      const auto durable_head = static_cast<int64_t>(r.msg.durable_head());
      if (!r.msg.has_entry()) {
        lanes.Heartbeat(durable_head, r.at);
        continue;
      }
      result = CheckChain(r.msg.entry());
      if (!result.ok()) break;
      result = lanes.Add(std::move(*r.msg.mutable_entry()), durable_head, r.at);
      if (!result.ok()) break;
    }
    // Entries that passed the checks are durable and valid: apply them even
    // when a later message of the same batch was refused.
    if (!taken.empty() || index_ready || !lanes.empty()) {
      // At least kMinSliceBytes: small entries cost mostly the batch's fixed
      // part (two commits), and a slice sized by a rate measured on tiny
      // batches would shrink below the write rate (measured at 1M facts:
      // single-fact writes at 1,000/s fell 12 s behind on a busy core).
      const double slice = std::clamp(
          apply_rate * absl::ToDoubleSeconds(options_.apply_slice_target),
          std::min(kMinSliceBytes, static_cast<double>(options_.max_tenant_batch_bytes)),
          static_cast<double>(options_.max_tenant_batch_bytes));
      std::vector<v1::LogEntry> batch = lanes.TakeBatch(
          static_cast<size_t>(slice), static_cast<size_t>(options_.max_batch_entries));
      size_t batch_bytes = 0;
      for (const auto& e : batch) batch_bytes += e.payload().size();
      const absl::Time start = absl::Now();
      absl::Status applied = ApplyBatch(batch, lanes);
      const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
      if (applied.ok()) RecordApplyBatch(batch.size(), absl::Now() - start);
      if (applied.ok()) CheckpointTenants(batch);  // not part of the rate
      if (batch_bytes >= 4096 && seconds > 0) {
        apply_rate = 0.7 * apply_rate + 0.3 * (static_cast<double>(batch_bytes) / seconds);
      }
      {
        absl::MutexLock l(&inbox.mu);
        inbox.bytes -= std::min(inbox.bytes, batch_bytes);
      }
      if (result.ok()) result = applied;
    }
    if (stopping_.load()) break;
  }
  {
    absl::MutexLock l(&wake_mu_);
    inbox_ = nullptr;
  }
  {
    absl::MutexLock l(&inbox.mu);
    inbox.abandoned = true;
  }
  if (!result.ok() || stopping_.load()) ctx.TryCancel();
  receiver.join();
  if (!result.ok()) {
    (void)stream->Finish();
    return result;
  }
  absl::Status s = server::FromGrpcStatus(stream->Finish());
  if (s.code() == absl::StatusCode::kOutOfRange) {
    LOG(WARNING) << "history was truncated past this host (" << s.message()
                 << "): re-restoring into a new generation";
    force_restore_ = true;
    return absl::OkStatus();
  }
  if (s.ok()) s = absl::UnavailableError("the log ended the stream");
  return s;
}

void Replicator::WakeForIndex() {
  absl::MutexLock l(&wake_mu_);
  if (inbox_ == nullptr) return;
  absl::MutexLock il(&inbox_->mu);
  inbox_->index_ready = true;
}

absl::Status Replicator::ApplyBatch(const std::vector<v1::LogEntry>& entries,
                                    ApplyLanes& lanes) {
  storage::AppliedUpdate update;
  if (!entries.empty()) {
    absl::Status applied = applier_->ApplyBatch(entries);
    if (applied.code() == absl::StatusCode::kFailedPrecondition) {
      // A tenant database this host should have is gone: the data cannot be
      // trusted any more.
      force_restore_ = true;
      return absl::DataLossError(applied.message());
    }
    if (applied.code() == absl::StatusCode::kDataLoss &&
        absl::StrContains(applied.message(), "sqlite")) {
      // SQLite found a tenant file damaged (not an entry that fails its
      // check, which a restore would not mend).
      LOG(ERROR) << applied << ": re-restoring into a new generation";
      force_restore_ = true;
      return applied;
    }
    ARBITER_RETURN_IF_ERROR(applied);
    MaybeCrash("apply_after_tenant_commit");
    // Per tenant: its last offset in the batch; tenants created by the batch
    // join the registry (a crash before this re-applies their CreateTenant,
    // which the applier skips, and registers them then).
    std::map<std::string, std::pair<int64_t, int64_t>> range;  // first, last
    for (const auto& e : entries) {
      auto [it, inserted] = range.try_emplace(
          e.tenant(), static_cast<int64_t>(e.offset()), static_cast<int64_t>(e.offset()));
      if (!inserted) it->second.second = static_cast<int64_t>(e.offset());
    }
    for (const auto& [tenant, first_last] : range) {
      if (!tenant_offsets_.contains(tenant)) {
        ARBITER_RETURN_IF_ERROR(control_->RegisterTenant(
            {tenant, replica::ReplicaDir::TenantRelativePath(tenant), first_last.first}));
        LOG(INFO) << "tenant " << tenant << " created at offset " << first_last.first;
      }
      tenant_offsets_[tenant] = first_last.second;
      update.tenant_offsets.emplace_back(tenant, first_last.second);
    }
  }
  update.applied_offset = std::max(applied_, lanes.applied());
  while (!received_chains_.empty() && received_chains_.front().first < update.applied_offset) {
    received_chains_.pop_front();
  }
  if (!received_chains_.empty() && received_chains_.front().first == update.applied_offset) {
    update.applied_chain = received_chains_.front().second;
  } else if (update.applied_offset == applied_) {
    update.applied_chain = applied_chain_;
  }
  update.complete_offset = lanes.received();
  update.fresh_as_of = lanes.FreshAsOf(lanes.received());
  // DESIGN.md §9.6: tenants with entries still waiting have their own
  // completeness and freshness; the others share the host's.
  std::set<std::string> lagging_now;
  for (const auto& [tenant, complete] : lanes.Lagging()) {
    if (!tenant_offsets_.contains(tenant)) continue;  // not created here yet
    lagging_now.insert(tenant);
    update.lagging.push_back({tenant, complete, lanes.FreshAsOf(complete)});
  }
  for (const std::string& tenant : lagging_) {
    if (!lagging_now.contains(tenant)) update.caught_up.push_back(tenant);
  }
  update.head_offset = std::max(lanes.head(), lanes.received());
  update.indexes = index_->TakeReady();
  VLOG(1) << "apply: " << entries.size() << " entries, applied " << update.applied_offset
          << " received " << lanes.received() << " head " << lanes.head()
          << (update.fresh_as_of.has_value() ? " fresh" : " not fresh") << ", "
          << update.lagging.size() << " lagging";
  absl::Status committed = control_->UpdateApplied(update);
  if (!committed.ok()) {
    index_->Requeue(std::move(update.indexes));
    return committed;
  }
  applied_ = update.applied_offset;
  applied_chain_ = update.applied_chain;
  lagging_ = std::move(lagging_now);
  lanes.Prune();
  MaybeCrash("apply_after_control_commit");
  signal_.Notify();
  index_->Named(update.indexes);
  index_->Notify(update.tenant_offsets);

  return absl::OkStatus();
}

absl::Status Replicator::CheckChain(const v1::LogEntry& e) {
  const auto offset = static_cast<int64_t>(e.offset());
  if (e.chain() != 0 && chain_ != 0 && offset == chain_offset_ + 1) {
    const uint64_t want = api::NextChain(chain_, e);
    if (want != e.chain()) {
      force_restore_ = true;
      LOG(ERROR) << "entry " << offset << " does not continue the history this host applied "
                 << "(chain " << e.chain() << ", expected " << want
                 << "): the log's history differs from this host's; re-restoring";
      return absl::DataLossError(absl::StrCat(
          "entry ", offset, " does not continue the history this host applied (the log "
          "lost entries and reused their offsets?): re-restoring"));
    }
  }
  // Unknown (0) on either side: trusted, and the chain goes on from it.
  chain_ = e.chain();
  chain_offset_ = offset;
  received_chains_.emplace_back(offset, e.chain());
  return absl::OkStatus();
}

absl::Status Replicator::CheckTenantFiles() const {
  static constexpr char kHeader[16] = "SQLite format 3";  // and its NUL
  for (const auto& [name, offset] : tenant_offsets_) {
    const std::string path =
        dir_.TenantPath(generation_, replica::ReplicaDir::TenantRelativePath(name));
    char header[16] = {};
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const ssize_t n = fd >= 0 ? ::pread(fd, header, sizeof header, 0) : -1;
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (fd < 0 || n != static_cast<ssize_t>(sizeof header) ||
        std::memcmp(header, kHeader, sizeof header) != 0) {
      return absl::DataLossError(absl::StrCat(
          "tenant \"", name, "\": ", path,
          fd < 0 ? absl::StrCat(" cannot be opened: ", std::strerror(err))
                 : std::string(" is not a SQLite database any more")));
    }
  }
  return absl::OkStatus();
}

void Replicator::CheckpointTenants(const std::vector<v1::LogEntry>& entries) {
  // DESIGN.md §8.10: each WAL stays bounded; the copy runs beside the apply
  // loop (WalCheckpointer).
  std::set<std::string> tenants;
  for (const auto& e : entries) tenants.insert(e.tenant());
  for (const std::string& tenant : tenants) {
    absl::StatusOr<storage::TenantDb*> db = applier_->Tenant(tenant);
    if (!db.ok()) continue;  // not created here (yet)
    checkpointer_.AfterCommit(*(*db)->db(), index_->LongRead(tenant));
  }
}

}  // namespace arbiter::writer
