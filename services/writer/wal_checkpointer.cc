#include "services/writer/wal_checkpointer.h"

#include <utility>

#include "absl/time/clock.h"
#include "common/base/thread_util.h"
#include "glog/logging.h"

namespace arbiter::writer {

WalCheckpointer::WalCheckpointer(int64_t checkpoint_bytes, int busy_timeout_ms)
    : checkpoint_bytes_(checkpoint_bytes),
      busy_timeout_ms_(busy_timeout_ms),
      thread_([this] { Run(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

int64_t WalCheckpointer::copies() const {
  absl::MutexLock l(&mu_);
  return copies_;
}

void WalCheckpointer::AfterCommit(storage::Db& db, bool long_read) {
  if (db.wal_bytes() <= checkpoint_bytes_) {
    // Once a copy has moved every frame and no reader still uses them, the
    // next write starts the WAL over by itself: nothing left to do.
    absl::MutexLock l(&mu_);
    auto it = states_.find(db.path());
    if (it != states_.end() && it->second == State::kCopied) it->second = State::kIdle;
    return;
  }
  State state;
  {
    absl::MutexLock l(&mu_);
    State& s = states_[db.path()];
    state = s;
    if (s == State::kIdle) {
      s = State::kCopying;
      queue_.push_back(db.path());
    } else if (s == State::kCopied) {
      s = State::kIdle;
    }
  }
  if (state != State::kCopied) return;
  const absl::Time start = absl::Now();
  absl::Status st = db.Checkpoint(long_read ? "PASSIVE" : "RESTART", busy_timeout_ms_);
  const absl::Duration took = absl::Now() - start;
  if (!st.ok()) {
    LOG(WARNING) << "checkpoint of " << db.path() << ": " << st << " (retried later)";
  } else if (took > absl::Milliseconds(200)) {
    LOG(INFO) << "checkpoint of " << db.path() << " took " << took << " after the copy";
  }
}

void WalCheckpointer::Run() {
  SetCurrentThread("wal-checkpoint");
  while (true) {
    std::string path;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this] {
        mu_.AssertReaderHeld();
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      path = std::move(queue_.front());
      queue_.pop_front();
    }
    // A connection of its own: its checkpoint runs beside the apply loop's
    // writes. It never writes, so it never checkpoints by itself.
    const absl::Time start = absl::Now();
    absl::Status st;
    {
      absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(path, {});
      st = db.ok() ? (*db)->Checkpoint("PASSIVE") : db.status();
    }
    if (!st.ok()) {
      LOG(WARNING) << "background checkpoint of " << path << ": " << st;
    } else {
      VLOG(1) << "background checkpoint of " << path << " in " << absl::Now() - start;
    }
    absl::MutexLock l(&mu_);
    states_[path] = State::kCopied;  // after a failure too: the RESTART does it all
    ++copies_;
  }
}

}  // namespace arbiter::writer
