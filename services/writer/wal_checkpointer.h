#ifndef ARBITER_SERVICES_WRITER_WAL_CHECKPOINTER_H_
#define ARBITER_SERVICES_WRITER_WAL_CHECKPOINTER_H_

// Keeps each tenant database's WAL bounded (DESIGN.md §8.10) without
// stopping the apply loop for the copy.
//
// A checkpoint copies every page the WAL holds into the database and fsyncs
// it: 0.6-0.8 s for 64 MiB of a bulk load into a 1M-fact tenant (measured),
// during which the apply loop would commit nothing and every tenant of the
// host would age towards stale. So, per tenant:
//
//   1. after a commit leaves more than `checkpoint_bytes` of frames, the
//      apply loop hands the database to this class's thread, which runs a
//      PASSIVE checkpoint on its own connection (it never blocks the apply
//      loop's writes, nor waits for readers);
//   2. once that copy is done, the next write usually starts the WAL over by
//      itself (SQLite does when every frame was copied and no reader uses
//      them); if the WAL is still past the bound at the next commit, the
//      apply loop runs a RESTART on its own connection: it only copies what
//      was written meanwhile, waits at most `busy_timeout_ms` for readers,
//      and makes the next write start the WAL over. (PASSIVE when the index
//      maintainer holds a long read on the tenant: a RESTART would wait.)
//
// AfterCommit is called by the apply loop only; the copies run on one
// thread, one database at a time.

#include <cstdint>
#include <deque>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/storage/sqlite.h"

namespace arbiter::writer {

class WalCheckpointer {
 public:
  explicit WalCheckpointer(int64_t checkpoint_bytes, int busy_timeout_ms = 100);
  ~WalCheckpointer();  // waits for a copy in progress
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // After each commit to `db` (the apply loop's connection).
  void AfterCommit(storage::Db& db, bool long_read);

  int64_t copies() const;  // background copies completed (tests)

 private:
  enum class State { kIdle, kCopying, kCopied };
  void Run();

  const int64_t checkpoint_bytes_;
  const int busy_timeout_ms_;
  mutable absl::Mutex mu_;
  // By database path. Only AfterCommit moves kIdle -> kCopying and
  // kCopied -> kIdle; only Run moves kCopying -> kCopied.
  absl::flat_hash_map<std::string, State> states_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t copies_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_WAL_CHECKPOINTER_H_
