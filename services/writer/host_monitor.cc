#include "services/writer/host_monitor.h"

#include "common/base/progress.h"

#include "common/auth/key_facts.h"
#include "common/base/status_macros.h"
#include "common/host/reader_registry.h"
#include "common/storage/sqlite_fact_source.h"
#include "common/storage/tenant_db.h"
#include "glog/logging.h"

namespace arbiter::writer {
namespace {

using storage::DrainState;
using storage::ReplicationState;

v1::DrainState ToProto(DrainState s) {
  switch (s) {
    case DrainState::kActive: return v1::DRAIN_STATE_ACTIVE;
    case DrainState::kDraining: return v1::DRAIN_STATE_DRAINING;
    case DrainState::kDrained: return v1::DRAIN_STATE_DRAINED;
  }
  return v1::DRAIN_STATE_UNSPECIFIED;
}

v1::ReplicationState ToProto(ReplicationState s) {
  switch (s) {
    case ReplicationState::kRestoring: return v1::REPLICATION_STATE_RESTORING;
    case ReplicationState::kReplaying: return v1::REPLICATION_STATE_REPLAYING;
    case ReplicationState::kLive: return v1::REPLICATION_STATE_LIVE;
  }
  return v1::REPLICATION_STATE_UNSPECIFIED;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HostMonitor>> HostMonitor::Create(
    const WriterOptions& options, const storage::BootClock* clock) {
  host::DataDir dir(options.data_dir);
  ARBITER_ASSIGN_OR_RETURN(auto control,
                           storage::ControlDb::Open(dir.ControlDbPath(), storage::DbOptions{}));
  std::unique_ptr<HostMonitor> monitor(new HostMonitor(options, clock, std::move(control)));
  {
    absl::MutexLock l(&monitor->mu_);
    if (absl::Status s = monitor->signal_.Open(dir.ChangeSignalPath()); !s.ok()) {
      LOG(WARNING) << "readers will not be signalled (they poll): " << s;
    }
  }
  return monitor;
}

HostMonitor::~HostMonitor() { Stop(); }

void HostMonitor::Start() {
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.monitor_interval)) {
      absl::Status s = Tick();
      if (!s.ok()) LOG(WARNING) << "host monitor: " << s;
    }
  });
}

void HostMonitor::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::Status HostMonitor::Tick() {
  absl::MutexLock l(&mu_);
  ARBITER_ASSIGN_OR_RETURN(storage::ControlState state, control_->Read());
  const storage::BootTime now = clock_->Now();

  LogReplayProgress(state);

  // LIVE with hysteresis.
  std::optional<absl::Duration> age = storage::Age(state.fresh_as_of, now);
  if (state.replication_state == ReplicationState::kReplaying && age.has_value() &&
      *age <= options_.live_enter) {
    LOG(INFO) << "LIVE: the replica holds everything the log had " << *age << " ago";
    ARBITER_RETURN_IF_ERROR(control_->SetReplicationState(ReplicationState::kLive));
    signal_.Notify();
  } else if (state.replication_state == ReplicationState::kLive &&
             (!age.has_value() || *age > options_.live_exit)) {
    LOG(WARNING) << "no longer LIVE: not fresh for "
                 << (age.has_value() ? absl::FormatDuration(*age) : "an unknown time");
    ARBITER_RETURN_IF_ERROR(control_->SetReplicationState(ReplicationState::kReplaying));
    signal_.Notify();
  }

  // DRAINING -> DRAINED once every reader is drained (or its lease expired).
  if (state.drain_state == DrainState::kDraining) {
    ARBITER_ASSIGN_OR_RETURN(auto readers,
                             host::ReadReaderRegistrations(dir_.ReadersDir(), now));
    bool all = std::all_of(readers.begin(), readers.end(),
                           [](const host::RegisteredReader& r) { return r.drained(); });
    if (all) {
      LOG(INFO) << "host DRAINED (" << readers.size() << " readers drained or expired)";
      ARBITER_RETURN_IF_ERROR(control_->SetDrainState(DrainState::kDrained));
    signal_.Notify();
    }
  }
  return absl::OkStatus();
}

void HostMonitor::LogReplayProgress(const storage::ControlState& state) {
  if (state.replication_state != ReplicationState::kReplaying) {
    replay_.reset();
    return;
  }
  const absl::Time now = absl::Now();
  if (!replay_.has_value()) {
    replay_ = Replay{.started = now, .last_line = now, .from = state.applied_offset};
    return;
  }
  if (now - replay_->last_line < kReplayLineInterval) return;
  replay_->last_line = now;
  const int64_t head = std::max(state.head_offset, state.applied_offset);
  LOG(INFO) << "replay: applied offset " << state.applied_offset << " of head " << head << ", "
            << FormatProgress(state.applied_offset - replay_->from, head - replay_->from,
                              now - replay_->started, ProgressUnit::kCount, "entries");
}

absl::StatusOr<v1::GetStatusResponse> HostMonitor::Status() {
  absl::MutexLock l(&mu_);
  ARBITER_ASSIGN_OR_RETURN(storage::ControlState state, control_->Read());
  const storage::BootTime now = clock_->Now();
  v1::GetStatusResponse resp;
  resp.set_cluster_id(state.cluster_id);
  resp.set_epoch(static_cast<uint64_t>(state.epoch));
  resp.set_replication_state(ToProto(state.replication_state));
  resp.set_drain_state(ToProto(state.drain_state));
  resp.set_applied_offset(static_cast<uint64_t>(state.applied_offset));
  resp.set_head_offset(static_cast<uint64_t>(state.head_offset));
  std::optional<absl::Duration> age = storage::Age(state.fresh_as_of, now);
  // Never fresh (or from another boot): report the largest staleness.
  resp.set_staleness_ms(age.has_value() ? static_cast<uint64_t>(absl::ToInt64Milliseconds(*age))
                                        : UINT64_MAX);
  resp.set_generation(static_cast<uint64_t>(state.current_generation));
  for (const auto& t : state.tenants) {
    auto* ts = resp.add_tenants();
    ts->set_name(t.name);
    ts->set_applied_offset(static_cast<uint64_t>(t.applied_offset));
    // The policy version lives in the tenant's own meta row.
    auto db = storage::TenantDb::Open(
        dir_.TenantPath(state.current_generation, t.path), {.read_only = true});
    if (db.ok()) {
      auto meta = (*db)->Meta();
      if (meta.ok()) ts->set_policy_version(static_cast<uint64_t>(meta->policy_version));
    }
  }
  ARBITER_ASSIGN_OR_RETURN(auto readers, host::ReadReaderRegistrations(dir_.ReadersDir(), now));
  for (const auto& r : readers) {
    auto* rs = resp.add_readers();
    rs->set_id(r.registration.id());
    rs->set_address(r.registration.address());
    rs->set_drain_state(r.drained() ? v1::DRAIN_STATE_DRAINED : r.registration.drain_state());
    rs->set_lease_remaining_ms(r.lease_remaining_ms);
    rs->set_staleness_ms(r.registration.staleness_ms());
  }
  return resp;
}

absl::StatusOr<v1::DrainState> HostMonitor::Drain() {
  {
    absl::MutexLock l(&mu_);
    ARBITER_ASSIGN_OR_RETURN(storage::ControlState state, control_->Read());
    if (state.drain_state == DrainState::kActive) {
      LOG(INFO) << "host DRAINING (admin Drain)";
      ARBITER_RETURN_IF_ERROR(control_->SetDrainState(DrainState::kDraining));
    signal_.Notify();
    }
  }
  ARBITER_RETURN_IF_ERROR(Tick());  // DRAINED at once when no reader is active
  absl::MutexLock l(&mu_);
  ARBITER_ASSIGN_OR_RETURN(storage::ControlState state, control_->Read());
  return ToProto(state.drain_state);
}

absl::StatusOr<v1::DrainState> HostMonitor::Undrain() {
  absl::MutexLock l(&mu_);
  LOG(INFO) << "host ACTIVE (admin Undrain)";
  ARBITER_RETURN_IF_ERROR(control_->SetDrainState(DrainState::kActive));
    signal_.Notify();
  return v1::DRAIN_STATE_ACTIVE;
}

absl::StatusOr<std::optional<auth::KeyGrant>> HostMonitor::FindKey(const std::string& id) {
  storage::ControlState state;
  {
    absl::MutexLock l(&mu_);
    ARBITER_ASSIGN_OR_RETURN(state, control_->Read());
  }
  for (const storage::TenantEntry& t : state.tenants) {
    if (t.name != auth::kSystemTenant) continue;
    storage::DbOptions read_only;
    read_only.read_only = true;
    ARBITER_ASSIGN_OR_RETURN(
        std::unique_ptr<storage::TenantDb> db,
        storage::TenantDb::Open(dir_.TenantPath(state.current_generation, t.path), read_only));
    storage::SqliteFactSource facts(db->db());
    return auth::FindKey(facts, id);
  }
  return absl::UnavailableError(
      "this host holds no API keys yet (its writer has not applied the log's \"_system\" "
      "tenant)");
}

}  // namespace arbiter::writer
