#ifndef ARBITER_SERVICES_READER_WATCH_STREAMS_H_
#define ARBITER_SERVICES_READER_WATCH_STREAMS_H_

// ReaderService.Watch (reader.proto): a tenant's fact changes, read from the
// `changes` rows of the tenant database the reader's current view was built
// from, on the gRPC callback API with no thread per stream:
//
//   * pull-based: a stream's next message (<= kMaxChangesPerMessage changes,
//     one short read transaction) is read only once its previous write
//     completed, so a slow client costs one message and never holds up
//     another stream or the view;
//   * one thread ("watch") reads for every stream: woken when the reader
//     publishes a view (ReplicaWatcher's `published` hook), when a write
//     completes, and every kTick while streams exist (heartbeats, checks);
//   * a stream sends only what its view's tenant snapshot holds (changes up
//     to TenantSnapshot::tenant_offset): a change it delivered is visible
//     to every read this reader answers afterwards;
//   * every message, and every tick, re-checks the caller's key and the
//     freshness gate against the newest view, so a revoked key or a stale
//     host ends the stream (never a silent one); a new epoch ends it with
//     ABORTED; a new generation of the host only changes the file read (the
//     history comes with the snapshot it was restored from);
//   * positions (ChangeCursor) count changes, not storage sequence numbers,
//     so a token resumes on any host of the cluster.
//
// Thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "common/storage/tenant_db.h"
#include "services/reader/replica_view.h"

namespace arbiter::reader {

inline constexpr int kMaxWatchFilters = 100;
inline constexpr int kMaxChangesPerMessage = 1000;
inline constexpr absl::Duration kDefaultWatchHeartbeat = absl::Seconds(5);

// A position in a tenant's changes: every change with offset <= `offset`,
// and the first `skip` changes after it, were consumed (skip > 0 only
// inside an entry). What WatchResponse.token encodes.
struct ChangeCursor {
  int64_t offset = 0;
  int64_t skip = 0;
  // The (offset, seq) of the last change consumed through this cursor on
  // this host, to page on without counting again; unset for a cursor read
  // from a token.
  bool has_last = false;
  int64_t last_offset = 0;
  int64_t last_seq = 0;

  // Consumes one change (in (offset, seq) order).
  void Consume(const storage::Change& c);
};

// One read of changes for a stream.
struct ChangeBatch {
  std::vector<storage::Change> changes;  // the ones matching the filters
  // Every change <= the bound was consumed.
  bool caught_up = false;
  // A limit stopped the read: more changes <= the bound are waiting.
  bool more = false;
};

// Reads the changes after `cursor` with offset <= `upto` from `db`, in one
// read transaction: consumes at most `max_scanned` changes and returns at
// most `max_changes` of those that match `filters` (none: all), moving
// `cursor` past what it consumed; when every change up to `upto` is
// consumed and the cursor is not inside an entry, it moves to `upto`.
// OUT_OF_RANGE when changes after the cursor were pruned: *oldest is then
// the lowest offset a cursor may start from.
absl::StatusOr<ChangeBatch> ReadChanges(storage::TenantDb& db, int64_t upto,
                                        const std::vector<v1::FactPattern>& filters,
                                        int max_changes, int64_t max_scanned,
                                        ChangeCursor* cursor, int64_t* oldest);

// A validated WatchRequest.
struct WatchPlan {
  std::string tenant;
  std::optional<v1::ConsistencyTokenPayload> after;
  std::vector<v1::FactPattern> filters;
  absl::Duration heartbeat = kDefaultWatchHeartbeat;
};
// INVALID_ARGUMENT naming the field; RESOURCE_EXHAUSTED over 100 filters.
absl::StatusOr<WatchPlan> ValidateWatch(const v1::WatchRequest& r);

struct WatchOptions {
  size_t max_streams = 1000;                        // --max_watch_streams
  absl::Duration stall_timeout = absl::Seconds(30);  // --watch_stall_timeout
  // Changes a stream reads per round when its filters reject them.
  int64_t max_scanned = 10000;
  size_t max_open_tenants = 64;  // tenant databases the watch thread keeps open
};

class WatchStream;

class WatchHub {
 public:
  // Whether a stream may go on with `view`: its key still admitted, the
  // reader not drained, its tenant present and fresh. OK: the staleness.
  using Check = std::function<absl::StatusOr<absl::Duration>(const ReplicaView& view)>;
  using ViewSource = std::function<std::shared_ptr<const ReplicaView>()>;

  WatchHub(WatchOptions options, ViewSource views);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // A new stream from `cursor` (already admitted by the caller against
  // `view`). `check` is called under the stream's lock while the call is
  // alive.
  grpc::ServerWriteReactor<v1::WatchResponse>* Start(grpc::CallbackServerContext* ctx,
                                                     WatchPlan plan, ChangeCursor cursor,
                                                     const ReplicaView& view, Check check)
      ABSL_LOCKS_EXCLUDED(mu_);

  // A new view was published.
  void OnView() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every stream with `status` and refuses new ones (a drain's end,
  // shutdown).
  void FinishAll(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // FinishAll(UNAVAILABLE), then stops the thread. Idempotent.
  void Stop();

  size_t active() const ABSL_LOCKS_EXCLUDED(mu_);
  // Changes sent by every stream since start.
  int64_t changes_sent() const { return changes_sent_.load(); }

 private:
  friend class WatchStream;
  void Schedule(std::shared_ptr<WatchStream> s) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(WatchStream* s) ABSL_LOCKS_EXCLUDED(mu_);
  void Loop();

  const WatchOptions options_;
  const ViewSource views_;

  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<WatchStream>> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<WatchStream>> scheduled_ ABSL_GUARDED_BY(mu_);
  bool view_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status closed_status_ ABSL_GUARDED_BY(mu_);

  std::atomic<int64_t> changes_sent_{0};
  std::thread thread_;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_WATCH_STREAMS_H_
