// tell, delete, batch: writes through arbiter-log.

#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/api/api.h"
#include "services/cli/commands.h"
#include "services/cli/progress_bar.h"
#include "services/cli/values.h"

namespace arbiter::cli {
namespace {

// A request of batch or import is cut before this many bytes of operations:
// under the log's limits with either store (etcd takes about 1.5 MiB).
constexpr size_t kMaxWriteBytes = 1 << 20;

std::vector<std::string> Rest(const Context& ctx) {
  const auto& p = ctx.args().positional();
  return std::vector<std::string>(p.begin() + 1, p.end());
}

// Sends one Write and prints its result.
int SendWrite(Context& ctx, v1::WriteRequest& request, absl::string_view what,
              v1::WriteResponse* response) {
  request.set_tenant(ctx.tenant());
  auto call = ctx.NewCall();
  grpc::Status s = ctx.log().Write(call.get(), request, response);
  if (!s.ok()) return ctx.RpcError(s, "arbiter-log");
  return ctx.PrintWrite(*response, response->offset(), response->consistency_token(), what);
}

}  // namespace

int RunTell(Context& ctx) {
  auto fact = ParseFact(ctx.args().positional()[0], Rest(ctx));
  if (!fact.ok()) return ctx.UsageError(fact.status().message());
  v1::WriteRequest request;
  *request.add_operations()->mutable_insert() = *fact;
  request.set_request_id(ctx.args().Get("request_id"));
  v1::WriteResponse response;
  return SendWrite(ctx, request, absl::StrCat("stored ", FormatFact(*fact)), &response);
}

int RunDelete(Context& ctx) {
  auto pattern = ParsePattern(ctx.args().positional()[0], Rest(ctx));
  if (!pattern.ok()) return ctx.UsageError(pattern.status().message());
  v1::WriteRequest request;
  *request.add_operations()->mutable_delete_pattern() = *pattern;
  request.set_request_id(ctx.args().Get("request_id"));
  v1::WriteResponse response;
  return SendWrite(ctx, request, absl::StrCat("deleted every fact matching ", FormatPattern(*pattern)),
                   &response);
}

int RunBatch(Context& ctx) {
  const std::string& path = ctx.args().positional()[0];
  auto text = ReadInput(path);
  if (!text.ok()) return ctx.Error(text.status().message());
  auto ops = ParseBatch(*text, path == "-" ? "<stdin>" : path);
  if (!ops.ok()) return ctx.Error(ops.status().message());

  // Split into requests within the Write limits; each one is atomic.
  std::vector<v1::WriteRequest> requests(1);
  size_t bytes = 0;
  for (auto& op : *ops) {
    size_t size = op.ByteSizeLong() + 8;
    if (requests.back().operations_size() >= api::kMaxOperationsPerWrite ||
        (bytes + size > kMaxWriteBytes && requests.back().operations_size() > 0)) {
      requests.emplace_back();
      bytes = 0;
    }
    bytes += size;
    *requests.back().add_operations() = std::move(op);
  }
  std::string request_id = ctx.args().Get("request_id");
  if (requests.size() > 1) {
    ctx.err() << "arbiter: " << ops->size() << " operations: sending " << requests.size()
              << " writes of at most " << api::kMaxOperationsPerWrite
              << " (each atomic, not the whole file)\n";
  }
  v1::WriteResponse response;
  ProgressBar progress(ctx.err(), ctx.terminal().err, "ops", static_cast<int64_t>(ops->size()));
  int64_t sent = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!request_id.empty()) {
      requests[i].set_request_id(requests.size() == 1 ? request_id
                                                      : absl::StrCat(request_id, "/", i + 1));
    }
    requests[i].set_tenant(ctx.tenant());
    auto call = ctx.NewCall();
    grpc::Status s = ctx.log().Write(call.get(), requests[i], &response);
    if (!s.ok()) {
      progress.Finish();
      const int code = ctx.RpcError(s, "arbiter-log");
      if (i > 0) {
        ctx.err() << "arbiter: writes 1.." << i << " of " << requests.size()
                  << " were applied (through offset " << response.offset() << ")\n";
      }
      return code;
    }
    sent += requests[i].operations_size();
    progress.Update(sent);
  }
  progress.Finish();
  return ctx.PrintWrite(response, response.offset(), response.consistency_token(),
                        absl::StrCat("applied ", ops->size(), " operation",
                                     ops->size() == 1 ? "" : "s"));
}

int RunImport(Context& ctx) {
  const std::string& path = ctx.args().positional()[0];
  const std::string shown = path == "-" ? "<stdin>" : path;
  int64_t batch_size = api::kMaxOperationsPerWrite;
  if (ctx.args().Has("batch_size") &&
      (!absl::SimpleAtoi(ctx.args().Get("batch_size"), &batch_size) || batch_size < 1 ||
       batch_size > api::kMaxOperationsPerWrite)) {
    return ctx.UsageError(absl::StrCat("--batch_size: \"", ctx.args().Get("batch_size"),
                                       "\" is not a number in 1..",
                                       api::kMaxOperationsPerWrite));
  }
  std::string request_id = ctx.args().Get("request_id");
  if (request_id.empty()) {
    request_id = absl::StrCat(
        "import-", absl::FormatTime("%Y%m%dT%H%M%E3SZ", absl::Now(), absl::UTCTimeZone()));
  }
  // The batch size and number are appended ("/b<size>/<n>"): the id must
  // leave room for them. (With the size in the id, a resume with another
  // --batch_size sends the file again rather than skip lines wrongly.)
  if (request_id.size() + 20 > api::kMaxRequestIdBytes) {
    return ctx.UsageError(absl::StrCat("--request_id: at most ",
                                       api::kMaxRequestIdBytes - 20, " bytes for import"));
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  int64_t total = 0;
  if (path != "-") {
    // On a terminal the lines are counted first, for the bar's total (the
    // file is read twice); elsewhere progress lines need no total.
    if (ctx.terminal().err) {
      std::ifstream count(path);
      std::string line;
      while (std::getline(count, line)) {
        absl::string_view l = absl::StripAsciiWhitespace(line);
        if (!l.empty() && l[0] != '#') ++total;
      }
    }
    file.open(path);
    if (!file) return ctx.Error(absl::StrCat(path, ": cannot open"));
    in = &file;
  }
  if (!ctx.json()) {
    ctx.err() << "arbiter: importing " << shown << " in atomic writes of at most " << batch_size
              << " operations, request ids " << request_id << "/b" << batch_size
              << "/1, /2, ...\n";
  }
  ProgressBar progress(ctx.err(), ctx.terminal().err, "ops", total);
  v1::WriteRequest request;
  v1::WriteResponse response;
  int64_t batches = 0, ops = 0, line_number = 0;
  size_t bytes = 0;
  auto send = [&]() -> int {
    if (request.operations_size() == 0) return kExitOk;
    request.set_tenant(ctx.tenant());
    request.set_request_id(absl::StrCat(request_id, "/b", batch_size, "/", batches + 1));
    auto call = ctx.NewCall();
    grpc::Status s = ctx.log().Write(call.get(), request, &response);
    if (!s.ok()) {
      progress.Finish();
      const int code = ctx.RpcError(s, "arbiter-log");
      ctx.err() << "arbiter: " << batches << " writes (" << ops << " operations, up to line "
                << line_number << ") were applied; resume with: arbiter import " << path
                << " --request_id=" << request_id << " --batch_size=" << batch_size
                << " (applied writes are recognised by their ids, not applied twice)\n";
      return code;
    }
    ++batches;
    ops += request.operations_size();
    progress.Update(ops);
    request.Clear();
    bytes = 0;
    return kExitOk;
  };
  std::string line;
  while (std::getline(*in, line)) {
    ++line_number;
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    auto op = ParseBatchLine(l);
    if (!op.ok()) {
      progress.Finish();
      if (batches > 0) {
        ctx.err() << "arbiter: " << batches << " writes (" << ops
                  << " operations) were applied before this line\n";
      }
      const int code =
          ctx.Error(absl::StrCat(shown, ":", line_number, ": ", op.status().message()));
      if (batches > 0 && path != "-") {
        ctx.err() << "arbiter: fix the line, then resume with: arbiter import " << path
                  << " --request_id=" << request_id << " --batch_size=" << batch_size << "\n";
      }
      return code;
    }
    const size_t size = op->ByteSizeLong() + 8;
    if (bytes + size > kMaxWriteBytes && request.operations_size() > 0) {
      if (int code = send(); code != kExitOk) return code;
    }
    bytes += size;
    *request.add_operations() = *std::move(op);
    if (request.operations_size() >= batch_size) {
      if (int code = send(); code != kExitOk) return code;
    }
  }
  if (int code = send(); code != kExitOk) return code;
  progress.Finish();
  if (batches == 0) return ctx.Error(absl::StrCat(shown, ": no operations"));
  return ctx.PrintWrite(response, response.offset(), response.consistency_token(),
                        absl::StrCat("imported ", ops, " operation", ops == 1 ? "" : "s", " in ",
                                     batches, " write", batches == 1 ? "" : "s"));
}

}  // namespace arbiter::cli
