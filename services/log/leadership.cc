#include "services/log/leadership.h"

#include <pthread.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace arbiter::log {

Leadership::Leadership(std::unique_ptr<logstore::EtcdClient> client, LeadershipOptions options,
                       std::function<void()> on_elected)
    : client_(std::move(client)), options_(std::move(options)),
      on_elected_(std::move(on_elected)) {
  thread_ = std::thread([this] { Run(); });
}

Leadership::~Leadership() { Stop(); }

void Leadership::Stop() {
  int64_t lease;
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock l(&mu_);
    lease = lease_;
    lease_ = 0;
    holds_key_ = false;
  }
  if (lease != 0) {
    if (absl::Status s = client_->LeaseRevoke(lease); !s.ok()) {
      LOG(WARNING) << "could not revoke the log's etcd lease (it expires by itself): " << s;
    }
  }
}

bool Leadership::IsLeader() const {
  absl::MutexLock l(&mu_);
  return holds_key_ && lease_ != 0 && absl::Now() - renewed_at_ < options_.lease_ttl * 2 / 3;
}

std::string Leadership::LeaderAddress() const {
  absl::MutexLock l(&mu_);
  return leader_address_;
}

void Leadership::SetSnapshotOffset(uint64_t offset) {
  absl::MutexLock l(&mu_);
  snapshot_offset_ = std::max(snapshot_offset_, offset);
}

absl::StatusOr<std::vector<RegisteredFrontEnd>> RegisteredFrontEnds(
    const logstore::EtcdClient& client, const std::string& prefix) {
  std::vector<RegisteredFrontEnd> out;
  const std::string under = prefix + "fe/";
  ARBITER_RETURN_IF_ERROR(client.ForEachUnder(under, [&](const mvccpb::KeyValue& kv) {
    std::vector<absl::string_view> words = absl::StrSplit(kv.value(), ' ');
    RegisteredFrontEnd fe{.id = kv.key().substr(under.size())};
    if (words.size() != 2 || words[0].empty() ||
        !absl::SimpleAtoi(words[1], &fe.snapshot_offset)) {
      return absl::DataLossError(absl::StrCat("etcd key ", kv.key(), " holds \"", kv.value(),
                                              "\", not \"<address> <offset>\""));
    }
    fe.address = std::string(words[0]);
    out.push_back(std::move(fe));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<uint64_t> Leadership::MinSnapshotOffset() const {
  ARBITER_ASSIGN_OR_RETURN(std::vector<RegisteredFrontEnd> all,
                           RegisteredFrontEnds(*client_, options_.prefix));
  std::optional<uint64_t> min;
  for (const RegisteredFrontEnd& fe : all) {
    min = std::min(min.value_or(fe.snapshot_offset), fe.snapshot_offset);
  }
  return min.value_or(0);
}

void Leadership::Run() {
  pthread_setname_np(pthread_self(), "log-leadership");
  while (true) {
    if (Step()) Step();  // at once after ending a previous run's leadership
    absl::MutexLock l(&mu_);
    // Faster while no leader is known: a takeover within ttl/6.
    const absl::Duration wait =
        leader_address_.empty() ? options_.lease_ttl / 6 : options_.lease_ttl / 3;
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait)) return;
  }
}

bool Leadership::Step() {
  const int64_t ttl_seconds = absl::ToInt64Seconds(options_.lease_ttl);
  int64_t lease;
  {
    absl::MutexLock l(&mu_);
    lease = lease_;
  }
  const absl::Time sent = absl::Now();
  if (lease != 0) {
    absl::StatusOr<int64_t> ttl = client_->LeaseKeepAlive(lease);
    if (!ttl.ok()) {
      LOG_EVERY_N(WARNING, 10) << "cannot renew the log's etcd lease: " << ttl.status();
      return false;  // IsLeader() turns false by itself once the renewal is too old
    }
    absl::MutexLock l(&mu_);
    if (*ttl > 0) {
      renewed_at_ = sent;
    } else {
      LOG(WARNING) << "the log's etcd lease " << lease << " expired; taking a new one";
      lease_ = lease = 0;
      holds_key_ = false;
      registered_.clear();
    }
  }
  if (lease == 0) {
    absl::StatusOr<int64_t> granted = client_->LeaseGrant(ttl_seconds);
    if (!granted.ok()) {
      LOG_EVERY_N(WARNING, 10) << "cannot take an etcd lease: " << granted.status();
      return false;
    }
    absl::MutexLock l(&mu_);
    lease_ = lease = *granted;
    renewed_at_ = sent;
  }
  // Campaign and registration in one Txn: create the leader key if it is
  // absent, else read it; either way put the registration when it changed.
  std::string registration;
  bool register_now;
  {
    absl::MutexLock l(&mu_);
    registration = absl::StrCat(options_.address, " ", snapshot_offset_);
    register_now = registration != registered_;
  }
  const std::string leader_key = options_.prefix + "leader";
  etcdserverpb::TxnRequest txn;
  logstore::CompareAbsent(&txn, leader_key);
  logstore::AddPut(&txn, leader_key, absl::StrCat(options_.id, " ", options_.address), lease);
  txn.add_failure()->mutable_request_range()->set_key(leader_key);
  if (register_now) {
    const std::string key = options_.prefix + "fe/" + options_.id;
    logstore::AddPut(&txn, key, registration, lease);
    *txn.add_failure()->mutable_request_put() = txn.success(1).request_put();
  }
  etcdserverpb::TxnResponse resp;
  if (absl::Status s = client_->Txn(txn, &resp); !s.ok()) {
    LOG_EVERY_N(WARNING, 10) << "log leader election: " << s;
    return false;
  }
  if (register_now) {
    absl::MutexLock l(&mu_);
    registered_ = registration;
  }
  bool holds = resp.succeeded();
  bool again = false;
  std::string address = options_.address;
  if (!holds) {
    const auto& kvs = resp.responses(0).response_range().kvs();
    if (kvs.empty()) {
      address.clear();  // deleted between the compare and the read: next step
    } else {
      holds = kvs[0].lease() == lease;
      std::vector<std::string> words = absl::StrSplit(kvs[0].value(), ' ');
      address = words.size() == 2 ? words[1] : "";
      if (!holds && words[0] == options_.id) {
        // This front-end's previous run (the data directory's lock says it
        // is gone) still leads until its lease expires: end it now.
        LOG(INFO) << "revoking the leadership of this front-end's previous run (lease "
                  << kvs[0].lease() << ")";
        absl::Status revoked = client_->LeaseRevoke(kvs[0].lease());
        if (!revoked.ok()) LOG(WARNING) << "could not revoke it: " << revoked;
        address.clear();
        again = revoked.ok();
      }
    }
  }
  bool elected;
  {
    absl::MutexLock l(&mu_);
    elected = holds && !holds_key_;
    if (holds_key_ && !holds) LOG(WARNING) << "this front-end is no longer the log's leader";
    holds_key_ = holds;
    leader_address_ = address;
  }
  if (elected) {
    LOG(INFO) << "this front-end (" << options_.id << ", " << options_.address
              << ") is the log's leader";
    if (on_elected_) on_elected_();
  }
  return again;
}

}  // namespace arbiter::log
