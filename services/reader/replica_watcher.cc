#include "services/reader/replica_watcher.h"

#include <utility>

#include "common/api/api.h"
#include "common/base/thread_util.h"
#include "common/storage/sqlite.h"
#include "glog/logging.h"

namespace arbiter::reader {
namespace {

bool SameControl(const storage::ControlState& a, const storage::ControlState& b) {
  return a.cluster_id == b.cluster_id && a.epoch == b.epoch &&
         a.current_generation == b.current_generation &&
         a.applied_offset == b.applied_offset &&
         a.complete_offset == b.complete_offset && a.fresh_as_of == b.fresh_as_of &&
         a.head_offset == b.head_offset &&
         a.replication_state == b.replication_state &&
         a.drain_state == b.drain_state && a.tenants == b.tenants;
}

}  // namespace

ReplicaWatcher::ReplicaWatcher(WatcherOptions options, FreshnessGate* gate,
                               ConsistencyWaiters* waiters, Registrar* registrar,
                               Hooks hooks)
    : options_(std::move(options)),
      dir_(options_.data_dir),
      gate_(gate),
      waiters_(waiters),
      registrar_(registrar),
      hooks_(std::move(hooks)),
      changes_(dir_.ChangeSignalPath()),
      replicas_(dir_, options_.max_top_changes, options_.engine) {
  auto empty = std::make_shared<ReplicaView>();
  view_ = std::move(empty);
}

ReplicaWatcher::~ReplicaWatcher() { Stop(); }

void ReplicaWatcher::Start() {
  PollOnce();
  thread_ = std::thread([this] {
    SetCurrentThread("replica-watch", ThreadPriority::kLatencyCritical);
    while (!stop_.HasBeenNotified()) {
      // The writer signals each control.db change (ChangeSignal); the poll
      // is the safety net. Wake no later than the moment the view goes
      // stale, so health follows at once.
      changes_.Wait(absl::Nanoseconds(next_wait_ns_.load()));
      if (stop_.HasBeenNotified()) break;
      PollOnce();
    }
  });
}

void ReplicaWatcher::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  changes_.Interrupt();
  if (thread_.joinable()) thread_.join();
}

void ReplicaWatcher::BeginShutdown() {
  shutting_down_.store(true);
  gate_->set_drain_state(gate_->drain_state() == ReaderDrainState::kDrained
                             ? ReaderDrainState::kDrained
                             : ReaderDrainState::kDraining);
  if (hooks_.set_serving) hooks_.set_serving(false);
}

void ReplicaWatcher::Publish(std::shared_ptr<const ReplicaView> v) {
  {
    absl::MutexLock l(&mu_);
    view_ = std::move(v);
  }
  if (hooks_.published) hooks_.published();
}

void ReplicaWatcher::PollOnce() {
  absl::MutexLock poll_lock(&poll_mu_);
  const absl::Time wall_now = absl::Now();
  absl::Status error;
  if (control_ == nullptr) {
    storage::DbOptions o;
    o.read_only = true;
    auto c = storage::ControlDb::Open(dir_.ControlDbPath(), o);
    if (c.ok()) {
      control_ = std::move(*c);
    } else {
      error = c.status();
    }
  }
  if (control_ != nullptr) {
    absl::StatusOr<storage::ControlState> state = control_->Read();
    if (!state.ok()) {
      error = state.status();
      control_.reset();  // reopen next time
    } else if (!last_control_ || !SameControl(*last_control_, *state) ||
               replicas_.retry()) {
      const absl::Time advance_start = absl::Now();
      std::shared_ptr<const TenantMap> tenants = replicas_.Advance(*state);
      const absl::Duration took = absl::Now() - advance_start;
      ++stats_views_;
      stats_advance_total_ += took;
      stats_advance_max_ = std::max(stats_advance_max_, took);
      if (VLOG_IS_ON(1)) {
        // From the writer's signal to this view (both CLOCK_BOOTTIME).
        const int64_t signalled = changes_.LastSignalBoottimeNs();
        const storage::BootTime now = gate_->clock()->Now();
        if (signalled > 0 && now.boottime_ns >= signalled) {
          const absl::Duration lag = absl::Nanoseconds(now.boottime_ns - signalled);
          stats_lag_total_ += lag;
          stats_lag_max_ = std::max(stats_lag_max_, lag);
        }
      }
      if (wall_now - stats_since_ >= absl::Seconds(10)) {
        VLOG(1) << "views: " << stats_views_ << " in " << (wall_now - stats_since_)
                << ", advance mean " << stats_advance_total_ / stats_views_ << " max "
                << stats_advance_max_ << ", writer's signal -> view mean "
                << stats_lag_total_ / stats_views_ << " max " << stats_lag_max_
                << "; top layers rebuilt " << replicas_.top_rebuilds() << ", segments mapped "
                << replicas_.segments_mapped() << ", tenants held " << replicas_.held();
        stats_since_ = wall_now;
        stats_views_ = 0;
        stats_advance_total_ = stats_advance_max_ = absl::ZeroDuration();
        stats_lag_total_ = stats_lag_max_ = absl::ZeroDuration();
      }
      auto v = std::make_shared<ReplicaView>();
      v->sequence = ++sequence_;
      v->generation = state->current_generation;
      v->cluster_id = state->cluster_id;
      v->epoch = state->epoch;
      v->applied_offset = state->applied_offset;
      v->head_offset = state->head_offset;
      v->fresh_as_of = state->fresh_as_of;
      v->replication_state = state->replication_state;
      v->host_drain_state = state->drain_state;
      v->tenants = std::move(tenants);
      std::shared_ptr<const ReplicaView> published = v;
      Publish(std::move(v));
      last_control_ = std::move(*state);
      // Only now is a view at these offsets visible to new requests.
      waiters_->Advance(published);
    }
  }
  if (!error.ok() && wall_now - last_error_log_ > absl::Seconds(5)) {
    last_error_log_ = wall_now;
    LOG(WARNING) << "replica not readable (answering from the last view "
                    "while it is fresh): "
                 << error;
  }
  waiters_->Expire(wall_now);
  std::shared_ptr<const ReplicaView> v = view();
  StepHostDrain(*v);
  const storage::BootTime now = gate_->clock()->Now();
  UpdateHealth(*v, now);
  // Next wake-up: the safety poll, or sooner when the view goes stale, a
  // consistency wait expires, a drain step is due, or a file was missing.
  absl::Duration wait = options_.poll_interval;
  if (replicas_.retry()) wait = std::min(wait, absl::Milliseconds(5));
  if (std::optional<absl::Duration> age = storage::Age(v->fresh_as_of, now)) {
    const absl::Duration left = gate_->max_staleness() - *age;
    if (left > absl::ZeroDuration()) wait = std::min(wait, left + absl::Milliseconds(1));
  }
  if (std::optional<absl::Time> d = waiters_->NextDeadline()) {
    wait = std::min(wait, std::max(absl::Milliseconds(1), *d - absl::Now()));
  }
  if (gate_->drain_state() == ReaderDrainState::kDraining) {
    wait = std::min(wait, absl::Milliseconds(20));
  }
  next_wait_ns_.store(absl::ToInt64Nanoseconds(std::max(wait, absl::Milliseconds(1))));
}

void ReplicaWatcher::UpdateHealth(const ReplicaView& v,
                                  const storage::BootTime& now) {
  if (shutting_down_.load()) return;
  const bool serving = gate_->ShouldServe(v, now);
  if (serving_ == serving) return;
  serving_ = serving;
  if (serving) {
    LOG(INFO) << "health SERVING (offset " << v.applied_offset << ")";
  } else {
    absl::StatusOr<absl::Duration> why = gate_->CheckAt(v, now);
    LOG(INFO) << "health NOT_SERVING: "
              << (why.ok() ? std::string("reader draining")
                           : std::string(why.status().message()));
  }
  if (hooks_.set_serving) hooks_.set_serving(serving);
}

void ReplicaWatcher::StepHostDrain(const ReplicaView& v) {
  if (shutting_down_.load() || v.generation == 0) return;
  const bool host_draining = v.host_drain_state != storage::DrainState::kActive;
  const ReaderDrainState state = gate_->drain_state();
  auto set_registration = [&](v1::DrainState s) {
    if (registrar_ == nullptr) return;
    if (absl::Status st = registrar_->SetDrainState(s); !st.ok()) {
      LOG(WARNING) << "registration file: " << st;
    }
  };
  if (!host_draining) {
    if (state != ReaderDrainState::kActive) {
      LOG(INFO) << "host ACTIVE again: reader ACTIVE";
      gate_->set_drain_state(ReaderDrainState::kActive);
      waiters_->Reopen();
      drain_waiters_failed_ = false;
      set_registration(v1::DRAIN_STATE_ACTIVE);
    }
    return;
  }
  const absl::Time now = absl::Now();
  switch (state) {
    case ReaderDrainState::kActive:
      LOG(INFO) << "host " << storage::ToString(v.host_drain_state)
                << ": reader DRAINING, answering for the grace period of "
                << options_.drain_grace;
      gate_->set_drain_state(ReaderDrainState::kDraining);
      drain_started_ = now;
      drain_waiters_failed_ = false;
      set_registration(v1::DRAIN_STATE_DRAINING);
      return;
    case ReaderDrainState::kDraining: {
      if (now < drain_started_ + options_.drain_grace) return;
      if (!drain_waiters_failed_) {
        drain_waiters_failed_ = true;
        waiters_->FailAll(absl::UnavailableError(
            "reader draining: the consistency wait was still pending at the "
            "end of the drain grace period"));
      }
      const int64_t in_flight = hooks_.in_flight ? hooks_.in_flight() : 0;
      if (in_flight > 0 &&
          now < drain_started_ + options_.drain_grace + options_.in_flight_wait) {
        return;
      }
      LOG(INFO) << "reader DRAINED (" << in_flight << " RPCs in flight)";
      gate_->set_drain_state(ReaderDrainState::kDrained);
      set_registration(v1::DRAIN_STATE_DRAINED);
      return;
    }
    case ReaderDrainState::kDrained:
      return;
  }
}

}  // namespace arbiter::reader
