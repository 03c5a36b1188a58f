#include "services/log/materializer.h"

#include <pthread.h>

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/polar/policy.h"
#include "common/storage/tenant_db.h"
#include "glog/logging.h"

namespace arbiter::log {

absl::StatusOr<std::unique_ptr<Materializer>> Materializer::Start(
    logstore::LogStore* store, MaterializerOptions options) {
  std::unique_ptr<Materializer> m(new Materializer(store, std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(m->options_.state_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create ", m->options_.state_dir, ": ",
                                            ec.message()));
  }
  ARBITER_ASSIGN_OR_RETURN(
      m->applier_, replica::Applier::Open({.replica_dir = m->dir_.root(),
                                           .cluster_id = m->options_.cluster_id}));
  ARBITER_ASSIGN_OR_RETURN(m->applied_db_, replica::AppliedOffsetDb::Open(m->dir_));
  const int64_t applied = m->applied_db_->offset();
  if (static_cast<uint64_t>(applied) > store->Head()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "materialized state is at offset ", applied, " but the log's head is ",
        store->Head(), " (was log.db replaced?): remove ", m->options_.state_dir));
  }
  if (static_cast<uint64_t>(applied) + 1 < store->OldestRetained()) {
    // LogCore restores the state from a snapshot before starting us.
    return absl::FailedPreconditionError(absl::StrCat(
        "materialized state is at offset ", applied,
        " but the log was truncated before ", store->OldestRetained(),
        ": remove ", m->options_.state_dir, " and restore it from a snapshot"));
  }
  {
    absl::MutexLock l(&m->mu_);
    m->applied_ = applied;
  }
  m->thread_ = std::thread([p = m.get()] { p->Run(); });
  return m;
}

Materializer::~Materializer() { Stop(); }

void Materializer::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Materializer::Notify() {
  absl::MutexLock l(&mu_);
  ++wakeups_;
}

uint64_t Materializer::applied() const {
  absl::MutexLock l(&mu_);
  return applied_;
}

replica::ApplyTotals Materializer::totals() const {
  absl::MutexLock l(&mu_);
  return totals_;
}

absl::Status Materializer::WaitApplied(uint64_t offset, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto reached = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return applied_ >= offset || stopping_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&reached), timeout)) {
    if (!error_.ok()) return error_;
    return absl::DeadlineExceededError(absl::StrCat(
        "the materialized state is at offset ", applied_, ", still behind ", offset));
  }
  if (applied_ < offset) return absl::UnavailableError("the log is shutting down");
  return absl::OkStatus();
}

absl::Status Materializer::Paused(absl::FunctionRef<absl::Status(uint64_t)> fn) {
  absl::MutexLock l(&apply_mu_);
  return fn(applied());
}

absl::Status Materializer::ApplyOnce(bool* progressed) {
  *progressed = false;
  uint64_t from = applied() + 1;
  if (from > store_->Head()) return absl::OkStatus();
  std::vector<v1::LogEntry> entries;
  ARBITER_RETURN_IF_ERROR(
      store_->Read(from, {.max_entries = options_.batch_entries},
                   [&](v1::LogEntry&& e) {
                     entries.push_back(std::move(e));
                     return true;
                   })
          .status());
  if (entries.empty()) return absl::OkStatus();
  const uint64_t last = entries.back().offset();
  {
    absl::MutexLock l(&apply_mu_);
    absl::Status applied = applier_->ApplyBatch(entries);
    {
      // Tenants committed before a failure count too.
      absl::MutexLock m(&mu_);
      totals_ = applier_->totals();
    }
    ARBITER_RETURN_IF_ERROR(applied);
    ARBITER_RETURN_IF_ERROR(applied_db_->Set(static_cast<int64_t>(last)));
    absl::MutexLock m(&mu_);
    applied_ = last;
    error_ = absl::OkStatus();
  }
  *progressed = true;
  return absl::OkStatus();
}

void Materializer::Run() {
  pthread_setname_np(pthread_self(), "log-materialize");
  // Materialization is off the acknowledgement path: the sequencer and the
  // RPC threads go first. nice 19 (a CFS weight of 15 against 1024) rather
  // than SCHED_IDLE: an idle-class thread can starve for as long as any
  // other process keeps the CPU busy, and SetPolicy and snapshots wait for
  // this thread. Linux applies a nice value to the calling thread only.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
  uint64_t seen_wakeups = 0;
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    bool progressed = false;
    absl::Status s = ApplyOnce(&progressed);
    if (!s.ok()) {
      LOG_EVERY_N(ERROR, 20) << "materializer: " << s;
      absl::MutexLock l(&mu_);
      error_ = s;
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
      continue;
    }
    if (progressed) continue;
    absl::MutexLock l(&mu_);
    auto woken = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return stopping_ || wakeups_ != seen_wakeups;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(500));
    seen_wakeups = wakeups_;
  }
}

absl::StatusOr<NonFittingFacts> Materializer::CheckFacts(const std::string& tenant,
                                                         const polar::Program& program) {
  ARBITER_ASSIGN_OR_RETURN(
      auto db, storage::TenantDb::Open(dir_.TenantPath(tenant), {.read_only = true}));
  NonFittingFacts out;
  ARBITER_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(
                                         db->db(), storage::Transaction::Mode::kRead));
  ARBITER_ASSIGN_OR_RETURN(int64_t applied, db->AppliedOffset());
  out.checked_offset = static_cast<uint64_t>(applied);
  ARBITER_RETURN_IF_ERROR(db->ForEachFact([&](const Fact& f) {
    if (!polar::CheckFact(program, f).ok()) {
      ++out.count;
      if (out.first.size() < 100) out.first.push_back(f);
    }
    return true;
  }));
  return out;
}

}  // namespace arbiter::log
