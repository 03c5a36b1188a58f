#include "services/log/log_core.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <filesystem>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/notification.h"
#include "common/api/api.h"
#include "common/auth/api_key.h"
#include "common/auth/key_facts.h"
#include "common/base/crash_point.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/logstore/etcd_log_store.h"
#include "common/logstore/sqlite_log_store.h"
#include "common/replica/applied_offset_db.h"
#include "common/replica/replica_dir.h"
#include "common/replica/snapshot_fetch.h"
#include "common/replica/snapshot_install.h"
#include "common/storage/tenant_db.h"
#include "glog/logging.h"

namespace arbiter::log {
namespace fs = std::filesystem;


absl::Status LogOptions::Validate() const {
  if (data_dir.empty()) return absl::InvalidArgumentError("--data_dir: must not be empty");
  if (snapshot_every_entries < 0) {
    return absl::InvalidArgumentError("--snapshot_every_entries: must be >= 0");
  }
  if (snapshot_quiet < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--snapshot_quiet: must be >= 0");
  }
  if (snapshot_every_facts < 0) {
    return absl::InvalidArgumentError("--snapshot_every_facts: must be >= 0");
  }
  if (snapshot_every_bytes < 0) {
    return absl::InvalidArgumentError("--snapshot_every_bytes: must be >= 0");
  }
  if (snapshot_keep < 1) {
    return absl::InvalidArgumentError("--snapshot_keep: must be >= 1");
  }
  if (snapshot_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--snapshot_interval: must be positive");
  }
  if (snapshot_retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--snapshot_retention: must be >= 0");
  }
  if (subscriber_stall_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--subscriber_stall_timeout: must be positive");
  }
  if (max_subscribers < 1) {
    return absl::InvalidArgumentError("--max_subscribers: must be >= 1");
  }
  if (subscribers_max_buffer_bytes < (int64_t{4} << 20)) {
    return absl::InvalidArgumentError(
        "--subscribers_max_buffer_bytes: must be >= 4194304 (one stream's buffer)");
  }
  if (heartbeat_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--heartbeat_interval: must be positive");
  }
  if (wal_checkpoint_bytes < (1 << 16)) {
    return absl::InvalidArgumentError("--wal_checkpoint_bytes: must be >= 65536");
  }
  if (store != "sqlite" && store != "etcd") {
    return absl::InvalidArgumentError(
        absl::StrCat("--store: \"", store, "\" is not sqlite or etcd"));
  }
  if (store == "etcd" && etcd_endpoints.empty()) {
    return absl::InvalidArgumentError("--etcd_endpoints: required with --store=etcd");
  }
  if (etcd_max_request_bytes < (1 << 19) || etcd_max_request_bytes > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError("--etcd_max_request_bytes: must be in 524288..2^30");
  }
  if (store == "etcd" && (etcd_prefix.empty() || etcd_prefix.back() != '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd_prefix: \"", etcd_prefix, "\" must end with '/'"));
  }
  if (leader_lease_ttl < absl::Seconds(2) ||
      leader_lease_ttl != absl::Seconds(absl::ToInt64Seconds(leader_lease_ttl))) {
    return absl::InvalidArgumentError("--leader_lease_ttl: whole seconds, at least 2s");
  }
  if (etcd_poll_interval < absl::Milliseconds(1) || etcd_poll_interval > absl::Seconds(10)) {
    return absl::InvalidArgumentError("--etcd_poll_interval: must be in 1ms..10s");
  }
  if (head_confirm_interval < 2 * etcd_poll_interval) {
    return absl::InvalidArgumentError(
        "--head_confirm_interval: must be at least twice --etcd_poll_interval");
  }
  if (policy_workers < 1 || policy_workers > 64) {
    return absl::InvalidArgumentError("--policy_workers: must be in 1..64");
  }
  if (max_pending_policies < 1) {
    return absl::InvalidArgumentError("--max_pending_policies: must be >= 1");
  }
  if (policy_test_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--policy_test_timeout: must be positive");
  }
  return absl::OkStatus();
}

namespace {

// <data_dir>/front_end_id: this front-end's id in the leader election, kept
// across restarts so that a restarted front-end recognizes the leadership of
// its own previous run (leadership.h).
absl::StatusOr<std::string> FrontEndId(const std::string& data_dir) {
  const std::string path = data_dir + "/front_end_id";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[64] = {};
    const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    std::string id(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!id.empty() && id.back() == '\n') id.pop_back();
    if (id.size() == 16) return id;
    return absl::DataLossError(absl::StrCat(path, ": not a front-end id"));
  }
  if (errno != ENOENT) {
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  std::string id = logstore::RandomClusterId().substr(0, 16);
  ARBITER_RETURN_IF_ERROR(WriteFileAtomically(path, id + "\n"));
  return id;
}

// <state>/epoch: the epoch the materialized state belongs to ("<epoch>\n"),
// written when the state is created or installed. nullopt when missing
// (a state of an older release, or none yet).
absl::StatusOr<std::optional<uint64_t>> ReadStateEpoch(const std::string& state_dir) {
  const std::string path = state_dir + "/epoch";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<uint64_t>();
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  char buf[32] = {};
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  uint64_t epoch = 0;
  if (n <= 0 || !absl::SimpleAtoi(absl::StripTrailingAsciiWhitespace(buf), &epoch)) {
    return absl::DataLossError(absl::StrCat(path, ": not an epoch"));
  }
  return std::optional<uint64_t>(epoch);
}

absl::Status WriteStateEpoch(const std::string& state_dir, uint64_t epoch) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", state_dir, ": ", ec.message()));
  return WriteFileAtomically(state_dir + "/epoch", absl::StrCat(epoch, "\n"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogCore>> LogCore::Open(const LogOptions& options) {
  std::unique_ptr<LogCore> core(new LogCore(options));
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create ", options.data_dir, ": ", ec.message()));
  }
  // One process per data directory (its store, state and snapshots).
  const std::string lock = options.data_dir + "/lock";
  core->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (core->lock_fd_ < 0 || ::flock(core->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot lock ", lock, " (", std::strerror(errno),
        "): another arbiter-log uses --data_dir ", options.data_dir));
  }
  ARBITER_ASSIGN_OR_RETURN(core->front_end_id_, FrontEndId(options.data_dir));
  if (options.store == "etcd") {
    ARBITER_ASSIGN_OR_RETURN(core->store_,
                             logstore::EtcdLogStore::Open(
                                 {.endpoints = options.etcd_endpoints,
                                  .prefix = options.etcd_prefix,
                                  .max_txn_bytes =
                                      static_cast<size_t>(options.etcd_max_request_bytes) - 4096,
                                  .compact = options.etcd_compact}));
  } else {
    ARBITER_ASSIGN_OR_RETURN(
        core->store_, logstore::SqliteLogStore::Open(
                          {.path = options.data_dir + "/log.db",
                           .checkpoint_bytes = options.wal_checkpoint_bytes}));
  }
  core->snapshots_ = std::make_unique<snapshot::SnapshotStore>(options.data_dir + "/snapshots");
  ARBITER_RETURN_IF_ERROR(core->snapshots_->Cleanup());
  ARBITER_RETURN_IF_ERROR(core->DiscardStateOfOlderEpoch());
  ARBITER_RETURN_IF_ERROR(core->StartNewEpochIfAhead());
  ARBITER_RETURN_IF_ERROR(core->RestoreStateIfBehind());
  ARBITER_ASSIGN_OR_RETURN(std::optional<uint64_t> state_epoch,
                           ReadStateEpoch(core->StateDir()));
  if (!state_epoch.has_value()) {  // a new state, or one of an older release
    ARBITER_RETURN_IF_ERROR(
        WriteStateEpoch(core->StateDir(), core->store_->identity().epoch));
  }
  ARBITER_ASSIGN_OR_RETURN(
      core->materializer_,
      Materializer::Start(core->store_.get(),
                          {.state_dir = core->StateDir(),
                           .cluster_id = core->store_->identity().cluster_id}));
  LogCore* raw = core.get();
  core->hub_ = std::make_unique<SubscriptionHub>(
      core->store_.get(),
      SubscriptionOptions{.heartbeat_interval = options.heartbeat_interval,
                          .stall_timeout = options.subscriber_stall_timeout,
                          .cancel_grace = options.subscriber_stall_timeout,
                          .max_total_buffer_bytes =
                              static_cast<size_t>(options.subscribers_max_buffer_bytes),
                          .max_subscribers = static_cast<size_t>(options.max_subscribers),
                          .head_confirmed = [raw] { return raw->HeadConfirmed(); }});
  ARBITER_ASSIGN_OR_RETURN(
      core->sequencer_,
      Sequencer::Start(
          core->store_.get(),
          {.policy_workers = options.policy_workers,
           .max_pending_policies = static_cast<size_t>(options.max_pending_policies),
           .policy_test_timeout = options.policy_test_timeout,
           .engine = options.engine},
          [raw](const std::string& tenant, uint64_t offset, absl::Time deadline,
                const polar::Program& program) -> absl::StatusOr<NonFittingFacts> {
            raw->materializer_->Notify();
            ARBITER_RETURN_IF_ERROR(raw->materializer_->WaitApplied(
                offset, std::max(absl::ZeroDuration(), deadline - absl::Now())));
            return raw->materializer_->CheckFacts(tenant, program);
          },
          [raw](uint64_t head) {
            raw->hub_->OnHead(head);
            raw->materializer_->Notify();
          }));
  {
    absl::MutexLock l(&core->snap_mu_);
    ARBITER_ASSIGN_OR_RETURN(auto list, core->snapshots_->List());
    for (const auto& m : list) {
      if (m.cluster_id() != core->store_->identity().cluster_id) {
        return absl::FailedPreconditionError(absl::StrCat(
            "snapshot ", m.snapshot_id(), " belongs to cluster ", m.cluster_id(),
            ", this log is cluster ", core->store_->identity().cluster_id,
            ": move ", options.data_dir, "/snapshots away"));
      }
    }
    if (!list.empty()) {
      core->last_snapshot_offset_ = list.front().offset();
      core->last_snapshot_time_ = absl::FromUnixMillis(list.front().created_unix_ms());
    } else {
      core->last_snapshot_time_ = absl::Now();
    }
  }
  core->snapshotter_ = std::thread([raw] { raw->SnapshotLoop(); });
  // etcd: the first leader bootstraps (OnElected).
  if (!core->store_->Shared()) ARBITER_RETURN_IF_ERROR(core->Bootstrap());
  LOG(INFO) << "log open: cluster " << core->store_->identity().cluster_id << " epoch "
            << core->store_->identity().epoch << " head " << core->store_->Head()
            << " oldest " << core->store_->OldestRetained();
  return core;
}

namespace {

// Sequences one request on the sequencer and waits for its result.
SequenceResult SequenceAndWait(absl::FunctionRef<void(SequenceDone)> submit) {
  absl::Notification done;
  SequenceResult result;
  submit([&](SequenceResult r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace

absl::Status LogCore::Bootstrap() {
  std::optional<uint64_t> system = sequencer_->CreatedOffset(auth::kSystemTenant);
  if (!system.has_value()) {
    SequenceResult r =
        SequenceAndWait([&](SequenceDone done) { sequencer_->CreateSystemTenant(std::move(done)); });
    if (!r.status.ok()) return r.status;
    LOG(INFO) << "created the reserved tenant \"" << auth::kSystemTenant
              << "\" (API keys on hosts) at offset " << r.offset;
    system = r.offset;
  }
  const std::string& path = options_.bootstrap_key_file;
  // DESIGN.md 9.7: only on the first start, so that a restart
  // never revives a revoked bootstrap key: the bootstrap key is the entry
  // right after "_system"'s creation; once anything follows that creation,
  // the file is not honoured again (even with every key revoked since).
  if (!sequencer_->keys()->empty() || *system != store_->Head()) {
    if (!path.empty()) {
      LOG(INFO) << "--bootstrap_key_file " << path
                << " ignored: it is honoured only on the log's first start";
    }
    return absl::OkStatus();
  }
  if (path.empty()) {
    LOG(WARNING) << "no API key exists and no --bootstrap_key_file was given: "
                 << "no call can be authenticated";
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> text = auth::ReadKeyFile(path);
  auth::KeyGrant grant;
  if (text.ok()) {
    absl::StatusOr<std::string> id = auth::ParseKeyId(*text);
    if (!id.ok()) return id.status();
    grant = {.id = *id, .sha256 = auth::HashKey(*text), .tenant = "",
             .scopes = auth::kOperator, .name = "bootstrap"};
  } else if (text.status().code() == absl::StatusCode::kNotFound) {
    absl::StatusOr<auth::NewKey> key = auth::GenerateKey("", auth::kOperator, "bootstrap");
    if (!key.ok()) return key.status();
    ARBITER_RETURN_IF_ERROR(auth::WriteKeyFile(path, key->text));
    grant = key->grant;
  } else {
    return text.status();
  }
  KeyChange change{.tenant = "", .revoke = {}, .create = {grant}};
  SequenceResult r = SequenceAndWait(
      [&](SequenceDone done) { sequencer_->UpdateKeys(change, std::move(done)); });
  if (!r.status.ok()) return r.status;
  LOG(INFO) << "bootstrap operator key " << grant.id << " (from " << path << ") created at offset "
            << r.offset;
  return absl::OkStatus();
}

absl::Status LogCore::StartNewEpochIfAhead() {
  const replica::ReplicaDir state(StateDir());
  ARBITER_ASSIGN_OR_RETURN(int64_t applied, replica::AppliedOffsetDb::Peek(state));
  const uint64_t head = store_->Head();
  ARBITER_ASSIGN_OR_RETURN(std::optional<uint64_t> state_epoch, ReadStateEpoch(StateDir()));
  // A state of a newer epoch than the store's: the store was restored from
  // a backup taken before that epoch began (a state of an older epoch was
  // discarded by DiscardStateOfOlderEpoch).
  const bool newer_epoch = state_epoch.value_or(0) > store_->identity().epoch;
  if (static_cast<uint64_t>(applied) <= head && !newer_epoch) return absl::OkStatus();
  // The newer epoch's snapshots hold a history the store lost.
  if (newer_epoch) ARBITER_RETURN_IF_ERROR(RemoveSnapshotsNotOfEpoch(store_->identity().epoch));
  // The store lost entries it had acknowledged (the materializer applies
  // only durable ones): their offsets would be handed out again.
  ARBITER_ASSIGN_OR_RETURN(auto list, snapshots_->List());
  for (const auto& m : list) {
    if (m.offset() > head) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the log's head is ", head, " but snapshot ", m.snapshot_id(), " is at offset ",
          m.offset(), ": the log lost entries that snapshot holds; restore log.db from a "
          "backup, or move ", snapshots_->dir(), "/", m.snapshot_id(), " away"));
    }
  }
  // Past every epoch hosts may have seen: past the state's too.
  const uint64_t epoch = std::max(store_->identity().epoch, state_epoch.value_or(0)) + 1;
  LOG(ERROR) << "the materialized state is at offset " << applied << " of epoch "
             << state_epoch.value_or(store_->identity().epoch) << " but the log's head is "
             << head << " of epoch " << store_->identity().epoch
             << ": the log lost entries it had acknowledged; starting epoch " << epoch
             << " (every host re-restores) and rebuilding the state";
  while (store_->identity().epoch < epoch) ARBITER_RETURN_IF_ERROR(store_->StartNewEpoch());
  std::error_code ec;
  fs::remove_all(StateDir(), ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("remove ", StateDir(), ": ", ec.message()));
  }
  return WriteStateEpoch(StateDir(), epoch);
}

absl::Status LogCore::RemoveSnapshotsNotOfEpoch(uint64_t epoch) {
  ARBITER_ASSIGN_OR_RETURN(auto list, snapshots_->List());
  for (const auto& m : list) {
    if (m.epoch() == epoch) continue;
    const std::string dir = absl::StrCat(snapshots_->dir(), "/", m.snapshot_id());
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("remove ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status LogCore::DiscardStateOfOlderEpoch() {
  ARBITER_ASSIGN_OR_RETURN(std::optional<uint64_t> state_epoch, ReadStateEpoch(StateDir()));
  const uint64_t epoch = store_->identity().epoch;
  if (!state_epoch.has_value() || *state_epoch >= epoch) return absl::OkStatus();
  // Another front-end started epoch `epoch` (the store was restored from a
  // backup): entries this state applied past the restored head may differ
  // from the ones at the same offsets now, and so may our snapshots of
  // that epoch. Rebuild from the store or from a peer of this epoch.
  LOG(ERROR) << "the materialized state belongs to epoch " << *state_epoch
             << " but the log is at epoch " << epoch
             << ": discarding the state and the snapshots of older epochs";
  ARBITER_RETURN_IF_ERROR(RemoveSnapshotsNotOfEpoch(epoch));
  std::error_code ec;
  fs::remove_all(StateDir(), ec);
  if (ec) return absl::InternalError(absl::StrCat("remove ", StateDir(), ": ", ec.message()));
  return WriteStateEpoch(StateDir(), epoch);
}

absl::Status LogCore::RestoreStateIfBehind() {
  const replica::ReplicaDir state(StateDir());
  ARBITER_ASSIGN_OR_RETURN(int64_t applied, replica::AppliedOffsetDb::Peek(state));
  const uint64_t oldest = store_->OldestRetained();
  if (static_cast<uint64_t>(applied) + 1 >= oldest) return absl::OkStatus();
  ARBITER_ASSIGN_OR_RETURN(auto list, snapshots_->List());
  if (list.empty() || list.front().offset() + 1 < oldest) {
    if (store_->Shared()) return RestoreStateFromPeer(applied, oldest);
    return absl::FailedPreconditionError(absl::StrCat(
        "materialized state is at offset ", applied, ", the log starts at ", oldest,
        " and no snapshot covers the gap"));
  }
  const v1::SnapshotManifest& m = list.front();
  LOG(WARNING) << "materialized state is at offset " << applied << " but the log starts at "
               << oldest << ": restoring it from " << m.snapshot_id();
  // The snapshotter is not running yet, so retention cannot delete `m`.
  ARBITER_ASSIGN_OR_RETURN(
      replica::SnapshotInstall install,
      replica::SnapshotInstall::Begin(m, {.staging_dir = state.root() + ".restore",
                                          .target_dir = state.root(),
                                          .record_applied_offset = true}));
  ARBITER_RETURN_IF_ERROR(
      install.CopyFrom(absl::StrCat(snapshots_->dir(), "/", m.snapshot_id())));
  ARBITER_RETURN_IF_ERROR(install.Commit().status());
  // An older epoch's snapshot holds only entries the store kept (at most
  // its head: StartNewEpochIfAhead), so the state is of the store's epoch.
  return WriteStateEpoch(StateDir(), store_->identity().epoch);
}

absl::Status LogCore::RestoreStateFromPeer(int64_t applied, uint64_t oldest) {
  const replica::ReplicaDir state(StateDir());
  const logstore::ClusterIdentity& id = store_->identity();
  logstore::EtcdClient etcd(options_.etcd_endpoints, absl::Seconds(2));
  const std::shared_ptr<grpc::ChannelCredentials> credentials =
      auth::ChannelCredentials(options_.peer_tls);
  const absl::Time give_up = absl::Now() + 6 * options_.leader_lease_ttl;
  std::string why = "no other front-end is registered";
  while (true) {
    auto peers = RegisteredFrontEnds(etcd, options_.etcd_prefix);
    if (!peers.ok()) why = absl::StrCat("cannot list the front-ends: ", peers.status().message());
    for (const RegisteredFrontEnd& peer : peers.ok() ? *peers : std::vector<RegisteredFrontEnd>{}) {
      if (peer.id == front_end_id_) continue;
      if (peer.snapshot_offset + 1 < oldest) {
        why = absl::StrCat("front-end ", peer.address, "'s newest snapshot is at offset ",
                           peer.snapshot_offset);
        continue;
      }
      auto log = v1::LogService::NewStub(
          auth::CreateKeyedChannel(peer.address, options_.peer_key, credentials));
      absl::StatusOr<v1::SnapshotManifest> m = replica::NewestSnapshot(*log, absl::Seconds(10));
      if (m.ok() && (m->cluster_id() != id.cluster_id || m->epoch() != id.epoch ||
                     m->offset() + 1 < oldest)) {
        m = absl::FailedPreconditionError(absl::StrCat(
            "its snapshot ", m->snapshot_id(), " is cluster ", m->cluster_id(), " epoch ",
            m->epoch(), " offset ", m->offset()));
      }
      absl::Status s = m.status();
      if (s.ok()) {
        LOG(WARNING) << "materialized state is at offset " << applied
                     << " but the log starts at " << oldest << " and no snapshot of ours "
                     << "covers the gap: fetching snapshot " << m->snapshot_id()
                     << " (offset " << m->offset() << ") from front-end " << peer.address;
        s = [&]() -> absl::Status {
          ARBITER_ASSIGN_OR_RETURN(
              replica::SnapshotInstall install,
              replica::SnapshotInstall::Begin(*m, {.staging_dir = state.root() + ".restore",
                                                   .target_dir = state.root(),
                                                   .record_applied_offset = true}));
          ARBITER_RETURN_IF_ERROR(replica::FetchSnapshotFiles(*log, install, {}));
          ARBITER_RETURN_IF_ERROR(install.Commit().status());
          return WriteStateEpoch(StateDir(), id.epoch);
        }();
        if (s.ok()) return absl::OkStatus();
      }
      why = absl::StrCat("front-end ", peer.address, ": ", s.message());
      LOG(WARNING) << "cannot restore the state from " << why;
    }
    if (absl::Now() >= give_up) break;
    absl::SleepFor(options_.leader_lease_ttl / 3);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "materialized state is at offset ", applied, ", the log starts at ", oldest,
      ", no snapshot of ours covers the gap and no peer's could be fetched (", why, ")"));
}

LogCore::~LogCore() {
  Stop();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void LogCore::Stop() {
  {
    absl::MutexLock l(&stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // The leadership first: another front-end takes over at once.
  if (leadership_) leadership_->Stop();
  if (follower_.joinable()) follower_.join();
  if (hub_) hub_->Stop();
  if (sequencer_) {
    sequencer_->Stop();
    Sequencer::Stats st = sequencer_->stats();
    LOG(INFO) << "sequencer stats: " << st.entries << " entries in " << st.groups
              << " groups";
  }
  if (snapshotter_.joinable()) snapshotter_.join();
  if (materializer_) materializer_->Stop();
}

namespace {
int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void LogCore::StartFrontEnd(const std::string& address) {
  if (!store_->Shared() || leadership_ != nullptr) return;
  confirmed_at_ns_ = SteadyNanos();  // Open just read the store
  follower_ = std::thread([this] { FollowLoop(); });
  leadership_ = std::make_unique<Leadership>(
      std::make_unique<logstore::EtcdClient>(options_.etcd_endpoints, absl::Seconds(2)),
      LeadershipOptions{.prefix = options_.etcd_prefix,
                        .id = front_end_id_,
                        .address = address,
                        .lease_ttl = options_.leader_lease_ttl},
      [this] { OnElected(); });
  absl::MutexLock l(&snap_mu_);
  leadership_->SetSnapshotOffset(last_snapshot_offset_);
}

void LogCore::OnElected() {
  // Catch up before the first write is sequenced here (the sequencer would
  // otherwise find out from a failed head compare).
  if (absl::Status s = store_->Refresh(); !s.ok()) {
    LOG(WARNING) << "new leader cannot read the store: " << s;
  }
  sequencer_->CatchUp();
  if (!sequencer_->CreatedOffset(auth::kSystemTenant).has_value()) {
    if (absl::Status s = Bootstrap(); !s.ok()) LOG(ERROR) << "bootstrap: " << s;
  }
}

absl::Status LogCore::AwaitBootstrap(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::optional<uint64_t> system = sequencer_->CreatedOffset(auth::kSystemTenant);
    if (system.has_value() &&
        (options_.bootstrap_key_file.empty() || store_->Head() > *system) && Route().ok()) {
      return absl::OkStatus();
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          "no front-end leads, or none created the \"_system\" tenant and the bootstrap key, "
          "in time");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<std::string> LogCore::Route() const {
  if (leadership_ == nullptr || leadership_->IsLeader()) return std::string();
  std::string leader = leadership_->LeaderAddress();
  if (leader.empty()) {
    return absl::UnavailableError(
        "no arbiter-log front-end leads right now (an election is in progress, or etcd "
        "cannot be reached); retry");
  }
  return leader;
}

bool LogCore::HeadConfirmed() const {
  if (!store_->Shared()) return true;
  return SteadyNanos() - confirmed_at_ns_.load() <=
         absl::ToInt64Nanoseconds(options_.head_confirm_interval);
}

void LogCore::FollowLoop() {
  pthread_setname_np(pthread_self(), "log-follower");
  uint64_t passed = store_->Head();
  while (true) {
    {
      absl::MutexLock l(&stop_mu_);
      if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.etcd_poll_interval)) {
        return;
      }
    }
    const int64_t started = SteadyNanos();
    absl::Status s = store_->Refresh();
    if (s.code() == absl::StatusCode::kFailedPrecondition ||
        s.code() == absl::StatusCode::kDataLoss) {
      // Its materialized state and snapshots belong to another history.
      LOG(FATAL) << "the log store changed under this front-end; exiting so that a restart "
                 << "starts from the store: " << s;
    }
    if (!s.ok()) {
      LOG_EVERY_N(WARNING, 50) << "cannot confirm the log's head: " << s;
      continue;
    }
    confirmed_at_ns_ = started;
    const uint64_t head = store_->Head();
    if (head != passed) {
      passed = head;
      hub_->OnHead(head);
      materializer_->Notify();
      sequencer_->CatchUp();
    }
  }
}

v1::GetHeadResponse LogCore::GetHead() const {
  v1::GetHeadResponse out;
  out.set_cluster_id(store_->identity().cluster_id);
  out.set_epoch(store_->identity().epoch);
  out.set_head_offset(store_->Head());
  out.set_oldest_retained_offset(store_->OldestRetained());
  out.set_server_time_unix_ms(absl::ToUnixMillis(absl::Now()));
  return out;
}

std::string LogCore::Token(uint64_t offset) const {
  return api::EncodeConsistencyToken(store_->identity().cluster_id, offset, /*watch_skip=*/0,
                                     store_->identity().epoch);
}

void LogCore::SnapshotLoop() {
  pthread_setname_np(pthread_self(), "log-snapshotter");
  while (true) {
    {
      absl::MutexLock l(&stop_mu_);
      if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(200))) {
        return;
      }
    }
    absl::MutexLock l(&snap_mu_);
    const uint64_t applied = materializer_->applied();
    const replica::ApplyTotals totals = materializer_->totals();
    const bool by_count = options_.snapshot_every_entries > 0 &&
                          applied >= last_snapshot_offset_ +
                                         static_cast<uint64_t>(options_.snapshot_every_entries);
    // A bulk load is few entries but many facts and bytes: these make sure a
    // snapshot follows it, so a new host does not replay it fact by fact.
    const bool by_facts =
        options_.snapshot_every_facts > 0 &&
        totals.facts_changed - last_snapshot_totals_.facts_changed >=
            static_cast<uint64_t>(options_.snapshot_every_facts);
    const bool by_bytes =
        options_.snapshot_every_bytes > 0 &&
        totals.payload_bytes - last_snapshot_totals_.payload_bytes >=
            static_cast<uint64_t>(options_.snapshot_every_bytes);
    const bool by_time = absl::Now() - last_snapshot_time_ >= options_.snapshot_interval;
    // The end of a bulk load: a tenth of the fact trigger, then quiet.
    if (applied != seen_applied_) {
      seen_applied_ = applied;
      seen_applied_since_ = absl::Now();
    }
    const bool by_quiet =
        options_.snapshot_quiet > absl::ZeroDuration() && options_.snapshot_every_facts > 0 &&
        totals.facts_changed - last_snapshot_totals_.facts_changed >=
            static_cast<uint64_t>(std::max<int64_t>(1, options_.snapshot_every_facts / 10)) &&
        absl::Now() - seen_applied_since_ >= options_.snapshot_quiet;
    if (applied > last_snapshot_offset_ &&
        (by_count || by_facts || by_bytes || by_time || by_quiet)) {
      absl::StatusOr<v1::SnapshotManifest> m = CutSnapshot();
      if (!m.ok()) {
        LOG(ERROR) << "snapshot failed: " << m.status();
        last_snapshot_time_ = absl::Now();  // retry after an interval, not at once
      }
    }
    if (absl::Status s = ApplyRetention(); !s.ok()) {
      LOG_EVERY_N(ERROR, 100) << "retention: " << s;
    }
  }
}

absl::StatusOr<v1::SnapshotManifest> LogCore::SnapshotNow() {
  absl::MutexLock l(&snap_mu_);
  if (materializer_->applied() > last_snapshot_offset_) return CutSnapshot();
  ARBITER_ASSIGN_OR_RETURN(auto list, snapshots_->List());
  if (list.empty()) return absl::NotFoundError("no snapshot");
  return list.front();
}

absl::StatusOr<v1::SnapshotManifest> LogCore::CutSnapshot() {
  struct Open {
    std::unique_ptr<storage::TenantDb> db;
    std::optional<storage::Transaction> txn;
  };
  std::vector<Open> open;
  std::vector<snapshot::TenantSource> sources;
  uint64_t offset = 0;
  replica::ApplyTotals totals;
  const replica::ReplicaDir& state = materializer_->dir();
  // Pause the applier only while the read transactions are opened.
  ARBITER_RETURN_IF_ERROR(materializer_->Paused([&](uint64_t applied) -> absl::Status {
    offset = applied;
    totals = materializer_->totals();
    ARBITER_ASSIGN_OR_RETURN(std::vector<std::string> names, state.ListTenants());
    for (const std::string& name : names) {
      Open o;
      ARBITER_ASSIGN_OR_RETURN(
          o.db, storage::TenantDb::Open(state.TenantPath(name), {.read_only = true}));
      ARBITER_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(
                                             o.db->db(), storage::Transaction::Mode::kRead));
      o.txn.emplace(std::move(txn));
      ARBITER_ASSIGN_OR_RETURN(storage::TenantMeta meta, o.db->Meta());
      sources.push_back({.name = name,
                         .db = o.db->db(),
                         .applied_offset = static_cast<uint64_t>(meta.applied_offset),
                         .policy_version = static_cast<uint64_t>(meta.policy_version)});
      open.push_back(std::move(o));
    }
    return absl::OkStatus();
  }));
  if (offset == 0) return absl::FailedPreconditionError("nothing to snapshot");
  absl::Time now = absl::Now();
  ARBITER_ASSIGN_OR_RETURN(
      v1::SnapshotManifest m,
      snapshot::WriteSnapshot(snapshots_->dir(),
                              {.cluster_id = store_->identity().cluster_id,
                               .epoch = store_->identity().epoch,
                               .offset = offset,
                               .created_unix_ms = absl::ToUnixMillis(now)},
                              sources, +[] { MaybeCrash("mid_snapshot"); }));
  last_snapshot_offset_ = offset;
  last_snapshot_time_ = now;
  if (leadership_) leadership_->SetSnapshotOffset(offset);
  last_snapshot_totals_ = totals;
  LOG(INFO) << "snapshot " << m.snapshot_id() << ": " << m.tenants_size() << " tenants";
  return m;
}

absl::Status LogCore::ApplyRetention() {
  ARBITER_ASSIGN_OR_RETURN(
      uint64_t keep_after,
      snapshots_->ApplyRetention(absl::Now(),
                                 {.keep = options_.snapshot_keep,
                                  .retention = options_.snapshot_retention},
                                 store_->OldestRetained()));
  if (keep_after == 0) return absl::OkStatus();
  // Never past what the materializer applied (it reads the log).
  uint64_t upto = std::min(keep_after, materializer_->applied());
  if (store_->Shared()) {
    // Only the leader, and only below every front-end's newest snapshot:
    // each must be able to restore its state from its own.
    if (leadership_ == nullptr || !leadership_->IsLeader()) return absl::OkStatus();
    ARBITER_ASSIGN_OR_RETURN(uint64_t all_hold, leadership_->MinSnapshotOffset());
    upto = std::min(upto, all_hold);
  }
  if (upto + 1 > store_->OldestRetained()) {
    ARBITER_RETURN_IF_ERROR(store_->TruncateBefore(upto + 1));
    LOG(INFO) << "truncated the log before offset " << upto + 1;
  }
  return absl::OkStatus();
}

}  // namespace arbiter::log
