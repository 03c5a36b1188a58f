// tell, delete, batch: writes through arbiter-log.

#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "services/cli/commands.h"
#include "services/cli/progress_bar.h"
#include "services/cli/values.h"

namespace arbiter::cli {
namespace {

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
        (bytes + size > api::kMaxRequestBytes / 2 && requests.back().operations_size() > 0)) {
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

}  // namespace arbiter::cli
