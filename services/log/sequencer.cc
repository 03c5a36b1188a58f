#include "services/log/sequencer.h"

#include <pthread.h>

#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/api/api.h"
#include "common/auth/key_facts.h"
#include "common/base/crash_point.h"
#include "common/base/crc32c.h"
#include "common/eval/engine.h"
#include "common/polar/policy.h"
#include "glog/logging.h"
#include "services/log/log_metrics.h"

namespace arbiter::log {
namespace {

constexpr size_t kMaxListedFacts = 20;
constexpr size_t kMaxListedFailures = 20;

absl::Status TenantNotFound(const std::string& tenant) {
  return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" not found"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const polar::Program>> CompileAndTestPolicy(
    const std::string& source, const std::string& filename,
    const eval::EngineOptions& engine_options, const eval::QueryOptions& q) {
  absl::StatusOr<polar::Program> program = polar::CompilePolicy(source, filename);
  if (!program.ok()) return program.status();
  absl::StatusOr<std::shared_ptr<const eval::Engine>> engine =
      eval::Engine::Create(*program, engine_options);
  absl::StatusOr<std::vector<eval::TestResult>> results =
      engine.ok() ? (*engine)->RunTests(q) : engine.status();
  if (!results.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(filename, ": policy tests could not run: ", results.status().message()));
  }
  std::string failures;
  int failed = 0;
  auto add = [&](std::string line) {
    if (++failed <= static_cast<int>(kMaxListedFailures)) {
      absl::StrAppend(&failures, failures.empty() ? "" : "\n", line);
    }
  };
  for (const auto& t : *results) {
    if (t.passed) continue;
    for (const auto& f : t.failures) {
      add(absl::StrCat(filename, ":", f.location.line, ":", f.location.column, ": test \"",
                       t.name, "\" failed: ", f.source, ": ", f.message));
    }
    if (t.failures.empty()) {
      add(absl::StrCat(filename, ":", t.location.line, ":", t.location.column, ": test \"",
                       t.name, "\" failed"));
    }
  }
  if (failed > 0 && q.cancelled && q.cancelled()) {
    return absl::CancelledError("SetPolicy was cancelled while its tests ran");
  }
  if (failed > 0 && absl::Now() >= q.deadline) {
    return absl::DeadlineExceededError(absl::StrCat(
        filename, ": the policy's tests did not finish in time (the call's deadline or "
        "--policy_test_timeout); ", failed, " assertion(s) had not passed"));
  }
  if (failed > static_cast<int>(kMaxListedFailures)) {
    absl::StrAppend(&failures, "\nand ", failed - kMaxListedFailures, " more");
  }
  if (failed > 0) return absl::InvalidArgumentError(failures);
  return std::make_shared<const polar::Program>(*std::move(program));
}

absl::StatusOr<std::unique_ptr<Sequencer>> Sequencer::Start(
    logstore::LogStore* store, SequencerOptions options,
    StoredFactChecker checker, HeadListener on_head) {
  std::unique_ptr<Sequencer> seq(
      new Sequencer(store, options, std::move(checker), std::move(on_head)));
  if (absl::Status st = seq->LoadRegistry(); !st.ok()) return st;
  seq->Publish();
  seq->next_offset_ = store->Head() + 1;
  seq->last_chain_ = store->HeadChain();
  {
    absl::MutexLock l(&seq->checks_mu_);
    seq->last_assigned_ = store->Head();
  }
  seq->thread_ = std::thread([s = seq.get()] { s->Run(); });
  for (int i = 0; i < std::max(1, options.policy_workers); ++i) {
    seq->policy_threads_.emplace_back([s = seq.get()] { s->RunPolicyWorker(); });
  }
  return seq;
}

absl::Status Sequencer::LoadRegistry() {
  // Read before the registries: a change after this read shows as a newer
  // version at the next resync.
  const uint64_t version = store_->RegistryVersion();
  absl::StatusOr<std::vector<logstore::TenantRecord>> tenants = store_->Tenants();
  if (!tenants.ok()) return tenants.status();
  std::map<std::string, TenantState> loaded;
  for (auto& t : *tenants) {
    TenantState st;
    st.created_offset = t.created_offset;
    st.policy_version = t.policy_version;
    st.policy_source = t.policy_source;
    st.policy_filename = t.policy_filename;
    st.policy_forced = t.policy_forced;
    auto known = working_.find(t.name);
    if (known != working_.end() && known->second.policy_version == t.policy_version &&
        known->second.policy_source == t.policy_source) {
      st.program = known->second.program;  // compiled at an earlier load
    } else if (t.policy_version > 0) {
      // Compiled as stored: a policy accepted once stays accepted (its tests
      // ran when it was set).
      absl::StatusOr<polar::Program> p =
          polar::CompilePolicy(t.policy_source, t.policy_filename);
      if (!p.ok()) {
        return absl::DataLossError(absl::StrCat("stored policy of tenant \"", t.name,
                                                "\" no longer compiles: ",
                                                p.status().message()));
      }
      st.program = std::make_shared<const polar::Program>(*std::move(p));
    }
    loaded[t.name] = std::move(st);
  }
  absl::StatusOr<std::vector<auth::KeyGrant>> keys = store_->Keys();
  if (!keys.ok()) return keys.status();
  KeyMap loaded_keys;
  for (auth::KeyGrant& k : *keys) {
    std::string id = k.id;
    loaded_keys.emplace(std::move(id), std::move(k));
  }
  working_ = std::move(loaded);
  working_keys_ = std::move(loaded_keys);
  loaded_registry_ = version;
  return absl::OkStatus();
}

void Sequencer::Publish() {
  absl::MutexLock l(&published_mu_);
  published_ = working_;
  published_keys_ = std::make_shared<const KeyMap>(working_keys_);
}

absl::Status Sequencer::Resync() {
  if (resync_needed_) {
    if (absl::Status s = store_->Refresh(); !s.ok()) return s;
  } else if (store_->Head() + 1 == next_offset_) {
    return absl::OkStatus();
  }
  // The head before the registries: they are then at least as new as it,
  // and an entry sequenced on a registry newer than the head fails the
  // store's compare (nothing is written) instead of slipping in.
  const uint64_t head = store_->Head();
  const uint64_t chain = store_->HeadChain();
  if (resync_needed_ || store_->RegistryVersion() != loaded_registry_) {
    if (absl::Status s = LoadRegistry(); !s.ok()) return s;
    Publish();
  }
  next_offset_ = head + 1;
  last_chain_ = chain;
  {
    absl::MutexLock l(&checks_mu_);
    last_assigned_ = head;
    // Facts that other front-ends' entries inserted were not recorded.
    for (auto& [id, check] : checks_) {
      check.overflow = true;
      check.inserted.clear();
    }
  }
  resync_needed_ = false;
  return absl::OkStatus();
}

void Sequencer::CatchUp() {
  absl::MutexLock l(&queue_mu_);
  catch_up_ = true;
}

Sequencer::~Sequencer() { Stop(); }

void Sequencer::Stop() {
  // Workers first: what they prepare is then refused by Enqueue.
  {
    absl::MutexLock l(&policy_mu_);
    policy_stopping_ = true;
  }
  for (auto& t : policy_threads_) {
    if (t.joinable()) t.join();
  }
  {
    absl::MutexLock l(&queue_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Sequencer::Enqueue(Pending p) {
  {
    absl::MutexLock l(&queue_mu_);
    if (!stopping_) {
      queue_.push_back(std::move(p));
      return;
    }
  }
  if (p.check_id != 0) {
    absl::MutexLock l(&checks_mu_);
    checks_.erase(p.check_id);
  }
  p.done({.status = absl::UnavailableError("the log is shutting down")});
}

void Sequencer::CreateTenant(v1::CreateTenantRequest request, SequenceDone done,
                             std::string key_id) {
  if (absl::Status s = api::ValidateCreateTenantRequest(request); !s.ok()) {
    return done({.status = s});
  }
  size_t bytes = request.ByteSizeLong();
  Enqueue({.request = std::move(request),
           .key_id = std::move(key_id),
           .done = std::move(done),
           .bytes = bytes});
}

void Sequencer::CreateSystemTenant(SequenceDone done) {
  v1::CreateTenantRequest request;
  request.set_tenant(auth::kSystemTenant);
  Enqueue({.request = std::move(request), .done = std::move(done), .bytes = 0});
}

void Sequencer::Write(v1::WriteRequest request, SequenceDone done, std::string key_id) {
  if (absl::Status s = api::ValidateWriteRequest(request); !s.ok()) {
    return done({.status = s});
  }
  size_t bytes = request.ByteSizeLong();
  Enqueue({.request = std::move(request),
           .key_id = std::move(key_id),
           .done = std::move(done),
           .bytes = bytes});
}

void Sequencer::UpdateKeys(KeyChange change, SequenceDone done, std::string key_id) {
  for (const auth::KeyGrant& g : change.create) {
    if (absl::Status s = auth::ValidateGrant(g); !s.ok()) return done({.status = s});
    if (g.tenant != change.tenant) {
      return done({.status = absl::InternalError("a key change creates another tenant's key")});
    }
  }
  Enqueue({.request = std::move(change),
           .key_id = std::move(key_id),
           .done = std::move(done),
           .bytes = 1024});
}

void Sequencer::SetPolicy(v1::SetPolicyRequest request, SequenceDone done,
                          absl::Time deadline, std::function<bool()> cancelled,
                          std::string key_id) {
  if (absl::Status s = api::ValidateSetPolicyRequest(request); !s.ok()) {
    return done({.status = s});
  }
  if (request.filename().empty()) request.set_filename(api::kDefaultPolicyFilename);
  bool stopping;
  {
    absl::MutexLock l(&policy_mu_);
    stopping = policy_stopping_;
    if (!stopping && pending_policies_ < options_.max_pending_policies) {
      ++pending_policies_;
      policy_queue_.push_back(
          {.request = std::move(request),
           .done = std::move(done),
           .deadline = std::min(deadline, absl::Now() + options_.policy_test_timeout),
           .rpc_deadline = deadline,
           .cancelled = std::move(cancelled),
           .key_id = std::move(key_id)});
      return;
    }
  }
  if (stopping) return done({.status = absl::UnavailableError("the log is shutting down")});
  done({.status = absl::ResourceExhaustedError(absl::StrCat(
            "more than ", options_.max_pending_policies,
            " SetPolicy calls are in progress (--max_pending_policies); retry later"))});
}

void Sequencer::RunPolicyWorker() {
  pthread_setname_np(pthread_self(), "log-policy");
  while (true) {
    PolicyJob job;
    {
      absl::MutexLock l(&policy_mu_);
      policy_mu_.Await(absl::Condition(
          +[](Sequencer* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return s->policy_stopping_ || !s->policy_queue_.empty();
          },
          this));
      if (policy_stopping_) {
        std::deque<PolicyJob> left;
        left.swap(policy_queue_);
        pending_policies_ -= left.size();
        policy_mu_.Unlock();
        for (auto& j : left) {
          j.done({.status = absl::UnavailableError("the log is shutting down")});
        }
        policy_mu_.Lock();
        return;
      }
      job = std::move(policy_queue_.front());
      policy_queue_.pop_front();
    }
    PreparePolicy(std::move(job));
    absl::MutexLock l(&policy_mu_);
    --pending_policies_;
  }
}

void Sequencer::PreparePolicy(PolicyJob job) {
  eval::QueryOptions q;
  q.deadline = job.deadline;
  q.cancelled = job.cancelled;
  auto program = CompileAndTestPolicy(job.request.source(), job.request.filename(),
                                      options_.engine, q);
  if (!program.ok()) return job.done({.status = program.status()});
  const std::string& tenant = job.request.tenant();
  bool exists;
  {
    absl::MutexLock l(&published_mu_);
    exists = published_.count(tenant) > 0;
  }
  Pending p{.program = *program};
  if (exists && checker_) {
    uint64_t from;
    {
      absl::MutexLock l(&checks_mu_);
      p.check_id = ++next_check_id_;
      checks_[p.check_id].tenant = tenant;
      from = last_assigned_;
    }
    // The materializer may be busy (a bulk load, slow fsyncs): the check
    // waits as long as the call allows, at most a minute.
    absl::StatusOr<NonFittingFacts> checked = checker_(
        tenant, from, std::min(job.rpc_deadline, absl::Now() + absl::Seconds(60)), **program);
    if (!checked.ok()) {
      {
        absl::MutexLock l(&checks_mu_);
        checks_.erase(p.check_id);
      }
      return job.done({.status = checked.status()});
    }
    p.checked = *std::move(checked);
  }
  p.bytes = job.request.ByteSizeLong();
  p.request = std::move(job.request);
  p.key_id = std::move(job.key_id);
  p.done = std::move(job.done);
  Enqueue(std::move(p));
}

void Sequencer::Run() {
  pthread_setname_np(pthread_self(), "log-sequencer");
  while (true) {
    std::deque<Pending> batch;
    {
      absl::MutexLock l(&queue_mu_);
      queue_mu_.Await(absl::Condition(
          +[](Sequencer* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return s->stopping_ || !s->queue_.empty() || s->catch_up_;
          },
          this));
      catch_up_ = false;
      if (stopping_) {
        batch.swap(queue_);
        queue_mu_.Unlock();
        for (auto& p : batch) {
          p.done({.status = absl::UnavailableError("the log is shutting down")});
        }
        queue_mu_.Lock();
        return;
      }
      size_t bytes = 0;
      while (!queue_.empty() && batch.size() < options_.max_group_entries &&
             (batch.empty() || bytes + queue_.front().bytes <= options_.max_group_bytes)) {
        bytes += queue_.front().bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // Shared store: what other front-ends appended first (DESIGN.md §9.2:
    // they forward to one leader, so this happens when the leadership
    // moves, or on followers, which only keep their published state fresh).
    if (store_->Shared()) {
      if (absl::Status st = Resync(); !st.ok()) {
        LOG_EVERY_N(WARNING, 20) << "cannot catch up with the log store: " << st;
        for (auto& p : batch) {
          if (p.check_id != 0) {
            absl::MutexLock l(&checks_mu_);
            checks_.erase(p.check_id);
          }
          p.done({.status = absl::UnavailableError(absl::StrCat(
                      "the log cannot read its store; nothing was written: ", st.message()))});
        }
        continue;
      }
    }
    PrefetchRequests(batch);
    for (auto& p : batch) Sequence(p);
    Commit();
  }
}

void Sequencer::PrefetchRequests(const std::deque<Pending>& batch) {
  prefetched_.clear();
  std::vector<logstore::RequestKey> keys;
  for (const Pending& p : batch) {
    std::visit(
        [&](const auto& r) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(r)>, KeyChange>) {
            if (!r.request_id().empty()) keys.push_back({r.tenant(), r.request_id()});
          }
        },
        p.request);
  }
  if (keys.empty()) return;
  auto found = store_->LookupRequests(keys);
  prefetch_status_ = found.status();
  for (size_t i = 0; i < keys.size(); ++i) {
    prefetched_[{keys[i].tenant, keys[i].request_id}] =
        found.ok() ? (*found)[i] : std::nullopt;
  }
}

absl::StatusOr<std::optional<uint64_t>> Sequencer::FindRequest(
    const std::string& tenant, const std::string& request_id) {
  if (request_id.empty()) return std::optional<uint64_t>();
  auto it = group_requests_.find({tenant, request_id});
  if (it != group_requests_.end()) return std::optional<uint64_t>(it->second);
  // Earlier groups are committed, and this group's are in group_requests_:
  // what the store answered before the batch still holds.
  if (auto pre = prefetched_.find({tenant, request_id}); pre != prefetched_.end()) {
    if (!prefetch_status_.ok()) return prefetch_status_;
    return pre->second;
  }
  return store_->LookupRequest(tenant, request_id);
}

void Sequencer::Append(Pending& p, const std::string& tenant, v1::LogPayload payload,
                       const std::string& request_id,
                       std::optional<TenantState> new_state, const KeyChange* keys) {
  const uint64_t offset = next_offset_++;
  payload.set_key_id(p.key_id);
  {
    absl::MutexLock l(&checks_mu_);
    last_assigned_ = offset;
    for (auto& [id, check] : checks_) {
      if (check.tenant != tenant || check.overflow || !payload.has_write()) continue;
      for (const auto& op : payload.write().operations()) {
        if (!op.has_insert()) continue;
        if (check.inserted.size() >= options_.max_recorded_facts) {
          check.overflow = true;
          check.inserted.clear();
          break;
        }
        check.inserted.emplace_back(offset, api::FromProto(op.insert()));
      }
    }
  }
  logstore::AppendRecord rec;
  rec.entry.set_offset(offset);
  rec.entry.set_tenant(tenant);
  rec.entry.set_time_unix_ms(absl::ToUnixMillis(absl::Now()));
  payload.SerializeToString(rec.entry.mutable_payload());
  rec.entry.set_payload_crc32c(Crc32c(rec.entry.payload()));
  last_chain_ = api::NextChain(last_chain_, rec.entry);
  rec.entry.set_chain(last_chain_);
  rec.request_id = request_id;
  if (new_state.has_value()) {
    if (new_state->created_offset == 0) new_state->created_offset = offset;
    rec.tenant = logstore::TenantRecord{
        .name = tenant,
        .created_offset = new_state->created_offset,
        .policy_version = new_state->policy_version,
        .policy_source = new_state->policy_source,
        .policy_filename = new_state->policy_filename,
        .policy_forced = new_state->policy_forced};
    working_[tenant] = *new_state;
    group_tenants_[tenant] = *new_state;
  }
  if (keys != nullptr) {
    rec.keys_revoked = keys->revoke;
    rec.keys_created = keys->create;
    for (const std::string& id : keys->revoke) working_keys_.erase(id);
    for (auth::KeyGrant& g : rec.keys_created) {
      g.created_offset = offset;
      working_keys_[g.id] = g;
    }
    group_keys_ = true;
  }
  if (!request_id.empty()) group_requests_[{tenant, request_id}] = offset;
  group_.push_back(std::move(rec));
  slots_.push_back({.done = std::move(p.done), .result = {.offset = offset}});
}

void Sequencer::Sequence(Pending& p) {
  auto fail = [&](absl::Status s) {
    slots_.push_back({.done = std::move(p.done), .result = {.status = std::move(s)}});
  };
  auto duplicate = [&](uint64_t offset) {
    slots_.push_back({.done = std::move(p.done), .result = {.offset = offset}});
  };
  // DESIGN.md 9.7: the caller's key as of this request's offset.
  if (!p.key_id.empty() && !working_keys_.contains(p.key_id)) {
    if (p.check_id != 0) {  // a SetPolicy's fact check stops recording
      absl::MutexLock l(&checks_mu_);
      checks_.erase(p.check_id);
    }
    return fail(absl::UnauthenticatedError(
        absl::StrCat("unknown or revoked API key ", p.key_id)));
  }
  if (auto* r = std::get_if<KeyChange>(&p.request)) return SequenceKeys(p, *r);
  if (auto* r = std::get_if<v1::CreateTenantRequest>(&p.request)) {
    auto found = FindRequest(r->tenant(), r->request_id());
    if (!found.ok()) return fail(found.status());
    if (found->has_value()) return duplicate(**found);
    if (working_.count(r->tenant())) {
      return fail(absl::AlreadyExistsError(
          absl::StrCat("tenant \"", r->tenant(), "\" already exists")));
    }
    v1::LogPayload payload;
    payload.mutable_create_tenant()->set_request_id(r->request_id());
    return Append(p, r->tenant(), std::move(payload), r->request_id(), TenantState{});
  }
  if (auto* r = std::get_if<v1::WriteRequest>(&p.request)) {
    auto it = working_.find(r->tenant());
    if (it == working_.end()) return fail(TenantNotFound(r->tenant()));
    auto found = FindRequest(r->tenant(), r->request_id());
    if (!found.ok()) return fail(found.status());
    if (found->has_value()) return duplicate(**found);
    const TenantState& st = it->second;
    if (st.program == nullptr) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "tenant \"", r->tenant(), "\" has no policy: SetPolicy first")));
    }
    for (int i = 0; i < r->operations_size(); ++i) {
      const auto& op = r->operations(i);
      if (!op.has_insert()) continue;  // delete patterns: structure only
      absl::Status s = polar::CheckFact(*st.program, api::FromProto(op.insert()));
      if (!s.ok()) {
        return fail(absl::Status(s.code(), absl::StrCat("operations[", i,
                                                        "].insert: ", s.message())));
      }
    }
    if (const size_t bytes = r->ByteSizeLong(); bytes > store_->MaxRecordBytes()) {
      return fail(absl::ResourceExhaustedError(absl::StrCat(
          "the write is ", bytes, " bytes; this log's store takes at most ",
          store_->MaxRecordBytes(),
          " per entry (etcd's --max-request-bytes, --etcd_max_request_bytes): split it")));
    }
    v1::LogPayload payload;
    auto* batch = payload.mutable_write();
    batch->mutable_operations()->Swap(r->mutable_operations());
    batch->set_request_id(r->request_id());
    return Append(p, r->tenant(), std::move(payload), r->request_id(), std::nullopt);
  }
  auto* r = std::get_if<v1::SetPolicyRequest>(&p.request);
  FactCheck check;
  if (p.check_id != 0) {
    absl::MutexLock l(&checks_mu_);
    check = std::move(checks_[p.check_id]);
    checks_.erase(p.check_id);
  }
  auto it = working_.find(r->tenant());
  if (it == working_.end()) return fail(TenantNotFound(r->tenant()));
  auto found = FindRequest(r->tenant(), r->request_id());
  if (!found.ok()) return fail(found.status());
  if (found->has_value()) return duplicate(**found);
  // The entry and the tenant's registry row both hold the source.
  if (const size_t bytes = 2 * (r->source().size() + r->filename().size()) + r->request_id().size();
      bytes > store_->MaxRecordBytes()) {
    return fail(absl::ResourceExhaustedError(absl::StrCat(
        "source: the policy is ", r->source().size(), " bytes; this log's store writes it twice "
        "in one entry (the entry and the tenant's record), at most ", store_->MaxRecordBytes(),
        " bytes in all (etcd's --max-request-bytes, --etcd_max_request_bytes)")));
  }
  if (p.check_id == 0 && checker_) {
    // The tenant was created after the worker looked: its facts are all in
    // this group or later ones, and none were recorded. Prepare it again.
    return fail(absl::AbortedError(absl::StrCat(
        "tenant \"", r->tenant(), "\" was created while the policy was prepared; retry")));
  }
  if (check.overflow) {
    return fail(absl::AbortedError(absl::StrCat(
        "tenant \"", r->tenant(), "\" received more than ", options_.max_recorded_facts,
        " facts while its stored facts were checked against the policy; retry")));
  }
  // The check saw the tenant up to checked_offset; the facts inserted after
  // it are checked here, so the result holds at this entry's offset. (A
  // fact deleted since the check may still be counted.)
  NonFittingFacts bad = std::move(p.checked);
  for (const auto& [offset, fact] : check.inserted) {
    if (offset <= bad.checked_offset) continue;
    if (!polar::CheckFact(*p.program, fact).ok()) {
      ++bad.count;
      if (bad.first.size() < 100) bad.first.push_back(fact);
    }
  }
  if (bad.count > 0 && !r->force()) {
    std::string msg = absl::StrCat(
        bad.count, " stored fact(s) of tenant \"", r->tenant(),
        "\" do not fit the new policy (set force to install it anyway: they "
        "stay stored but inert)");
    for (size_t i = 0; i < bad.first.size() && i < kMaxListedFacts; ++i) {
      absl::StrAppend(&msg, "\n  ", ToString(bad.first[i]));
    }
    if (bad.count > kMaxListedFacts) {
      absl::StrAppend(&msg, "\n  and ", bad.count - kMaxListedFacts, " more");
    }
    return fail(absl::FailedPreconditionError(msg));
  }
  TenantState st = it->second;
  st.policy_version = next_offset_;
  st.policy_source = r->source();
  st.policy_filename = r->filename();
  st.policy_forced = r->force();
  st.program = p.program;
  v1::LogPayload payload;
  auto* up = payload.mutable_set_policy();
  up->set_source(r->source());
  up->set_filename(r->filename());
  up->set_forced(r->force());
  up->set_request_id(r->request_id());
  std::string tenant = r->tenant();
  std::string request_id = r->request_id();
  Append(p, tenant, std::move(payload), request_id, std::move(st));
  slots_.back().result.inert_fact_count = bad.count;
  slots_.back().result.inert_facts = std::move(bad.first);
}

absl::Status KeyNotFound(const std::string& tenant, const std::string& id) {
  return absl::NotFoundError(
      tenant.empty() ? absl::StrCat("no live cluster key ", id)
                     : absl::StrCat("no live key ", id, " of tenant \"", tenant, "\""));
}

void Sequencer::SequenceKeys(Pending& p, KeyChange& change) {
  auto fail = [&](absl::Status s) {
    slots_.push_back({.done = std::move(p.done), .result = {.status = std::move(s)}});
  };
  if (!working_.contains(auth::kSystemTenant)) {
    return fail(absl::UnavailableError("the log has not created its \"_system\" tenant yet"));
  }
  if (!change.tenant.empty() && !working_.contains(change.tenant)) {
    return fail(TenantNotFound(change.tenant));
  }
  for (const std::string& id : change.revoke) {
    auto it = working_keys_.find(id);
    if (it == working_keys_.end() || it->second.tenant != change.tenant) {
      return fail(KeyNotFound(change.tenant, id));
    }
  }
  for (const auth::KeyGrant& g : change.create) {
    if (working_keys_.contains(g.id)) {
      return fail(absl::AbortedError(absl::StrCat("key id ", g.id, " is taken; retry")));
    }
  }
  v1::LogPayload payload;
  *payload.mutable_write() = auth::KeyUpdate(change.create, change.revoke);
  Append(p, auth::kSystemTenant, std::move(payload), "", std::nullopt, &change);
}

void Sequencer::Commit() {
  if (!group_.empty()) {
    const absl::Time append_start = absl::Now();
    absl::Status s = store_->Append(group_);
    RecordGroupCommit(group_.size(), absl::Now() - append_start);
    if (!s.ok() && !store_->Shared()) {
      // The in-memory state is ahead of the disk now; a restart recovers
      // the durable state from the store (docs/LOG_FORMAT.md).
      LOG(FATAL) << "log append failed, exiting to recover from disk: " << s;
    }
    if (s.ok()) {
      MaybeCrash("after_commit_before_ack");
      groups_.fetch_add(1, std::memory_order_relaxed);
      entries_.fetch_add(group_.size(), std::memory_order_relaxed);
      {
        absl::MutexLock l(&published_mu_);
        for (auto& [name, st] : group_tenants_) published_[name] = st;
        if (group_keys_) published_keys_ = std::make_shared<const KeyMap>(working_keys_);
      }
      if (on_head_) on_head_(group_.back().entry.offset());
    } else {
      // A shared store (etcd): nothing is acknowledged, and the next batch
      // starts from what the store holds (Resync).
      LOG_EVERY_N(WARNING, 20) << "log append failed: " << s;
      const absl::Status failed = absl::UnavailableError(
          s.code() == absl::StatusCode::kFailedPrecondition
              ? absl::StrCat("another log front-end appended first (the log's leadership "
                             "moved); nothing was written; retry: ", s.message())
              : absl::StrCat("the log store did not confirm the append; it may or may not be "
                             "written: retry with the same request_id to apply it once: ",
                             s.message()));
      for (auto& slot : slots_) {
        if (slot.result.status.ok()) slot.result = {.status = failed};
      }
      resync_needed_ = true;
    }
  }
  for (auto& slot : slots_) slot.done(std::move(slot.result));
  group_.clear();
  slots_.clear();
  group_requests_.clear();
  group_tenants_.clear();
  group_keys_ = false;
}

absl::StatusOr<v1::GetPolicyResponse> Sequencer::GetPolicy(const std::string& tenant) {
  absl::MutexLock l(&published_mu_);
  auto it = published_.find(tenant);
  if (it == published_.end()) return TenantNotFound(tenant);
  v1::GetPolicyResponse out;
  out.set_source(it->second.policy_source);
  out.set_version(it->second.policy_version);
  out.set_filename(it->second.policy_filename);
  return out;
}

v1::ListTenantsResponse Sequencer::ListTenants() {
  absl::MutexLock l(&published_mu_);
  v1::ListTenantsResponse out;
  for (const auto& [name, st] : published_) {
    if (name == auth::kSystemTenant) continue;
    auto* t = out.add_tenants();
    t->set_name(name);
    t->set_created_offset(st.created_offset);
    t->set_policy_version(st.policy_version);
  }
  return out;
}

std::optional<uint64_t> Sequencer::CreatedOffset(const std::string& tenant) {
  absl::MutexLock l(&published_mu_);
  auto it = published_.find(tenant);
  if (it == published_.end()) return std::nullopt;
  return it->second.created_offset;
}

std::shared_ptr<const KeyMap> Sequencer::keys() {
  absl::MutexLock l(&published_mu_);
  return published_keys_;
}

}  // namespace arbiter::log
