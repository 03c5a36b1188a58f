#ifndef ARBITER_SERVICES_WRITER_APPLY_LANES_H_
#define ARBITER_SERVICES_WRITER_APPLY_LANES_H_

// Entries the writer received but has not applied yet, one lane per tenant,
// and the freshness they allow each tenant to claim (DESIGN.md §8.5, §9.6).
//
// Entries arrive in offset order (gap-free). Each apply batch takes, from
// every tenant's lane, its oldest entries up to a byte budget: a tenant's
// bulk load is applied in slices while every other tenant's entries are
// applied at once, so one tenant never makes another lag. Then:
//   * applied(): every entry <= it is applied (the global offset control.db
//     records, where a restarted writer resubscribes);
//   * received(): every entry <= it arrived; a tenant with an empty lane has
//     applied all of its entries <= received() — it is complete through it;
//   * a tenant with a non-empty lane is complete through (its oldest waiting
//     offset - 1);
//   * FreshAsOf(c): the receive time of the newest message (entry or
//     heartbeat) whose durable head <= c — a replica complete through c held
//     everything the log had made durable at that time.
//
// Not thread-safe: owned by the apply loop.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "arbiter/v1/log.pb.h"
#include "common/storage/boot_clock.h"

namespace arbiter::writer {

class ApplyLanes {
 public:
  // Everything <= applied is applied (and received).
  explicit ApplyLanes(int64_t applied) : applied_(applied), received_(applied) {}

  // DATA_LOSS unless entry.offset() == received() + 1.
  absl::Status Add(v1::LogEntry entry, int64_t durable_head, const storage::BootTime& at);
  void Heartbeat(int64_t durable_head, const storage::BootTime& at);

  // The next batch, in offset order: from each lane its oldest entries while
  // their payloads fit `tenant_bytes` (at least one entry per lane), at most
  // `max_entries` entries in all. The caller applies them or gives up on the
  // lanes (they hold nothing that is not in the log).
  std::vector<v1::LogEntry> TakeBatch(size_t tenant_bytes, size_t max_entries);

  int64_t applied() const;
  int64_t received() const { return received_; }
  // The newest durable head any message carried (0 before the first).
  int64_t head() const { return heads_.empty() ? 0 : heads_.back().head; }
  std::optional<storage::BootTime> FreshAsOf(int64_t complete) const;
  // Tenants with waiting entries, each with its complete offset.
  std::vector<std::pair<std::string, int64_t>> Lagging() const;
  bool empty() const { return lanes_.empty(); }
  // Payload bytes waiting in the lanes.
  size_t queued_bytes() const { return queued_bytes_; }
  // Forgets heads no tenant can need any more (call after each batch).
  void Prune();

 private:
  struct Head {
    int64_t head;
    storage::BootTime at;
  };
  void NoteHead(int64_t durable_head, const storage::BootTime& at);

  int64_t applied_;   // before the oldest waiting entry
  int64_t received_;
  std::map<std::string, std::deque<v1::LogEntry>> lanes_;  // never empty deques
  size_t queued_bytes_ = 0;
  std::deque<Head> heads_;  // receive order; heads never decrease
};

}  // namespace arbiter::writer

#endif  // ARBITER_SERVICES_WRITER_APPLY_LANES_H_
