// status, snapshots, tenants, tenants create.

#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/progress.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/cli/commands.h"

namespace arbiter::cli {
namespace {

constexpr char kLog[] = "arbiter-log";
constexpr char kWriter[] = "arbiter-writer";

std::string StateName(v1::ReplicationState s) {
  return std::string(absl::StripPrefix(v1::ReplicationState_Name(s), "REPLICATION_STATE_"));
}

std::string DrainName(v1::DrainState s) {
  return std::string(absl::StripPrefix(v1::DrainState_Name(s), "DRAIN_STATE_"));
}

std::string TimeOf(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

std::string Bytes(uint64_t n) {
  if (n >= 1 << 20) return absl::StrFormat("%.1f MiB", n / 1048576.0);
  if (n >= 1 << 10) return absl::StrFormat("%.1f KiB", n / 1024.0);
  return absl::StrCat(n, " B");
}

}  // namespace

// What --watch remembers between two redraws, for the catch-up rate.
struct Previous {
  absl::Time at;
  uint64_t applied = 0;
};

// One status: the log's head and the host's; `previous` (with --watch) adds
// the rate the host applies at and when it catches up.
int StatusOnce(Context& ctx, std::optional<Previous>& previous) {
  v1::GetHeadResponse head;
  grpc::Status log_status;
  {
    auto call = ctx.NewCall();
    log_status = ctx.log().GetHead(call.get(), v1::GetHeadRequest(), &head);
  }
  v1::GetStatusResponse host;
  grpc::Status writer_status;
  {
    auto call = ctx.NewCall();
    writer_status = ctx.writer().GetStatus(call.get(), v1::GetStatusRequest(), &host);
  }
  // Lag behind the log's head as the log reports it now; without the log,
  // the head the writer last heard of.
  uint64_t head_offset = log_status.ok() ? head.head_offset() : host.head_offset();
  uint64_t lag = head_offset > host.applied_offset() ? head_offset - host.applied_offset() : 0;

  if (ctx.json()) {
    ctx.out() << "{\"log\":" << (log_status.ok() ? ToJson(head) : "null")
              << ",\"writer\":" << (writer_status.ok() ? ToJson(host) : "null")
              << ",\"lag\":" << (writer_status.ok() ? absl::StrCat(lag) : "null") << "}\n";
  } else {
    auto& out = ctx.out();
    if (log_status.ok()) {
      out << absl::StrFormat("log      %s  head %d  oldest retained %d  cluster %s  epoch %d\n",
                             ctx.options().log_address, head.head_offset(),
                             head.oldest_retained_offset(), head.cluster_id(), head.epoch());
    }
    if (writer_status.ok()) {
      out << absl::StrFormat(
          "writer   %s  %s  %s  applied %d  lag %d  staleness %dms  generation %d\n",
          ctx.options().writer_address, StateName(host.replication_state()),
          DrainName(host.drain_state()), host.applied_offset(), lag, host.staleness_ms(),
          host.generation());
      const absl::Time now = absl::Now();
      if (previous.has_value() && now > previous->at && host.applied_offset() >= previous->applied) {
        const double rate = static_cast<double>(host.applied_offset() - previous->applied) /
                            absl::ToDoubleSeconds(now - previous->at);
        out << "applying " << WithThousands(static_cast<int64_t>(rate)) << " entries/s";
        if (lag > 0) {
          out << ", " << WithThousands(static_cast<int64_t>(lag)) << " behind, caught up in "
              << (rate > 0 ? absl::FormatDuration(absl::Seconds(std::ceil(
                                 static_cast<double>(lag) / rate)))
                           : "unknown (not applying)");
        }
        out << "\n";
      }
      previous = Previous{now, host.applied_offset()};
      out << "readers  " << host.readers_size() << "\n";
      for (const auto& r : host.readers()) {
        out << absl::StrFormat("  %-12s %-21s %-8s staleness %dms  lease %s\n", r.id(),
                               r.address(), DrainName(r.drain_state()), r.staleness_ms(),
                               r.lease_remaining_ms() > 0
                                   ? absl::StrCat(r.lease_remaining_ms(), "ms")
                                   : std::string("expired"));
      }
      out << "tenants  " << host.tenants_size() << "\n";
      for (const auto& t : host.tenants()) {
        out << absl::StrFormat("  %-20s applied %d  policy version %d\n", t.name(),
                               t.applied_offset(), t.policy_version());
      }
    }
  }
  int code = kExitOk;
  if (!log_status.ok()) code = ctx.RpcError(log_status, kLog);
  if (!writer_status.ok()) code = ctx.RpcError(writer_status, kWriter);
  return code;
}

int RunStatus(Context& ctx) {
  std::optional<Previous> previous;
  if (!ctx.args().GetBool("watch")) return StatusOnce(ctx, previous);
  absl::Duration interval = absl::Seconds(1);
  if (ctx.args().Has("interval") &&
      (!absl::ParseDuration(ctx.args().Get("interval"), &interval) ||
       interval < absl::Milliseconds(100))) {
    return ctx.UsageError(absl::StrCat("--interval: \"", ctx.args().Get("interval"),
                                       "\" is not a duration of at least 100ms"));
  }
  int64_t count = -1;  // forever
  if (ctx.args().Has("count") && (!absl::SimpleAtoi(ctx.args().Get("count"), &count) || count < 1)) {
    return ctx.UsageError(
        absl::StrCat("--count: \"", ctx.args().Get("count"), "\" is not a number >= 1"));
  }
  int code = kExitOk;
  for (int64_t i = 0; count < 0 || i < count; ++i) {
    if (i > 0) absl::SleepFor(interval);
    if (!ctx.json()) {
      // A terminal is redrawn from its top; a pipe gets one block per status.
      if (ctx.terminal().out) ctx.out() << "\x1b[H\x1b[2J";
      ctx.out() << "every " << absl::FormatDuration(interval) << "  "
                << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone())
                << "\n";
    }
    code = StatusOnce(ctx, previous);
    if (!ctx.json() && !ctx.terminal().out) ctx.out() << "\n";
    ctx.out() << std::flush;
  }
  return code;
}

int RunSnapshots(Context& ctx) {
  v1::ListSnapshotsResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().ListSnapshots(call.get(), v1::ListSnapshotsRequest(), &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  if (ctx.json()) {
    ctx.PrintJson(response);
    return kExitOk;
  }
  if (response.snapshots().empty()) {
    ctx.out() << "no snapshots\n";
    return kExitOk;
  }
  ctx.out() << absl::StrFormat("%-26s %10s  %-20s  %7s  %s\n", "ID", "OFFSET", "CREATED",
                               "TENANTS", "SIZE");
  for (const auto& m : response.snapshots()) {
    uint64_t size = 0;
    for (const auto& f : m.files()) size += f.size_bytes();
    ctx.out() << absl::StrFormat("%-26s %10d  %-20s  %7d  %s\n", m.snapshot_id(), m.offset(),
                                 TimeOf(m.created_unix_ms()), m.tenants_size(), Bytes(size));
  }
  return kExitOk;
}

int RunTenants(Context& ctx) {
  v1::ListTenantsResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().ListTenants(call.get(), v1::ListTenantsRequest(), &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  if (ctx.json()) {
    ctx.PrintJson(response);
    return kExitOk;
  }
  ctx.out() << absl::StrFormat("%-24s %14s  %14s\n", "TENANT", "CREATED_OFFSET",
                               "POLICY_VERSION");
  for (const auto& t : response.tenants()) {
    ctx.out() << absl::StrFormat("%-24s %14d  %14d\n", t.name(), t.created_offset(),
                                 t.policy_version());
  }
  return kExitOk;
}

int RunTenantsCreate(Context& ctx) {
  v1::CreateTenantRequest request;
  request.set_tenant(ctx.args().positional()[0]);
  request.set_request_id(ctx.args().Get("request_id"));
  v1::CreateTenantResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().CreateTenant(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kLog);
  return ctx.PrintWrite(response, response.offset(), response.consistency_token(),
                        absl::StrCat("created tenant ", request.tenant()));
}

int RunHealth(Context& ctx) {
  const std::string address =
      ctx.args().positional().empty() ? ctx.options().reader_address : ctx.args().positional()[0];
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(ctx.args().Get("service"));
  grpc::health::v1::HealthCheckResponse response;
  auto call = ctx.NewCall();
  grpc::Status s =
      grpc::health::v1::Health::NewStub(ctx.Channel(address))->Check(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, absl::StrCat("the health service at ", address));
  const bool serving = response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  if (ctx.json()) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << (serving ? "SERVING" : grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                                            response.status()))
              << "\n";
  }
  return serving ? kExitOk : kExitFalse;
}

}  // namespace arbiter::cli
