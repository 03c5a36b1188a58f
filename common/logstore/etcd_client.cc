#include "common/logstore/etcd_client.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/status_macros.h"

namespace arbiter::logstore {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

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

void CompareValue(TxnRequest* txn, std::string key, std::string value) {
  Compare* c = txn->add_compare();
  c->set_key(std::move(key));
  c->set_target(Compare::VALUE);
  c->set_result(Compare::EQUAL);
  c->set_value(std::move(value));
}

void CompareAbsent(TxnRequest* txn, std::string key) {
  Compare* c = txn->add_compare();
  c->set_key(std::move(key));
  c->set_target(Compare::CREATE);
  c->set_result(Compare::EQUAL);
  c->set_create_revision(0);
}

void AddPut(TxnRequest* txn, std::string key, std::string value, int64_t lease) {
  auto* put = txn->add_success()->mutable_request_put();
  put->set_key(std::move(key));
  put->set_value(std::move(value));
  put->set_lease(lease);
}

EtcdClient::EtcdClient(std::vector<std::string> endpoints, absl::Duration call_timeout)
    : call_timeout_(call_timeout) {
  grpc::ChannelArguments args;
  // Range answers are bounded by the callers' paging; etcd's own request
  // limit is 1.5 MiB by default.
  args.SetMaxReceiveMessageSize(64 << 20);
  // A member back after a restart is used again within a second, not after
  // gRPC's default backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);  // the connect timeout
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  for (const std::string& e : endpoints) {
    auto channel = grpc::CreateCustomChannel(e, grpc::InsecureChannelCredentials(), args);
    kv_.push_back(etcdserverpb::KV::NewStub(channel));
    lease_.push_back(etcdserverpb::Lease::NewStub(channel));
  }
}

// `method(member index, ctx, resp)` makes the call on one member.
template <typename Resp, typename Method>
absl::Status EtcdClient::Call(Method method, Resp* resp) const {
  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no etcd endpoint");
  const size_t first = current_.load();
  for (size_t i = 0; i < kv_.size(); ++i) {
    const size_t at = (first + i) % kv_.size();
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
    last = method(at, &ctx, resp);
    if (last.ok()) {
      current_.store(at);
      return absl::OkStatus();
    }
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
        last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      break;
    }
  }
  absl::StatusCode code = static_cast<absl::StatusCode>(last.error_code());
  if (code == absl::StatusCode::kDeadlineExceeded) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("log store (etcd): ", last.error_message()));
}

absl::StatusOr<RangeResponse> EtcdClient::Range(const RangeRequest& req) const {
  RangeResponse resp;
  ARBITER_RETURN_IF_ERROR(Call(
      [&](size_t at, grpc::ClientContext* c, RangeResponse* out) {
        return kv_[at]->Range(c, req, out);
      },
      &resp));
  return resp;
}

absl::StatusOr<mvccpb::KeyValue> EtcdClient::Get(const std::string& key) const {
  RangeRequest get;
  get.set_key(key);
  ARBITER_ASSIGN_OR_RETURN(RangeResponse got, Range(get));
  if (got.kvs_size() != 1) return absl::NotFoundError(absl::StrCat("etcd key ", key));
  return got.kvs(0);
}

absl::Status EtcdClient::Txn(const TxnRequest& req, TxnResponse* resp) const {
  return Call([&](size_t at, grpc::ClientContext* c,
                  TxnResponse* out) { return kv_[at]->Txn(c, req, out); },
              resp);
}

absl::Status EtcdClient::ForEachUnder(
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

absl::Status EtcdClient::Compact(int64_t revision) const {
  etcdserverpb::CompactionRequest req;
  req.set_revision(revision);
  etcdserverpb::CompactionResponse resp;
  return Call([&](size_t at, grpc::ClientContext* c, etcdserverpb::CompactionResponse* out) {
    return kv_[at]->Compact(c, req, out);
  }, &resp);
}

absl::StatusOr<int64_t> EtcdClient::LeaseGrant(int64_t ttl_seconds) const {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse resp;
  ARBITER_RETURN_IF_ERROR(
      Call([&](size_t at, grpc::ClientContext* c, etcdserverpb::LeaseGrantResponse* out) {
        return lease_[at]->LeaseGrant(c, req, out);
      }, &resp));
  if (!resp.error().empty() || resp.id() == 0) {
    return absl::UnavailableError(absl::StrCat("etcd lease grant: ", resp.error()));
  }
  return resp.id();
}

absl::Status EtcdClient::LeaseRevoke(int64_t id) const {
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(id);
  etcdserverpb::LeaseRevokeResponse resp;
  return Call([&](size_t at, grpc::ClientContext* c, etcdserverpb::LeaseRevokeResponse* out) {
    return lease_[at]->LeaseRevoke(c, req, out);
  }, &resp);
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAlive(int64_t id) const {
  etcdserverpb::LeaseKeepAliveResponse resp;
  ARBITER_RETURN_IF_ERROR(Call(
      [&](size_t at, grpc::ClientContext* c, etcdserverpb::LeaseKeepAliveResponse* out) {
        // One request on etcd's keep-alive stream, then close it.
        auto stream = lease_[at]->LeaseKeepAlive(c);
        etcdserverpb::LeaseKeepAliveRequest req;
        req.set_id(id);
        if (!stream->Write(req) || !stream->Read(out)) {
          c->TryCancel();
          grpc::Status s = stream->Finish();
          return s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed")
                        : s;
        }
        stream->WritesDone();
        return stream->Finish();
      },
      &resp));
  return resp.ttl();
}

}  // namespace arbiter::logstore
