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

using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

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

// meta/head: "<offset> <chain> <registry>" (the last entry that changed a
// registry; absent in stores written before it was added: read as 0).
std::string HeadValue(uint64_t offset, uint64_t chain, uint64_t registry) {
  return absl::StrCat(offset, " ", chain, " ", registry);
}

struct HeadFields {
  uint64_t offset = 0, chain = 0, registry = 0;
};
bool ParseHead(absl::string_view text, HeadFields* h) {
  std::vector<absl::string_view> words = absl::StrSplit(text, ' ');
  return (words.size() == 2 || words.size() == 3) && absl::SimpleAtoi(words[0], &h->offset) &&
         absl::SimpleAtoi(words[1], &h->chain) &&
         (words.size() == 2 || absl::SimpleAtoi(words[2], &h->registry));
}

}  // namespace

EtcdLogStore::EtcdLogStore(EtcdLogStoreOptions options)
    : options_(std::move(options)), client_(options_.endpoints, options_.call_timeout) {}

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

absl::Status EtcdLogStore::Init() {
  const std::string identity_key = options_.prefix + "meta/identity";
  const std::string head_key = options_.prefix + "meta/head";
  const std::string oldest_key = options_.prefix + "meta/oldest";
  // Created once, by whichever process gets there first.
  TxnRequest txn;
  CompareAbsent(&txn, identity_key);
  AddPut(&txn, identity_key, absl::StrCat("v1 ", RandomClusterId(), " 1"));
  AddPut(&txn, head_key, HeadValue(0, 0, 0));
  AddPut(&txn, oldest_key, "1");
  TxnResponse created;
  ARBITER_RETURN_IF_ERROR(client_.Txn(txn, &created));

  RangeRequest get;
  get.set_key(identity_key);
  ARBITER_ASSIGN_OR_RETURN(RangeResponse id, client_.Range(get));
  if (id.kvs_size() != 1) return absl::DataLossError("log store (etcd): no identity key");
  std::vector<std::string> words = absl::StrSplit(id.kvs(0).value(), ' ');
  if (words.size() != 3 || words[0] != "v1" || words[1].empty() ||
      !absl::SimpleAtoi(words[2], &identity_.epoch)) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", identity_key, " holds \"",
                                            id.kvs(0).value(), "\", not a log store's identity"));
  }
  identity_.cluster_id = words[1];
  get.set_key(oldest_key);
  ARBITER_ASSIGN_OR_RETURN(RangeResponse oldest, client_.Range(get));
  uint64_t o = 0;
  if (oldest.kvs_size() != 1 || !absl::SimpleAtoi(oldest.kvs(0).value(), &o) || o < 1) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", oldest_key, " is not an offset"));
  }
  oldest_ = o;
  absl::MutexLock l(&write_mu_);
  return LoadHead();
}

absl::Status EtcdLogStore::LoadHead() {
  absl::StatusOr<mvccpb::KeyValue> head = client_.Get(options_.prefix + "meta/head");
  if (head.status().code() == absl::StatusCode::kNotFound) return SetHead("");
  ARBITER_RETURN_IF_ERROR(head.status());
  return SetHead(head->value());
}

absl::Status EtcdLogStore::SetHead(const std::string& value) {
  HeadFields h;
  if (!ParseHead(value, &h)) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", options_.prefix,
                                            "meta/head is not \"<offset> <chain> <registry>\""));
  }
  if (h.offset < head_.load()) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", options_.prefix,
                                            "meta/head went back from ", head_.load(), " to ",
                                            h.offset));
  }
  head_value_ = value;
  head_chain_ = h.chain;
  registry_ = h.registry;
  head_ = h.offset;
  return absl::OkStatus();
}

absl::Status EtcdLogStore::Refresh() {
  // meta/identity, meta/head and meta/oldest in one linearizable read,
  // under the lock so that no append of this store overtakes it.
  const std::string meta = options_.prefix + "meta/";
  RangeRequest get;
  get.set_key(meta);
  get.set_range_end(PrefixEnd(meta));
  absl::MutexLock l(&write_mu_);
  ARBITER_ASSIGN_OR_RETURN(RangeResponse got, client_.Range(get));
  std::map<std::string, std::string> values;
  for (const auto& kv : got.kvs()) values[kv.key().substr(meta.size())] = kv.value();
  const std::string expected = absl::StrCat("v1 ", identity_.cluster_id, " ", identity_.epoch);
  if (values["identity"] != expected) {
    return absl::FailedPreconditionError(absl::StrCat(
        "log store (etcd): ", meta, "identity is now \"", values["identity"], "\", not \"",
        expected, "\": the store was restored or moved to a new epoch under this process"));
  }
  uint64_t oldest = 0;
  if (!absl::SimpleAtoi(values["oldest"], &oldest) || oldest < 1) {
    return absl::DataLossError(absl::StrCat("log store (etcd): ", meta, "oldest is not an offset"));
  }
  ARBITER_RETURN_IF_ERROR(SetHead(values["head"]));
  if (oldest > oldest_.load()) oldest_.store(oldest);
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
  uint64_t registry = registry_.load();
  for (const AppendRecord* r : part) {
    if (r->tenant || !r->keys_revoked.empty() || !r->keys_created.empty()) {
      registry = r->entry.offset();
    }
  }
  std::string new_head = HeadValue(last.offset(), last.chain(), registry);
  AddPut(&txn, head_key, new_head);
  TxnResponse resp;
  ARBITER_RETURN_IF_ERROR(client_.Txn(txn, &resp));
  if (!resp.succeeded()) {
    const uint64_t expected = head_.load();
    ARBITER_RETURN_IF_ERROR(LoadHead());
    // A Txn sent again after a lost answer (Call moves to the next member on
    // UNAVAILABLE) finds what it wrote itself the first time.
    if (head_.load() >= last.offset()) {
      absl::StatusOr<mvccpb::KeyValue> stored = client_.Get(EntryKey(last.offset()));
      if (stored.ok() && stored->value() == last.SerializeAsString()) return absl::OkStatus();
      if (!stored.ok() && stored.status().code() != absl::StatusCode::kNotFound) {
        return stored.status();
      }
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "log store (etcd): the head moved from ", expected, " to ", head_.load(),
        " under this store (another writer appended: another front-end); nothing of this "
        "append was written"));
  }
  head_value_ = std::move(new_head);
  head_chain_.store(last.chain());
  registry_.store(registry);
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
    absl::StatusOr<RangeResponse> ranged = client_.Range(get);
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

absl::StatusOr<std::vector<std::optional<uint64_t>>> EtcdLogStore::LookupRequests(
    const std::vector<RequestKey>& keys) {
  std::vector<std::optional<uint64_t>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size();) {
    // One read-only Txn (no compares: it always succeeds) of up to
    // max_txn_ops gets, linearizable like a Range.
    TxnRequest txn;
    const size_t first = i;
    for (; i < keys.size() && txn.success_size() < options_.max_txn_ops; ++i) {
      txn.add_success()->mutable_request_range()->set_key(
          absl::StrCat(options_.prefix, "r/", keys[i].tenant, "/", keys[i].request_id));
    }
    TxnResponse resp;
    ARBITER_RETURN_IF_ERROR(client_.Txn(txn, &resp));
    if (resp.responses_size() != txn.success_size()) {
      return absl::InternalError(absl::StrCat("log store (etcd): a Txn of ",
                                              txn.success_size(), " gets answered ",
                                              resp.responses_size()));
    }
    for (size_t k = first; k < i; ++k) {
      const RangeResponse& got = resp.responses(static_cast<int>(k - first)).response_range();
      if (got.kvs_size() == 0) {
        out.emplace_back();
        continue;
      }
      uint64_t offset = 0;
      if (!absl::SimpleAtoi(got.kvs(0).value(), &offset)) {
        return absl::DataLossError(
            absl::StrCat("log store (etcd): ", got.kvs(0).key(), " is not an offset"));
      }
      out.emplace_back(offset);
    }
  }
  return out;
}

absl::StatusOr<std::vector<TenantRecord>> EtcdLogStore::Tenants() {
  std::vector<TenantRecord> out;
  ARBITER_RETURN_IF_ERROR(client_.ForEachUnder(
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
  ARBITER_RETURN_IF_ERROR(client_.ForEachUnder(
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
    ARBITER_RETURN_IF_ERROR(client_.Txn(txn, &resp));
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
    ARBITER_RETURN_IF_ERROR(client_.Txn(txn, &resp));
    revision = resp.header().revision();
  }
  // 3. Their request ids.
  std::vector<std::string> stale;
  ARBITER_RETURN_IF_ERROR(client_.ForEachUnder(
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
    ARBITER_RETURN_IF_ERROR(client_.Txn(txn, &resp));
    revision = resp.header().revision();
  }
  // 4. etcd's history of them (the space of the deleted values).
  if (!options_.compact) return absl::OkStatus();
  absl::Status c = client_.Compact(revision);
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
  ARBITER_RETURN_IF_ERROR(client_.Txn(txn, &resp));
  if (!resp.succeeded()) {
    return absl::FailedPreconditionError(
        "log store (etcd): the identity changed under this store (another process started a "
        "new epoch)");
  }
  ++identity_.epoch;
  return absl::OkStatus();
}

}  // namespace arbiter::logstore
