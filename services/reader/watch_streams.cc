#include "services/reader/watch_streams.h"

#include <pthread.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/api/api.h"
#include "common/base/status_macros.h"
#include "common/server/grpc_status.h"
#include "common/storage/tenant_db_cache.h"
#include "glog/logging.h"

namespace arbiter::reader {

namespace {

// How often every stream is looked at while streams exist: heartbeats, the
// key and freshness checks, stalled writes. Idle (no streams): never.
constexpr absl::Duration kTick = absl::Milliseconds(100);
constexpr int64_t kPage = 1000;

bool Matches(const std::vector<v1::FactPattern>& filters, const Fact& fact) {
  if (filters.empty()) return true;
  for (const v1::FactPattern& p : filters) {
    if (api::Matches(p, fact)) return true;
  }
  return false;
}

}  // namespace

void ChangeCursor::Consume(const storage::Change& c) {
  if (skip > 0 && c.offset == offset + 1) {
    ++skip;
  } else {
    offset = c.offset - 1;
    skip = 1;
  }
  has_last = true;
  last_offset = c.offset;
  last_seq = c.seq;
}

absl::StatusOr<ChangeBatch> ReadChanges(storage::TenantDb& db, int64_t upto,
                                        const std::vector<v1::FactPattern>& filters,
                                        int max_changes, int64_t max_scanned,
                                        ChangeCursor* cursor, int64_t* oldest) {
  ChangeBatch out;
  ARBITER_ASSIGN_OR_RETURN(
      storage::Transaction txn,
      storage::Transaction::Begin(db.db(), storage::Transaction::Mode::kRead));
  ARBITER_ASSIGN_OR_RETURN(storage::TenantMeta meta, db.Meta());
  if (cursor->offset + 1 < meta.changes_floor) {
    *oldest = meta.changes_floor - 1;
    return absl::OutOfRangeError(absl::StrCat("the changes after offset ", cursor->offset,
                                              " are no longer held by this host"));
  }
  ChangeCursor c = *cursor;
  // Outside an entry the offset is the place to page from (last_* may be
  // far behind it once a stream moved past changes it did not see).
  if (c.skip == 0) c.has_last = false;
  // A cursor from a token names its place inside an entry by a count: the
  // entry's first `skip` changes are consumed again without being sent.
  int64_t to_skip = 0;
  if (!c.has_last && c.skip > 0) {
    to_skip = c.skip;
    c.skip = 0;
  }
  int64_t scanned = 0;
  bool exhausted = false;  // every change <= upto was consumed
  bool stop = false;
  while (!stop) {
    absl::StatusOr<std::vector<storage::Change>> rows =
        c.has_last ? db.ChangesSince(c.last_offset, kPage, c.last_seq)
                   : db.ChangesSince(c.offset, kPage);
    if (!rows.ok()) return rows.status();
    for (storage::Change& r : *rows) {
      if (r.offset > upto) {
        exhausted = true;
        stop = true;
        break;
      }
      if (to_skip == 0 && (static_cast<int>(out.changes.size()) >= max_changes ||
                           scanned >= max_scanned)) {
        // Full. `r` is the next change: if it starts another entry, the
        // last one consumed is complete.
        if (c.skip > 0 && r.offset != c.offset + 1) {
          ++c.offset;
          c.skip = 0;
        }
        stop = true;
        break;
      }
      c.Consume(r);
      if (to_skip > 0) {
        --to_skip;
        continue;
      }
      ++scanned;
      if (Matches(filters, r.fact)) out.changes.push_back(std::move(r));
    }
    if (!stop && static_cast<int64_t>(rows->size()) < kPage) {
      exhausted = true;
      stop = true;
    }
  }
  ARBITER_RETURN_IF_ERROR(txn.Commit());
  if (to_skip > 0) {
    // The entry the token stands inside is not (all) here yet: wait for it.
    return ChangeBatch{};
  }
  if (exhausted) {
    // Every entry consumed is complete (entries commit whole).
    c.offset = std::max(c.skip > 0 ? c.offset + 1 : c.offset, upto);
    c.skip = 0;
    out.caught_up = true;
  }
  out.more = !exhausted;
  *cursor = c;
  return out;
}

absl::StatusOr<WatchPlan> ValidateWatch(const v1::WatchRequest& r) {
  WatchPlan plan;
  if (absl::Status s = api::ValidateTenantName(r.tenant()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tenant: ", s.message()));
  }
  plan.tenant = r.tenant();
  if (!r.after_token().empty()) {
    absl::StatusOr<v1::ConsistencyTokenPayload> t = api::DecodeConsistencyToken(r.after_token());
    if (!t.ok()) {
      return absl::Status(t.status().code(), absl::StrCat("after_token: ", t.status().message()));
    }
    if (t->watch_skip() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError("after_token: malformed consistency token");
    }
    plan.after = std::move(*t);
  }
  if (r.filters_size() > kMaxWatchFilters) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "filters: ", r.filters_size(), " patterns; at most ", kMaxWatchFilters));
  }
  for (int i = 0; i < r.filters_size(); ++i) {
    ARBITER_RETURN_IF_ERROR(api::ValidatePattern(r.filters(i), absl::StrCat("filters[", i, "]")));
    plan.filters.push_back(r.filters(i));
  }
  if (r.heartbeat_interval_ms() != 0) {
    if (r.heartbeat_interval_ms() < 100 || r.heartbeat_interval_ms() > 600000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "heartbeat_interval_ms: ", r.heartbeat_interval_ms(),
          " is outside 100..600000 (0 means 5000)"));
    }
    plan.heartbeat = absl::Milliseconds(r.heartbeat_interval_ms());
  }
  return plan;
}

// One Watch stream. Its mutex is held while StartWrite / Finish are called
// (gRPC never runs a reaction inline inside them), so no write starts after
// Finish, and `check_` (which reads the call's metadata) only runs before
// Finish, while the call is alive.
class WatchStream : public grpc::ServerWriteReactor<v1::WatchResponse>,
                    public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(WatchHub* hub, grpc::CallbackServerContext* ctx, WatchPlan plan,
              ChangeCursor cursor, std::string cluster_id, int64_t epoch, WatchHub::Check check)
      : hub_(hub), ctx_(ctx), plan_(std::move(plan)), cluster_id_(std::move(cluster_id)),
        epoch_(epoch), check_(std::move(check)), cursor_(cursor) {}

  // Watch thread: checks, reads and sends what is due. True if it should be
  // stepped again without waiting for a new view (more changes to read).
  bool Step(const ReplicaView& view, absl::Time now, storage::TenantDbCache& dbs)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    if (finished_) {
      if (writing_ && !cancelled_ && now - finished_at_ > hub_->options_.stall_timeout) {
        // Its status waits behind a write the client does not read: cancel
        // the call to free it. (writing_ is set, so OnDone has not run and
        // ctx_ is alive; gRPC runs OnCancel on its own threads.)
        cancelled_ = true;
        ctx_->TryCancel();
      }
      return false;
    }
    if (writing_) {
      if (now - write_started_ > hub_->options_.stall_timeout) {
        LOG(WARNING) << "watch stream " << ctx_->peer() << " read nothing for "
                     << absl::FormatDuration(now - write_started_) << ": ending it";
        FinishLocked(absl::ResourceExhaustedError(absl::StrCat(
            "the client read nothing for ", absl::FormatDuration(hub_->options_.stall_timeout),
            " (--watch_stall_timeout); resume from the last token")));
        cancelled_ = true;
        ctx_->TryCancel();
      }
      return false;
    }
    if (view.cluster_id != cluster_id_ || view.epoch != epoch_) {
      FinishLocked(absl::AbortedError(absl::StrCat(
          "the log was restored into a new epoch (", epoch_, " -> ", view.epoch,
          "): the changes after this stream's last token may differ; read the state again "
          "and watch from a new token")));
      return false;
    }
    absl::StatusOr<absl::Duration> staleness = check_(view);
    if (!staleness.ok()) {
      FinishLocked(staleness.status());
      return false;
    }
    const TenantView* tenant = view.Find(plan_.tenant);
    if (tenant == nullptr || tenant->snapshot == nullptr) {
      FinishLocked(absl::UnavailableError(
          absl::StrCat("tenant \"", plan_.tenant, "\" is not loaded on this reader")));
      return false;
    }
    const TenantSnapshot& snap = *tenant->snapshot;
    ChangeBatch batch;
    if (cursor_.offset < snap.tenant_offset || cursor_.skip > 0) {
      if (snap.db_path != db_path_) {
        // Another generation's file: its sequence numbers are its own.
        cursor_.has_last = false;
        db_path_ = snap.db_path;
      }
      storage::DbOptions read_only;
      read_only.read_only = true;
      absl::StatusOr<storage::TenantDb*> db = dbs.Get(snap.db_path, snap.db_path, read_only);
      int64_t oldest = 0;
      absl::StatusOr<ChangeBatch> read =
          db.ok() ? ReadChanges(**db, snap.tenant_offset, plan_.filters, kMaxChangesPerMessage,
                                hub_->options_.max_scanned, &cursor_, &oldest)
                  : db.status();
      if (!read.ok()) {
        dbs.Erase(snap.db_path);
        if (read.status().code() == absl::StatusCode::kOutOfRange) {
          FinishLocked(absl::OutOfRangeError(absl::StrCat(
              read.status().message(), " (its oldest resumable position is offset ", oldest,
              "): read the state with GetFacts at that token, then watch from it: ",
              api::EncodeConsistencyToken(cluster_id_, static_cast<uint64_t>(oldest),
                                          /*watch_skip=*/0, static_cast<uint64_t>(epoch_)))));
        } else {
          FinishLocked(absl::UnavailableError(absl::StrCat(
              "reading the changes of tenant \"", plan_.tenant, "\": ", read.status().message(),
              "; resume from the last token")));
        }
        return false;
      }
      batch = std::move(*read);
    } else {
      batch.caught_up = true;
    }
    // No change of this tenant up to its complete offset is left.
    if (batch.caught_up && cursor_.skip == 0) {
      cursor_.offset = std::max(cursor_.offset, tenant->complete_offset);
    }
    const bool due = !sent_any_ || now - last_sent_ >= plan_.heartbeat;
    if (batch.changes.empty() && !due) return batch.more;
    msg_.Clear();
    for (storage::Change& c : batch.changes) {
      v1::FactChange* out = msg_.add_changes();
      out->set_operation(c.op == storage::ChangeOp::kInsert ? v1::FactChange::OPERATION_INSERT
                                                            : v1::FactChange::OPERATION_DELETE);
      api::ToProto(c.fact, out->mutable_fact());
      out->set_offset(static_cast<uint64_t>(c.offset));
    }
    msg_.set_offset(static_cast<uint64_t>(cursor_.offset));
    msg_.set_token(api::EncodeConsistencyToken(cluster_id_, static_cast<uint64_t>(cursor_.offset),
                                               static_cast<uint64_t>(cursor_.skip),
                                               static_cast<uint64_t>(epoch_)));
    msg_.set_staleness_ms(static_cast<uint64_t>(absl::ToInt64Milliseconds(*staleness)));
    hub_->changes_sent_ += msg_.changes_size();
    sent_any_ = true;
    writing_ = true;
    write_started_ = last_sent_ = now;
    StartWrite(&msg_);
    return false;  // OnWriteDone schedules the next step
  }

  void FinishWith(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (!ok) {
        FinishLocked(absl::CancelledError("stream broken"));
        return;
      }
      if (finished_) return;
    }
    hub_->Schedule(shared_from_this());
  }

  void OnCancel() override { FinishWith(absl::CancelledError("cancelled")); }
  void OnDone() override { hub_->Remove(this); }

 private:
  void FinishLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    finished_at_ = absl::Now();
    Finish(server::ToGrpcStatus(status));
  }

  WatchHub* const hub_;
  grpc::CallbackServerContext* const ctx_;
  const WatchPlan plan_;
  const std::string cluster_id_;
  const int64_t epoch_;
  const WatchHub::Check check_;

  absl::Mutex mu_;
  ChangeCursor cursor_ ABSL_GUARDED_BY(mu_);
  std::string db_path_ ABSL_GUARDED_BY(mu_);  // the file cursor_.last_* belong to
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time finished_at_ ABSL_GUARDED_BY(mu_);
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_);
  v1::WatchResponse msg_ ABSL_GUARDED_BY(mu_);
};

WatchHub::WatchHub(WatchOptions options, ViewSource views)
    : options_(options), views_(std::move(views)) {
  thread_ = std::thread([this] { Loop(); });
}

WatchHub::~WatchHub() { Stop(); }

grpc::ServerWriteReactor<v1::WatchResponse>* WatchHub::Start(grpc::CallbackServerContext* ctx,
                                                             WatchPlan plan, ChangeCursor cursor,
                                                             const ReplicaView& view,
                                                             Check check) {
  auto stream = std::make_shared<WatchStream>(this, ctx, std::move(plan), cursor,
                                              view.cluster_id, view.epoch, std::move(check));
  absl::MutexLock l(&mu_);
  if (closed_) return new server::FailedStream<v1::WatchResponse>(closed_status_);
  if (streams_.size() >= options_.max_streams) {
    return new server::FailedStream<v1::WatchResponse>(absl::ResourceExhaustedError(
        absl::StrCat("this reader already serves ", streams_.size(),
                     " Watch streams (--max_watch_streams); retry later or on another reader")));
  }
  streams_.insert(stream);
  scheduled_.push_back(stream);
  return stream.get();
}

void WatchHub::OnView() {
  absl::MutexLock l(&mu_);
  view_changed_ = true;
}

void WatchHub::Schedule(std::shared_ptr<WatchStream> s) {
  absl::MutexLock l(&mu_);
  scheduled_.push_back(std::move(s));
}

void WatchHub::Remove(WatchStream* s) {
  std::shared_ptr<WatchStream> keep;  // destroyed outside the lock
  absl::MutexLock l(&mu_);
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (it->get() == s) {
      keep = *it;
      streams_.erase(it);
      break;
    }
  }
}

size_t WatchHub::active() const {
  absl::MutexLock l(&mu_);
  return streams_.size();
}

void WatchHub::FinishAll(const absl::Status& status) {
  std::vector<std::shared_ptr<WatchStream>> all;
  {
    absl::MutexLock l(&mu_);
    if (!closed_) {
      closed_ = true;
      closed_status_ = status;
    }
    all.assign(streams_.begin(), streams_.end());
  }
  for (auto& s : all) s->FinishWith(status);
}

void WatchHub::Stop() {
  FinishAll(absl::UnavailableError("the reader is shutting down; resume from the last token"));
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void WatchHub::Loop() {
  pthread_setname_np(pthread_self(), "watch");
  storage::TenantDbCache dbs(options_.max_open_tenants);
  absl::Time last_round = absl::InfinitePast();
  std::vector<std::shared_ptr<WatchStream>> again;
  while (true) {
    std::vector<std::shared_ptr<WatchStream>> work;
    {
      absl::MutexLock l(&mu_);
      for (auto& s : again) scheduled_.push_back(std::move(s));
      again.clear();
      auto ready = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || view_changed_ || !scheduled_.empty();
      };
      if (streams_.empty()) {
        mu_.Await(absl::Condition(&ready));
      } else {
        mu_.AwaitWithTimeout(absl::Condition(&ready), kTick);
      }
      if (stopping_) return;
      const absl::Time now = absl::Now();
      if (view_changed_ || now - last_round >= kTick) {
        view_changed_ = false;
        last_round = now;
        work.assign(streams_.begin(), streams_.end());
      } else {
        work = std::move(scheduled_);
      }
      scheduled_.clear();
      if (streams_.empty()) dbs.Clear();
    }
    std::shared_ptr<const ReplicaView> view = views_();
    const absl::Time now = absl::Now();
    for (auto& s : work) {
      if (s->Step(*view, now, dbs)) again.push_back(s);
    }
  }
}

}  // namespace arbiter::reader
