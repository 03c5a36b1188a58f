#include "services/writer/apply_lanes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace arbiter::writer {
namespace {
constexpr size_t kMaxHeads = 4096;
}  // namespace

void ApplyLanes::NoteHead(int64_t durable_head, const storage::BootTime& at) {
  // Heads never go back (the log's durable head only grows); a message with
  // the same head as the previous one only moves its time forward.
  if (!heads_.empty() && heads_.back().head >= durable_head) {
    heads_.back().at = at;
    return;
  }
  heads_.push_back({durable_head, at});
  if (heads_.size() > kMaxHeads) {
    // While catching up, every message may carry a new head. Dropping every
    // other one only makes FreshAsOf answer an older time (it never claims
    // more freshness than a message proved).
    std::deque<Head> thinned;
    for (size_t i = 0; i < heads_.size(); ++i) {
      if (i % 2 == 0 || i + 1 == heads_.size()) thinned.push_back(heads_[i]);
    }
    heads_.swap(thinned);
  }
}

absl::Status ApplyLanes::Add(v1::LogEntry entry, int64_t durable_head,
                             const storage::BootTime& at) {
  const int64_t offset = static_cast<int64_t>(entry.offset());
  if (offset != received_ + 1) {
    return absl::DataLossError(absl::StrCat("the log sent offset ", entry.offset(),
                                            ", expected ", received_ + 1));
  }
  received_ = offset;
  queued_bytes_ += entry.payload().size();
  std::string tenant = entry.tenant();
  lanes_[std::move(tenant)].push_back(std::move(entry));
  NoteHead(durable_head, at);
  return absl::OkStatus();
}

void ApplyLanes::Heartbeat(int64_t durable_head, const storage::BootTime& at) {
  NoteHead(durable_head, at);
}

std::vector<v1::LogEntry> ApplyLanes::TakeBatch(size_t tenant_bytes, size_t max_entries) {
  std::vector<v1::LogEntry> batch;
  for (auto it = lanes_.begin(); it != lanes_.end() && batch.size() < max_entries;) {
    std::deque<v1::LogEntry>& lane = it->second;
    size_t bytes = 0;
    while (!lane.empty() && batch.size() < max_entries) {
      const size_t size = lane.front().payload().size();
      if (bytes > 0 && bytes + size > tenant_bytes) break;
      bytes += size;
      queued_bytes_ -= size;
      batch.push_back(std::move(lane.front()));
      lane.pop_front();
    }
    it = lane.empty() ? lanes_.erase(it) : std::next(it);
  }
  std::sort(batch.begin(), batch.end(), [](const v1::LogEntry& a, const v1::LogEntry& b) {
    return a.offset() < b.offset();
  });
  return batch;
}

int64_t ApplyLanes::applied() const {
  int64_t oldest = received_ + 1;
  for (const auto& [tenant, lane] : lanes_) {
    oldest = std::min(oldest, static_cast<int64_t>(lane.front().offset()));
  }
  return std::max(applied_, oldest - 1);
}

std::optional<storage::BootTime> ApplyLanes::FreshAsOf(int64_t complete) const {
  // Heads increase along the deque: the last one <= complete.
  auto it = std::upper_bound(heads_.begin(), heads_.end(), complete,
                             [](int64_t c, const Head& h) { return c < h.head; });
  if (it == heads_.begin()) return std::nullopt;
  return std::prev(it)->at;
}

std::vector<std::pair<std::string, int64_t>> ApplyLanes::Lagging() const {
  std::vector<std::pair<std::string, int64_t>> out;
  out.reserve(lanes_.size());
  for (const auto& [tenant, lane] : lanes_) {
    out.emplace_back(tenant, static_cast<int64_t>(lane.front().offset()) - 1);
  }
  return out;
}

void ApplyLanes::Prune() {
  applied_ = applied();
  // Every complete offset asked for is >= applied_: keep the newest head
  // <= applied_ and everything after it.
  while (heads_.size() >= 2 && heads_[1].head <= applied_) heads_.pop_front();
}

}  // namespace arbiter::writer
