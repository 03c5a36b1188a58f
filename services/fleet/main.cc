// arbiter-fleet: the fleet's side of host replacement (issue #12).
//
//   arbiter-fleet termination-policy --inventory=FILE < event.json
//       The EC2 Auto Scaling custom termination policy (termination_policy.h):
//       polls every inventory host's writer, asks the chosen ones to drain,
//       and prints {"InstanceIDs": [...]} with only DRAINED hosts, within
//       --budget. Any error prints {"InstanceIDs":[]} (fail closed), the
//       reason on stderr, and exits 1.
//   arbiter-fleet drain-node [--writer=HOST:PORT] [--timeout=10m]
//       Drains one host through its writer and waits until it is DRAINED
//       (exit 0), or --timeout passes (exit 1); for a Kubernetes preStop hook
//       or a node-termination handler, before the node itself is drained.
//
// Both authenticate like the CLI: --key_file, else $ARBITER_KEY_FILE, else
// $ARBITER_KEY; TLS with --tls_ca / --tls_cert / --tls_key (defaults from
// $ARBITER_TLS_CA / _CERT / _KEY).

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
#include "common/auth/api_key.h"
#include "common/auth/client.h"
#include "common/base/env.h"
#include "common/server/grpc_status.h"
#include "services/fleet/termination_policy.h"

using arbiter::EnvOr;

ABSL_FLAG(std::string, inventory, "",
          "termination-policy: JSON file {\"hosts\": [{\"instance_id\": ID, \"writer\": "
          "HOST:PORT}]} naming every host's writer admin address");
ABSL_FLAG(absl::Duration, budget, absl::Milliseconds(1500),
          "termination-policy: the answer is printed within this long (Auto Scaling allows "
          "about 2 s); writers that do not answer in time count as unreachable");
ABSL_FLAG(int64_t, min_serving_hosts, 1,
          "termination-policy: never start draining a LIVE host while this many or fewer "
          "hosts of the inventory are LIVE and ACTIVE");
ABSL_FLAG(std::string, writer, EnvOr("ARBITER_WRITER_ADDRESS", "127.0.0.1:50052"),
          "drain-node: the host's arbiter-writer admin HOST:PORT (default from "
          "$ARBITER_WRITER_ADDRESS)");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(10),
          "drain-node: how long to wait for DRAINED (0: start the drain and return)");
ABSL_FLAG(std::string, key_file, EnvOr("ARBITER_KEY_FILE", ""),
          "file holding the API key (default $ARBITER_KEY_FILE; else $ARBITER_KEY)");
ABSL_FLAG(std::string, tls_ca, EnvOr("ARBITER_TLS_CA", ""),
          "PEM CA of the writers' certificates (empty: plaintext)");
ABSL_FLAG(std::string, tls_cert, EnvOr("ARBITER_TLS_CERT", ""), "PEM client certificate");
ABSL_FLAG(std::string, tls_key, EnvOr("ARBITER_TLS_KEY", ""), "PEM key of --tls_cert");

namespace arbiter::fleet {
namespace {

constexpr size_t kMaxInputBytes = size_t{1} << 20;

struct Client {
  std::string key;
  auth::ClientTls tls;

  std::unique_ptr<v1::WriterAdminService::Stub> Writer(const std::string& address) const {
    return v1::WriterAdminService::NewStub(
        auth::CreateKeyedChannel(address, key, auth::ChannelCredentials(tls)));
  }
};

absl::StatusOr<Client> ClientFromFlags() {
  Client c;
  c.tls = {.ca = absl::GetFlag(FLAGS_tls_ca),
           .cert = absl::GetFlag(FLAGS_tls_cert),
           .key = absl::GetFlag(FLAGS_tls_key)};
  if (const std::string file = absl::GetFlag(FLAGS_key_file); !file.empty()) {
    absl::StatusOr<std::string> key = auth::ReadKeyFile(file);
    if (!key.ok()) {
      return absl::Status(key.status().code(),
                          absl::StrCat("--key_file: ", key.status().message()));
    }
    c.key = *key;
  } else {
    c.key = EnvOr("ARBITER_KEY", "");
  }
  return c;
}

absl::StatusOr<std::string> ReadAll(std::istream& in, const std::string& what) {
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxInputBytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": over the limit of ", kMaxInputBytes, " bytes"));
    }
  }
  return text;
}

// Every inventory host's status, polled in parallel (at most kPollThreads
// at a time) until `deadline`.
constexpr size_t kPollThreads = 64;

std::vector<HostReport> Poll(const Client& client, const Inventory& inventory,
                             absl::Time deadline) {
  std::vector<std::pair<std::string, std::string>> hosts(inventory.begin(), inventory.end());
  std::vector<HostReport> reports(hosts.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < hosts.size(); i = next.fetch_add(1)) {
      const auto& [id, address] = hosts[i];
      HostReport& r = reports[i];
      r.instance_id = id;
      v1::GetStatusResponse status;
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(deadline));
      grpc::Status s = client.Writer(address)->GetStatus(&ctx, v1::GetStatusRequest(), &status);
      if (s.ok()) {
        r.status = std::move(status);
      } else {
        r.error = absl::StrCat(address, ": ", server::FromGrpcStatus(s).ToString());
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(kPollThreads, hosts.size()); ++t) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
  return reports;
}

int TerminationPolicy() {
  const absl::Time start = absl::Now();
  const absl::Duration budget = absl::GetFlag(FLAGS_budget);
  auto fail = [](const absl::Status& s) {
    std::cerr << "arbiter-fleet termination-policy: " << s.message()
              << ": answering no instance (fail closed)\n";
    std::cout << FormatAnswer({}) << std::endl;
    return 1;
  };
  if (budget <= absl::ZeroDuration() || budget > absl::Seconds(60)) {
    return fail(absl::InvalidArgumentError("--budget: must be in (0, 60s]"));
  }
  absl::StatusOr<Client> client = ClientFromFlags();
  if (!client.ok()) return fail(client.status());
  const std::string inventory_path = absl::GetFlag(FLAGS_inventory);
  if (inventory_path.empty()) return fail(absl::InvalidArgumentError("--inventory: required"));
  std::ifstream inventory_file(inventory_path);
  if (!inventory_file) {
    return fail(absl::NotFoundError(absl::StrCat("--inventory: cannot open ", inventory_path)));
  }
  absl::StatusOr<std::string> inventory_text = ReadAll(inventory_file, "--inventory");
  if (!inventory_text.ok()) return fail(inventory_text.status());
  absl::StatusOr<Inventory> inventory = ParseInventory(*inventory_text);
  if (!inventory.ok()) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("--inventory ", inventory_path, ": ", inventory.status().message())));
  }
  absl::StatusOr<std::string> event_text = ReadAll(std::cin, "the event on stdin");
  if (!event_text.ok()) return fail(event_text.status());
  absl::StatusOr<TerminationEvent> event = ParseTerminationEvent(*event_text);
  if (!event.ok()) return fail(event.status());

  // Two thirds of the budget to learn the hosts' states, the rest to ask
  // the chosen ones to drain (Drain returns at once) and answer.
  std::vector<HostReport> hosts = Poll(*client, *inventory, start + budget * 2 / 3);
  TerminationDecision d = Decide(
      *event, hosts, PolicyOptions{.min_serving_hosts = absl::GetFlag(FLAGS_min_serving_hosts)});
  std::vector<std::thread> drains;
  for (const std::string& id : d.drain) {
    drains.emplace_back([&client, address = inventory->at(id), id, deadline = start + budget] {
      v1::DrainResponse r;
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(deadline));
      grpc::Status s = client->Writer(address)->Drain(&ctx, v1::DrainRequest(), &r);
      if (!s.ok()) {
        std::cerr << "arbiter-fleet termination-policy: " << id << ": drain at " << address
                  << " failed: " << server::FromGrpcStatus(s) << "\n";
      }
    });
  }
  for (std::thread& t : drains) t.join();
  std::cerr << "arbiter-fleet termination-policy: cause " << event->cause << ", capacity "
            << event->capacity << ", " << event->candidates.size() << " candidates\n";
  for (const std::string& note : d.notes) std::cerr << "  " << note << "\n";
  std::cout << FormatAnswer(d.terminate) << std::endl;
  return 0;
}

int DrainNode() {
  absl::StatusOr<Client> client = ClientFromFlags();
  if (!client.ok()) {
    std::cerr << "arbiter-fleet drain-node: " << client.status().message() << "\n";
    return 2;
  }
  const std::string address = absl::GetFlag(FLAGS_writer);
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  auto stub = client->Writer(address);
  const absl::Time until = absl::Now() + timeout;
  {
    v1::DrainResponse r;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::Status s = stub->Drain(&ctx, v1::DrainRequest(), &r);
    if (!s.ok()) {
      std::cerr << "arbiter-fleet drain-node: Drain at " << address << ": "
                << server::FromGrpcStatus(s) << "\n";
      return 2;
    }
    std::cerr << "arbiter-fleet drain-node: " << address << " is "
              << v1::DrainState_Name(r.drain_state()) << "\n";
    if (r.drain_state() == v1::DRAIN_STATE_DRAINED) return 0;
  }
  if (timeout <= absl::ZeroDuration()) return 0;
  absl::Time next_line = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(250));
    v1::GetStatusResponse status;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::Status s = stub->GetStatus(&ctx, v1::GetStatusRequest(), &status);
    if (s.ok() && status.drain_state() == v1::DRAIN_STATE_DRAINED) {
      std::cerr << "arbiter-fleet drain-node: " << address << " is DRAINED\n";
      return 0;
    }
    if (absl::Now() >= next_line) {
      next_line = absl::Now() + absl::Seconds(5);
      int drained = 0;
      for (const auto& r : status.readers()) drained += r.drain_state() == v1::DRAIN_STATE_DRAINED;
      std::cerr << "arbiter-fleet drain-node: waiting: "
                << (s.ok() ? absl::StrCat(drained, " of ", status.readers_size(),
                                          " readers drained")
                           : server::FromGrpcStatus(s).ToString())
                << "\n";
    }
  }
  std::cerr << "arbiter-fleet drain-node: " << address << " not DRAINED after "
            << absl::FormatDuration(timeout) << "\n";
  return 1;
}

}  // namespace
}  // namespace arbiter::fleet

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "arbiter-fleet termination-policy --inventory=FILE < event.json\n"
      "arbiter-fleet drain-node [--writer=HOST:PORT] [--timeout=10m]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() == 2 ? args[1] : "";
  if (command == "termination-policy") return arbiter::fleet::TerminationPolicy();
  if (command == "drain-node") return arbiter::fleet::DrainNode();
  std::cerr << "arbiter-fleet: expected one command, termination-policy or drain-node\n"
            << absl::ProgramUsageMessage() << "\n";
  return 2;
}
