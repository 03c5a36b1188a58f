#ifndef ARBITER_SERVICES_WRITER_WRITER_OPTIONS_H_
#define ARBITER_SERVICES_WRITER_WRITER_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/auth/client.h"
#include "services/writer/index_maintainer.h"

namespace arbiter::writer {

struct WriterOptions {
  // The host's data directory (created if missing).
  std::string data_dir = "./var/host";
  // arbiter-log's HOST:PORT.
  // HOST:PORT of arbiter-log, or of several front-ends of one log,
  // comma-separated: the writer follows one and moves to the next when a
  // connection or a stream fails.
  std::string log_address = "127.0.0.1:50051";
  // The API key sent to the log (replicate or operator scope); "" for none.
  std::string log_key;
  // TLS towards the log (no CA: plaintext).
  auth::ClientTls log_tls;
  // LIVE is entered when the replica was fresh within `live_enter` and left
  // when it has not been fresh for `live_exit` (hysteresis, DESIGN.md §8.5:
  // one bulk import does not flap every host). Readers apply their own
  // --max_staleness on top, from fresh_as_of.
  absl::Duration live_enter = absl::Seconds(1);
  absl::Duration live_exit = absl::Seconds(10);
  // At most this many entries are applied in one batch (one transaction per
  // tenant, then one control.db transaction).
  int max_batch_entries = 1000;
  // Per batch, each tenant's entries are applied in a slice of payload bytes
  // (at least one entry, and at least 64 KiB or max_tenant_batch_bytes when
  // smaller) sized so that a batch takes about
  // `apply_slice_target` at the apply rate measured so far, and at most
  // `max_tenant_batch_bytes`: a bulk load is applied in slices, every other
  // tenant's entries go into each batch, and control.db (freshness) is
  // committed that often (DESIGN.md §9.6).
  absl::Duration apply_slice_target = absl::Milliseconds(100);
  int64_t max_tenant_batch_bytes = 4 << 20;
  // The receiver stops reading the stream while this many payload bytes
  // wait to be applied.
  int64_t max_queued_bytes = 256 << 20;
  // The host-shared index (services/writer/index_maintainer.h).
  IndexOptions index;
  // A tenant database whose WAL grows past this is checkpointed with
  // wal_checkpoint(RESTART) after a batch (DESIGN.md §8.10).
  int64_t wal_checkpoint_bytes = 64 << 20;
  // Reconnecting to the log backs off exponentially between these.
  absl::Duration reconnect_min = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(5);
  // Deadline of unary calls to the log, and of each snapshot chunk.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // A Subscribe stream with no message (entries or heartbeats, ~4 a second)
  // for this long is abandoned, and the next --log_address is tried.
  absl::Duration log_silence_timeout = absl::Seconds(3);
  // How often the host monitor re-derives LIVE and the drain state.
  absl::Duration monitor_interval = absl::Milliseconds(100);
  // How often every tenant file of the current generation is checked to
  // exist and to be a SQLite database (a file deleted or overwritten under
  // the writer, which keeps its open handle, is found here rather than by
  // the readers); a bad one re-restores the host into a new generation.
  absl::Duration tenant_check_interval = absl::Seconds(10);
  // Test hook (hidden flag --crash_at): _exit(3) at a named point, see
  // crash_point.h. Empty in production.
  std::string crash_at;

  // INVALID_ARGUMENT naming the flag.
  absl::Status Validate() const;
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_WRITER_OPTIONS_H_
