#include "common/logstore/etcd_log_store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/base/crc32c.h"
#include "common/base/status_macros.h"

namespace arbiter::logstore {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

// The first key after every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) != 0xff) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // etcd: every key
}

// Records as length-prefixed fields: "<size>:<bytes>" each.
void PutField(std::string* out, absl::string_view field) {
  absl::StrAppend(out, field.size(), ":", field);
}
class Fields {
 public:
  explicit Fields(absl::string_view text) : rest_(text) {}
  bool Next(std::string* out) {
    size_t colon = rest_.find(':');
    size_t n = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(rest_.substr(0, colon), &n) ||
        rest_.size() - colon - 1 < n) {
      return false;
    }
    absl::string_view field = rest_.substr(colon + 1, n);
    out->assign(field.data(), field.size());
    rest_.remove_prefix(colon + 1 + n);
    return true;
  }
  template <typename T>
  bool NextNumber(T* out) {
    std::string s;
    return Next(&s) && absl::SimpleAtoi(s, out);
  }
  bool done() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

std::string EncodeTenant(const TenantRecord& t) {
  std::string out;
  PutField(&out, t.name);
  PutField(&out, absl::StrCat(t.created_offset));
  PutField(&out, absl::StrCat(t.policy_version));
  PutField(&out, t.policy_source);
  PutField(&out, t.policy_filename);
  PutField(&out, t.policy_forced ? "1" : "0");
  return out;
}
bool DecodeTenant(absl::string_view text, TenantRecord* t) {
  Fields f(text);
  int forced = 0;
  bool ok = f.Next(&t->name) && f.NextNumber(&t->created_offset) &&
            f.NextNumber(&t->policy_version) && f.Next(&t->policy_source) &&
            f.Next(&t->policy_filename) && f.NextNumber(&forced) && f.done();
  t->policy_forced = forced != 0;
  return ok;
}

std::string EncodeKey(const auth::KeyGrant& k, uint64_t created_offset) {
  std::string out;
  PutField(&out, k.id);
  PutField(&out, k.sha256);
  PutField(&out, k.tenant);
  PutField(&out, absl::StrCat(k.scopes));
  PutField(&out, k.name);
  PutField(&out, absl::StrCat(created_offset));
  return out;
}
bool DecodeKey(absl::string_view text, auth::KeyGrant* k) {
  Fields f(text);
  return f.Next(&k->id) && f.Next(&k->sha256) && f.Next(&k->tenant) && f.NextNumber(&k->scopes) &&
         f.Next(&k->name) && f.NextNumber(&k->created_offset) && f.done();
}

std::string HeadValue(uint64_t offset, uint64_t chain) { return absl::StrCat(offset, " ", chain); }

// The Txn applies only while `key` holds `value`.
void CompareValue(TxnRequest* txn, std::string key, std::string value) {
  Compare* c = txn->add_compare();
  c->set_key(std::move(key));
  c->set_target(Compare::VALUE);
  c->set_result(Compare::EQUAL);
  c->set_value(std::move(value));
}

void AddPut(TxnRequest* txn, std::string key, std::string value) {
  auto* put = txn->add_success()->mutable_request_put();
  put->set_key(std::move(key));
  put->set_value(std::move(value));
}

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  absl::StatusCode code = static_cast<absl::StatusCode>(s.error_code());
  // A deadline on an etcd call says nothing about the request's fate:
  // report it as the store being unavailable, like a lost connection.
  if (code == absl::StatusCode::kDeadlineExceeded) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("log store (etcd): ", what, ": ", s.error_message()));
}

}  // namespace

EtcdLogStore::EtcdLogStore(EtcdLogStoreOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  // Range answers are bounded by Read's paging below; etcd's own request
  // limit is 1.5 MiB by default.
  args.SetMaxReceiveMessageSize(64 << 20);
  // A member back after a restart is used again within a second, not after
  // gRPC's default backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);  // the connect timeout
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  for (const std::string& e : options_.endpoints) {
    stubs_.push_back(etcdserverpb::KV::NewStub(
        grpc::CreateCustomChannel(e, grpc::InsecureChannelCredentials(), args)));
  }
}

absl::StatusOr<std::unique_ptr<EtcdLogStore>> EtcdLogStore::Open(EtcdLogStoreOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("--etcd_endpoints: at least one host:port");
  }
  if (options.prefix.empty() || options.prefix.back() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd_prefix: \"", options.prefix, "\" must end with '/'"));
  }
  if (options.prefix.size() > 256) {
    return absl::InvalidArgumentError("--etcd_prefix: at most 256 bytes");
  }
  if (options.max_txn_ops < 8) return absl::InvalidArgumentError("max_txn_ops: at least 8");
  if (options.max_txn_bytes < (256u << 10)) {
    return absl::InvalidArgumentError("--etcd_max_request_bytes: at least 262144");
  }
  std::unique_ptr<EtcdLogStore> store(new EtcdLogStore(std::move(options)));
  ARBITER_RETURN_IF_ERROR(store->Init());
  return store;
}

std::string EtcdLogStore::EntryKey(uint64_t offset) const {
  return absl::StrFormat("%se/%020d", options_.prefix, offset);
}

template <typename Req, typename Resp, typename Method>
absl::Status EtcdLogStore::Call(Method method, const Req& req, Resp* resp) const {
  grpc::Status last;
  const size_t first = current_.load();
  for (size_t i = 0; i < stubs_.size(); ++i) {
    const size_t at = (first + i) % stubs_.size();
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    last = method(*stubs_[at], &ctx, req, resp);
    if (last.ok()) {
      current_.store(at);
      return absl::OkStatus();
    }
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE) break;
  }
  return FromGrpc(last, "etcd call");
}

absl::StatusOr<RangeResponse> EtcdLogStore::Range(RangeRequest req) const {
  RangeResponse resp;
  ARBITER_RETURN_IF_ERROR(Call(
      [](etcdserverpb::KV::Stub& s, grpc::ClientContext* c, const RangeRequest& r,
         RangeResponse* out) { return s.Range(c, r, out); },
      req, &resp));
  return resp;
}

absl::Status EtcdLogStore::Txn(const TxnRequest& req, TxnResponse* resp) const {
  return Call(
      [](etcdserverpb::KV::Stub& s, grpc::ClientContext* c, const TxnRequest& r,
         TxnResponse* out) { return s.Txn(c, r, out); },
      req, resp);
}

absl::Status EtcdLogStore::ForEachUnder(
    const std::string& prefix,
    absl::FunctionRef<absl::Status(const mvccpb::KeyValue&)> fn) const {
  std::string from = prefix;
  const std::string end = PrefixEnd(prefix);
  while (true) {
    RangeRequest get;
    get.set_key(from);
    get.set_range_end(end);
    get.set_limit(256);
    ARBITER_ASSIGN_OR_RETURN(RangeResponse got, Range(get));
    for (const auto& kv : got.kvs()) ARBITER_RETURN_IF_ERROR(fn(kv));
    if (!got.more() || got.kvs_size() == 0) return absl::OkStatus();
    from = got.kvs(got.kvs_size() - 1).key() + std::string(1, '\0');
  }
}

absl::Status EtcdLogStore::Init() {
  const std::string identity_key = options_.prefix + "meta/identity";
  const std::string head_key = options_.prefix + "meta/head";
  const std::string oldest_key = options_.prefix + "meta/oldest";
  // Created once, by whichever process gets there first.
  TxnRequest txn;
  Compare* absent = txn.add_compare();
  absent->set_key(identity_key);
  absent->set_target(Compare::CREATE);
  absent->set_result(Compare::EQUAL);
  absent->set_create_revision(0);
  AddPut(&txn, identity_key, absl::StrCat("v1 ", RandomClusterId(), " 1"));
  AddPut(&txn, head_key, HeadValue(0, 0));
  AddPut(&txn, oldest_key, "1");
  TxnResponse created;
  ARBITER_RETURN_IF_ERROR(Txn(txn, &created));

  RangeRequest get;
  get.set_key(identity_key);
  ARBITER_ASSIGN_OR_RETURN(RangeResponse id, Range(get));
  if (id.kvs_size() != 1) return absl::DataLossError("log store (etcd): no identity key");
  std::vector<std::string> words = absl::StrSplit(id.kvs(0).value(), ' ');
  if (words.size() != 3 || words[0] != "v1" || words[1].empty() ||
      !absl::SimpleAtoi(words[2], &identity_.epoch)) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", identity_key, " holds \"",
                                            id.kvs(0).value(), "\", not a log store's identity"));
  }
  identity_.cluster_id = words[1];
  get.set_key(oldest_key);
  ARBITER_ASSIGN_OR_RETURN(RangeResponse oldest, Range(get));
  uint64_t o = 0;
  if (oldest.kvs_size() != 1 || !absl::SimpleAtoi(oldest.kvs(0).value(), &o) || o < 1) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", oldest_key, " is not an offset"));
  }
  oldest_ = o;
  absl::MutexLock l(&write_mu_);
  return LoadHead();
}

absl::Status EtcdLogStore::LoadHead() {
  RangeRequest get;
  get.set_key(options_.prefix + "meta/head");
  ARBITER_ASSIGN_OR_RETURN(RangeResponse head, Range(get));
  uint64_t offset = 0, chain = 0;
  std::vector<std::string> words;
  if (head.kvs_size() == 1) words = absl::StrSplit(head.kvs(0).value(), ' ');
  if (words.size() != 2 || !absl::SimpleAtoi(words[0], &offset) ||
      !absl::SimpleAtoi(words[1], &chain)) {
    return absl::DataLossError(
        absl::StrCat("log store (etcd): ", get.key(), " is not \"<offset> <chain>\""));
  }
  head_value_ = head.kvs(0).value();
  head_chain_ = chain;
  head_ = offset;
  return absl::OkStatus();
}

absl::Status EtcdLogStore::Append(const std::vector<AppendRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  absl::MutexLock l(&write_mu_);
  uint64_t next = head_.load() + 1;
  for (const auto& r : records) {
    if (r.entry.offset() != next++) {
      return absl::FailedPreconditionError(absl::StrCat(
          "log store: append of offset ", r.entry.offset(), ", expected ", next - 1));
    }
  }
  // Split into Txns within etcd's limits; each compares the head the one
  // before it wrote.
  const size_t fixed = 2 * options_.prefix.size() + 128;  // the compare and the head put
  std::vector<const AppendRecord*> part;
  int ops = 1;
  size_t bytes = fixed;
  for (const AppendRecord& r : records) {
    const int r_ops = 1 + (r.request_id.empty() ? 0 : 1) + (r.tenant ? 1 : 0) +
                      static_cast<int>(r.keys_revoked.size() + r.keys_created.size());
    size_t r_bytes = r.entry.ByteSizeLong() + r.request_id.size() + r.entry.tenant().size() +
                     static_cast<size_t>(r_ops) * (options_.prefix.size() + 64);
    if (r.tenant) r_bytes += r.tenant->policy_source.size() + r.tenant->policy_filename.size();
    for (const auto& k : r.keys_created) r_bytes += k.name.size() + k.tenant.size() + 128;
    if (r_ops + 1 > options_.max_txn_ops || r_bytes + fixed > options_.max_txn_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "log store (etcd): entry ", r.entry.offset(), " needs ", r_bytes, " bytes and ", r_ops,
          " operations in one etcd Txn; etcd allows ", options_.max_txn_bytes,
          " bytes (--max-request-bytes) and ", options_.max_txn_ops,
          " operations (--max-txn-ops)"));
    }
    if (ops + r_ops > options_.max_txn_ops || bytes + r_bytes > options_.max_txn_bytes) {
      ARBITER_RETURN_IF_ERROR(AppendTxn(part));
      part.clear();
      ops = 1;
      bytes = fixed;
    }
    part.push_back(&r);
    ops += r_ops;
    bytes += r_bytes;
  }
  return AppendTxn(part);
}

absl::Status EtcdLogStore::AppendTxn(const std::vector<const AppendRecord*>& part) {
  const std::string head_key = options_.prefix + "meta/head";
  TxnRequest txn;
  CompareValue(&txn, head_key, head_value_);
  // etcd refuses a Txn that names a key twice: a registry row written by
  // two entries of the part (a tenant created, then given a policy; a key
  // created, then revoked) is written once, as the last entry left it.
  std::map<std::string, std::optional<std::string>> side;  // nullopt: delete
  for (const AppendRecord* r : part) {
    const v1::LogEntry& e = r->entry;
    AddPut(&txn, EntryKey(e.offset()), e.SerializeAsString());
    if (!r->request_id.empty()) {
      side[absl::StrCat(options_.prefix, "r/", e.tenant(), "/", r->request_id)] =
          absl::StrCat(e.offset());
    }
    if (r->tenant) {
      side[absl::StrCat(options_.prefix, "t/", r->tenant->name)] = EncodeTenant(*r->tenant);
    }
    for (const std::string& id : r->keys_revoked) {
      side[absl::StrCat(options_.prefix, "k/", id)] = std::nullopt;
    }
    for (const auth::KeyGrant& k : r->keys_created) {
      side[absl::StrCat(options_.prefix, "k/", k.id)] = EncodeKey(k, e.offset());
    }
  }
  for (auto& [key, value] : side) {
    if (value) {
      AddPut(&txn, key, std::move(*value));
    } else {
      txn.add_success()->mutable_request_delete_range()->set_key(key);
    }
  }
  const v1::LogEntry& last = part.back()->entry;
  std::string new_head = HeadValue(last.offset(), last.chain());
  AddPut(&txn, head_key, new_head);
  TxnResponse resp;
  ARBITER_RETURN_IF_ERROR(Txn(txn, &resp));
  if (!resp.succeeded()) {
    const uint64_t expected = head_.load();
    ARBITER_RETURN_IF_ERROR(LoadHead());
    return absl::FailedPreconditionError(absl::StrCat(
        "log store (etcd): the head moved from ", expected, " to ", head_.load(),
        " under this store (another writer appended); nothing of this append was written"));
  }
  head_value_ = std::move(new_head);
  head_chain_.store(last.chain());
  head_.store(last.offset());
  return absl::OkStatus();
}

absl::StatusOr<size_t> EtcdLogStore::Read(uint64_t from_offset, const ReadOptions& options,
                                          absl::FunctionRef<bool(v1::LogEntry&&)> fn) {
  if (from_offset == 0) from_offset = 1;
  const uint64_t head = head_.load();
  if (from_offset < oldest_.load()) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", from_offset, " was truncated; the oldest retained offset is ", oldest_.load()));
  }
  if (from_offset > head) return 0;
  size_t count = 0, bytes = 0;
  uint64_t expect = from_offset;
  // Pages grow from a few entries, so that one Range answer stays far below
  // the receive limit whatever the entries' size (each is at most one Txn).
  int64_t page = 16, max_page = 1024;
  while (expect <= head && count < options.max_entries) {
    RangeRequest get;
    get.set_key(EntryKey(expect));
    get.set_range_end(EntryKey(head + 1));
    get.set_limit(std::min<int64_t>(page, static_cast<int64_t>(options.max_entries - count)));
    absl::StatusOr<RangeResponse> ranged = Range(get);
    if (!ranged.ok() && ranged.status().code() == absl::StatusCode::kResourceExhausted &&
        page > 1) {
      // Over the receive limit (large entries): smaller pages from here on.
      max_page = page = std::max<int64_t>(1, page / 4);
      continue;
    }
    if (!ranged.ok()) return ranged.status();
    RangeResponse& got = *ranged;
    if (got.kvs_size() == 0) {
      if (expect < oldest_.load()) break;  // truncated meanwhile: caught below
      return absl::DataLossError(absl::StrCat("log store (etcd): offset ", expect, " is missing"));
    }
    for (const auto& kv : got.kvs()) {
      v1::LogEntry e;
      if (!e.ParseFromString(kv.value())) {
        return absl::DataLossError(
            absl::StrCat("log store (etcd): ", kv.key(), " is not a log entry"));
      }
      if (e.offset() != expect) {
        if (expect < oldest_.load()) {
          return absl::OutOfRangeError(absl::StrCat(
              "offset ", expect, " was truncated; the oldest retained offset is ",
              oldest_.load()));
        }
        return absl::DataLossError(absl::StrCat("log store (etcd): offset ", expect,
                                                " is missing (found ", e.offset(), ")"));
      }
      if (Crc32c(e.payload()) != e.payload_crc32c()) {
        return absl::DataLossError(
            absl::StrCat("log store: entry ", e.offset(), " fails its CRC32C check"));
      }
      ++expect;
      bytes += e.payload().size();
      ++count;
      if (!fn(std::move(e))) return count;
      if (count >= options.max_entries || bytes >= options.max_bytes) return count;
    }
    page = std::min<int64_t>(page * 4, max_page);
  }
  if (count == 0 && expect < oldest_.load()) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", expect, " was truncated; the oldest retained offset is ", oldest_.load()));
  }
  return count;
}

absl::StatusOr<std::optional<uint64_t>> EtcdLogStore::LookupRequest(
    const std::string& tenant, const std::string& request_id) {
  RangeRequest get;
  get.set_key(absl::StrCat(options_.prefix, "r/", tenant, "/", request_id));
  ARBITER_ASSIGN_OR_RETURN(RangeResponse got, Range(get));
  if (got.kvs_size() == 0) return std::optional<uint64_t>();
  uint64_t offset = 0;
  if (!absl::SimpleAtoi(got.kvs(0).value(), &offset)) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", get.key(), " is not an offset"));
  }
  return std::optional<uint64_t>(offset);
}

absl::StatusOr<std::vector<TenantRecord>> EtcdLogStore::Tenants() {
  std::vector<TenantRecord> out;
  ARBITER_RETURN_IF_ERROR(ForEachUnder(
      options_.prefix + "t/",
      [&](const mvccpb::KeyValue& kv) {
        TenantRecord t;
        if (!DecodeTenant(kv.value(), &t)) {
          return absl::DataLossError(
              absl::StrCat("log store (etcd): ", kv.key(), " is not a tenant record"));
        }
        out.push_back(std::move(t));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<auth::KeyGrant>> EtcdLogStore::Keys() {
  std::vector<auth::KeyGrant> out;
  ARBITER_RETURN_IF_ERROR(ForEachUnder(
      options_.prefix + "k/",
      [&](const mvccpb::KeyValue& kv) {
        auth::KeyGrant k;
        if (!DecodeKey(kv.value(), &k)) {
          return absl::DataLossError(
              absl::StrCat("log store (etcd): ", kv.key(), " is not a key record"));
        }
        out.push_back(std::move(k));
        return absl::OkStatus();
      }));
  return out;
}

absl::Status EtcdLogStore::TruncateBefore(uint64_t offset) {
  absl::MutexLock l(&write_mu_);
  if (offset <= oldest_.load()) return absl::OkStatus();
  if (offset > head_.load() + 1) {
    return absl::InvalidArgumentError(absl::StrCat("log store: truncate before ", offset,
                                                   " is past the head ", head_.load()));
  }
  // 1. The new floor first: from here on, reads below it are OUT_OF_RANGE.
  {
    TxnRequest txn;
    AddPut(&txn, options_.prefix + "meta/oldest", absl::StrCat(offset));
    TxnResponse resp;
    ARBITER_RETURN_IF_ERROR(Txn(txn, &resp));
    oldest_.store(offset);
  }
  // 2. The entries below it, in one range delete.
  int64_t revision = 0;
  {
    TxnRequest txn;
    auto* del = txn.add_success()->mutable_request_delete_range();
    del->set_key(EntryKey(0));
    del->set_range_end(EntryKey(offset));
    TxnResponse resp;
    ARBITER_RETURN_IF_ERROR(Txn(txn, &resp));
    revision = resp.header().revision();
  }
  // 3. Their request ids.
  std::vector<std::string> stale;
  ARBITER_RETURN_IF_ERROR(ForEachUnder(
      options_.prefix + "r/",
      [&](const mvccpb::KeyValue& kv) {
        uint64_t o = 0;
        if (absl::SimpleAtoi(kv.value(), &o) && o < offset) stale.push_back(kv.key());
        return absl::OkStatus();
      }));
  for (size_t i = 0; i < stale.size();) {
    TxnRequest txn;
    for (int n = 0; n < options_.max_txn_ops && i < stale.size(); ++n, ++i) {
      txn.add_success()->mutable_request_delete_range()->set_key(stale[i]);
    }
    TxnResponse resp;
    ARBITER_RETURN_IF_ERROR(Txn(txn, &resp));
    revision = resp.header().revision();
  }
  // 4. etcd's history of them (the space of the deleted values).
  if (!options_.compact) return absl::OkStatus();
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(revision);
  etcdserverpb::CompactionResponse compacted;
  absl::Status c = Call(
      [](etcdserverpb::KV::Stub& s, grpc::ClientContext* ctx,
         const etcdserverpb::CompactionRequest& r,
         etcdserverpb::CompactionResponse* out) { return s.Compact(ctx, r, out); },
      compact, &compacted);
  // Already compacted past it (by etcd's own auto-compaction): fine.
  if (!c.ok() && c.code() != absl::StatusCode::kOutOfRange) return c;
  return absl::OkStatus();
}

absl::Status EtcdLogStore::StartNewEpoch() {
  absl::MutexLock l(&write_mu_);
  const std::string key = options_.prefix + "meta/identity";
  TxnRequest txn;
  CompareValue(&txn, key, absl::StrCat("v1 ", identity_.cluster_id, " ", identity_.epoch));
  AddPut(&txn, key, absl::StrCat("v1 ", identity_.cluster_id, " ", identity_.epoch + 1));
  TxnResponse resp;
  ARBITER_RETURN_IF_ERROR(Txn(txn, &resp));
  if (!resp.succeeded()) {
    return absl::FailedPreconditionError(
        "log store (etcd): the identity changed under this store (another process started a "
        "new epoch)");
  }
  ++identity_.epoch;
  return absl::OkStatus();
}

}  // namespace arbiter::logstore
