// authorize, list, actions, query, facts, explain: reads from arbiter-reader.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_split.h"
#include "services/cli/commands.h"
#include "services/cli/progress_bar.h"
#include "services/cli/values.h"

namespace arbiter::cli {
namespace {

constexpr char kReader[] = "arbiter-reader";

// The flags every read shares: consistency, context facts, page size.
struct ReadOptions {
  std::optional<v1::Consistency> consistency;
  std::vector<v1::Fact> context;
  uint32_t page_size = 0;
};

absl::StatusOr<ReadOptions> ParseReadOptions(const Context& ctx) {
  ReadOptions r;
  auto consistency = ctx.Consistency();
  if (!consistency.ok()) return consistency.status();
  r.consistency = *consistency;
  for (const std::string& words : ctx.args().GetAll("context")) {
    auto fact = ParseFactWords(words);
    if (!fact.ok()) return absl::InvalidArgumentError(
        absl::StrCat("--context: ", fact.status().message()));
    r.context.push_back(*std::move(fact));
  }
  if (ctx.args().Has("page_size")) {
    std::string s = ctx.args().Get("page_size");
    if (!absl::SimpleAtoi(s, &r.page_size) || r.page_size < 1 || r.page_size > 10000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--page_size: \"", s, "\" is not a number in 1..10000"));
    }
  }
  return r;
}

template <typename Request>
void ApplyCommon(const Context& ctx, const ReadOptions& o, Request* r) {
  r->set_tenant(ctx.tenant());
  if (o.consistency) *r->mutable_consistency() = *o.consistency;
  for (const auto& f : o.context) *r->add_context_facts() = f;
}

// Positional word i as a value, named for errors.
absl::StatusOr<v1::Value> ValueArg(const Context& ctx, int i, absl::string_view name) {
  return ParseValue(ctx.args().positional()[i], name);
}

std::vector<std::string> Rest(const Context& ctx) {
  const auto& p = ctx.args().positional();
  return std::vector<std::string>(p.begin() + 1, p.end());
}

// Calls `rpc` for every page, appending each page's results with `merge`
// (the first response is kept as the result: its evaluation is the one
// reported). Returns the exit code.
template <typename Request, typename Response, typename Rpc, typename Merge>
int FetchAllPages(Context& ctx, Request request, Response* result, Rpc rpc, Merge merge) {
  bool first = true;
  while (true) {
    Response page;
    auto call = ctx.NewCall();
    grpc::Status s = rpc(call.get(), request, &page);
    if (!s.ok()) return ctx.RpcError(s, kReader);
    std::string next = page.next_page_token();
    if (first) {
      *result = page;
      first = false;
    } else {
      merge(page, result);
    }
    if (next.empty()) break;
    request.set_page_token(next);
  }
  result->clear_next_page_token();
  return kExitOk;
}

}  // namespace

int RunAuthorize(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  auto actor = ValueArg(ctx, 0, "actor");
  if (!actor.ok()) return ctx.UsageError(actor.status().message());
  auto resource = ValueArg(ctx, 2, "resource");
  if (!resource.ok()) return ctx.UsageError(resource.status().message());
  v1::AuthorizeRequest request;
  ApplyCommon(ctx, *options, &request);
  *request.mutable_actor() = *actor;
  request.set_action(ctx.args().positional()[1]);
  *request.mutable_resource() = *resource;

  v1::AuthorizeResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.reader().Authorize(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kReader);
  if (ctx.json()) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << (response.allowed() ? "allowed" : "denied") << "\n";
  }
  return response.allowed() ? kExitOk : kExitFalse;
}

int RunAuthorizeResources(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  auto actor = ValueArg(ctx, 0, "actor");
  if (!actor.ok()) return ctx.UsageError(actor.status().message());
  // The resources: the words after ACTION, then --file's lines (blank
  // lines and # comments skipped).
  std::vector<v1::Value> resources;
  const auto& words = ctx.args().positional();
  for (size_t i = 2; i < words.size(); ++i) {
    auto v = ParseValue(words[i], absl::StrCat("resource ", i - 1));
    if (!v.ok()) return ctx.UsageError(v.status().message());
    resources.push_back(*v);
  }
  if (ctx.args().Has("file")) {
    const std::string path = ctx.args().Get("file");
    auto text = ReadInput(path);
    if (!text.ok()) return ctx.Error(text.status().message());
    int line_number = 0;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      ++line_number;
      line = absl::StripAsciiWhitespace(line);
      if (line.empty() || line[0] == '#') continue;
      auto v = ParseValue(line, absl::StrCat(path == "-" ? "<stdin>" : path, ":", line_number));
      if (!v.ok()) return ctx.Error(v.status().message());
      resources.push_back(*v);
    }
  }
  if (resources.empty()) return ctx.UsageError("no resources: give them as words or with --file");

  // At most kMaxResources per request (the reader's limit), in order.
  constexpr size_t kPerRequest = 1000;
  v1::AuthorizeResourcesResponse all;
  size_t denied = 0;
  for (size_t begin = 0; begin < resources.size(); begin += kPerRequest) {
    v1::AuthorizeResourcesRequest request;
    ApplyCommon(ctx, *options, &request);
    *request.mutable_actor() = *actor;
    request.set_action(words[1]);
    const size_t end = std::min(resources.size(), begin + kPerRequest);
    for (size_t i = begin; i < end; ++i) *request.add_resources() = resources[i];
    v1::AuthorizeResourcesResponse response;
    auto call = ctx.NewCall();
    grpc::Status s = ctx.reader().AuthorizeResources(call.get(), request, &response);
    if (!s.ok()) return ctx.RpcError(s, kReader);
    // The allowed ones come back in request order: walk both.
    int next = 0;
    for (size_t i = begin; i < end; ++i) {
      const bool allowed = next < response.allowed_size() &&
                           response.allowed(next).type() == resources[i].type() &&
                           response.allowed(next).id() == resources[i].id();
      if (allowed) ++next;
      denied += !allowed;
      if (!ctx.json()) {
        ctx.out() << (allowed ? "allowed " : "denied  ") << FormatValue(resources[i]) << "\n";
      }
    }
    all.mutable_allowed()->MergeFrom(response.allowed());
    *all.mutable_evaluation() = response.evaluation();  // the last request's
  }
  if (ctx.json()) ctx.PrintJson(all);
  return denied == 0 ? kExitOk : kExitFalse;
}

int RunList(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  auto actor = ValueArg(ctx, 0, "actor");
  if (!actor.ok()) return ctx.UsageError(actor.status().message());
  v1::ListRequest request;
  ApplyCommon(ctx, *options, &request);
  *request.mutable_actor() = *actor;
  request.set_action(ctx.args().positional()[1]);
  request.set_resource_type(ctx.args().positional()[2]);
  request.set_page_size(options->page_size);

  v1::ListResponse result;
  int code = FetchAllPages(
      ctx, request, &result,
      [&](grpc::ClientContext* c, const v1::ListRequest& r, v1::ListResponse* p) {
        return ctx.reader().List(c, r, p);
      },
      [](const v1::ListResponse& page, v1::ListResponse* all) {
        all->mutable_resource_ids()->MergeFrom(page.resource_ids());
      });
  if (code != kExitOk) return code;
  if (ctx.json()) {
    ctx.PrintJson(result);
  } else {
    for (const auto& id : result.resource_ids()) ctx.out() << id << "\n";
    if (result.all_of_type()) {
      ctx.err() << "arbiter: every " << request.resource_type()
                << " is allowed (a rule holds for any id); listed: the ids facts mention\n";
    }
  }
  return kExitOk;
}

int RunActions(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  auto actor = ValueArg(ctx, 0, "actor");
  if (!actor.ok()) return ctx.UsageError(actor.status().message());
  auto resource = ValueArg(ctx, 1, "resource");
  if (!resource.ok()) return ctx.UsageError(resource.status().message());
  v1::ActionsRequest request;
  ApplyCommon(ctx, *options, &request);
  *request.mutable_actor() = *actor;
  *request.mutable_resource() = *resource;

  v1::ActionsResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.reader().Actions(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kReader);
  if (ctx.json()) {
    ctx.PrintJson(response);
  } else {
    for (const auto& a : response.actions()) ctx.out() << a << "\n";
    if (response.any_action()) {
      ctx.err() << "arbiter: every action is allowed (a rule holds for any action); listed: "
                   "the ones the policy names\n";
    }
  }
  return kExitOk;
}

int RunQuery(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  auto query = ParseQuery(ctx.args().positional()[0], Rest(ctx));
  if (!query.ok()) return ctx.UsageError(query.status().message());
  v1::QueryRequest request = query->request;
  ApplyCommon(ctx, *options, &request);
  request.set_page_size(options->page_size);

  v1::QueryResponse result;
  int code = FetchAllPages(
      ctx, request, &result,
      [&](grpc::ClientContext* c, const v1::QueryRequest& r, v1::QueryResponse* p) {
        return ctx.reader().Query(c, r, p);
      },
      [](const v1::QueryResponse& page, v1::QueryResponse* all) {
        all->mutable_results()->MergeFrom(page.results());
      });
  if (code != kExitOk) return code;
  // Typed wildcards (Type:_) are filtered here: the API's variables are untyped.
  auto* results = result.mutable_results();
  results->erase(std::remove_if(results->begin(), results->end(),
                                [&](const v1::Fact& f) { return !PassesTypeFilter(*query, f); }),
                 results->end());
  if (ctx.json()) {
    ctx.PrintJson(result);
  } else {
    for (const auto& f : result.results()) ctx.out() << FormatFact(f) << "\n";
  }
  return kExitOk;
}

int RunFacts(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  auto pattern = ParsePattern(ctx.args().positional()[0], Rest(ctx));
  if (!pattern.ok()) return ctx.UsageError(pattern.status().message());
  v1::GetFactsRequest request;
  request.set_tenant(ctx.tenant());
  if (options->consistency) *request.mutable_consistency() = *options->consistency;
  *request.mutable_pattern() = *pattern;
  request.set_page_size(options->page_size);

  v1::GetFactsResponse result;
  ProgressBar progress(ctx.err(), ctx.terminal().err, "facts", /*total=*/0);
  int code = FetchAllPages(
      ctx, request, &result,
      [&](grpc::ClientContext* c, const v1::GetFactsRequest& r, v1::GetFactsResponse* p) {
        return ctx.reader().GetFacts(c, r, p);
      },
      [&](const v1::GetFactsResponse& page, v1::GetFactsResponse* all) {
        all->mutable_facts()->MergeFrom(page.facts());
        progress.Update(all->facts_size());
      });
  progress.Finish();
  if (code != kExitOk) return code;
  if (ctx.json()) {
    ctx.PrintJson(result);
  } else {
    for (const auto& f : result.facts()) ctx.out() << FormatFact(f) << "\n";
  }
  return kExitOk;
}

int RunWatch(Context& ctx) {
  v1::WatchRequest request;
  request.set_tenant(ctx.tenant());
  request.set_after_token(ctx.args().Get("after"));
  const auto& words = ctx.args().positional();
  if (!words.empty()) {
    auto pattern = ParsePattern(words[0], Rest(ctx));
    if (!pattern.ok()) return ctx.UsageError(pattern.status().message());
    *request.add_filters() = *pattern;
  }
  for (const std::string& text : ctx.args().GetAll("filter")) {
    std::vector<std::string> w = absl::StrSplit(text, ' ', absl::SkipWhitespace());
    if (w.empty()) return ctx.UsageError("--filter: empty pattern");
    auto pattern = ParsePattern(w[0], std::vector<std::string>(w.begin() + 1, w.end()));
    if (!pattern.ok()) {
      return ctx.UsageError(absl::StrCat("--filter: ", pattern.status().message()));
    }
    *request.add_filters() = *pattern;
  }
  int64_t count = -1;  // forever
  if (ctx.args().Has("count") &&
      (!absl::SimpleAtoi(ctx.args().Get("count"), &count) || count < 1)) {
    return ctx.UsageError(
        absl::StrCat("--count: \"", ctx.args().Get("count"), "\" is not a number >= 1"));
  }
  absl::Duration heartbeat = absl::ZeroDuration();
  if (ctx.args().Has("heartbeat") &&
      (!absl::ParseDuration(ctx.args().Get("heartbeat"), &heartbeat) ||
       heartbeat < absl::Milliseconds(100) || heartbeat > absl::Minutes(10))) {
    return ctx.UsageError(absl::StrCat("--heartbeat: \"", ctx.args().Get("heartbeat"),
                                       "\" is not a duration in 100ms..10m"));
  }
  request.set_heartbeat_interval_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(heartbeat)));
  absl::Duration duration = absl::InfiniteDuration();
  if (ctx.args().Has("for") &&
      (!absl::ParseDuration(ctx.args().Get("for"), &duration) ||
       duration <= absl::ZeroDuration())) {
    return ctx.UsageError(
        absl::StrCat("--for: \"", ctx.args().Get("for"), "\" is not a positive duration"));
  }
  const bool heartbeats = ctx.args().GetBool("heartbeats");

  // A stream has no --timeout: it runs until --count, --for or an error.
  grpc::ClientContext call;
  if (duration != absl::InfiniteDuration()) {
    call.set_deadline(absl::ToChronoTime(absl::Now() + duration));
  }
  auto stream = ctx.reader().Watch(&call, request);
  v1::WatchResponse msg;
  std::string token = request.after_token();
  int64_t seen = 0;
  bool done = false;
  while (!done && stream->Read(&msg)) {
    if (ctx.json()) {
      if (heartbeats || msg.changes_size() > 0) ctx.PrintJson(msg);
      seen += msg.changes_size();
      token = msg.token();
    } else {
      int printed = 0;
      for (const v1::FactChange& c : msg.changes()) {
        ctx.out() << (c.operation() == v1::FactChange::OPERATION_INSERT ? "insert " : "delete ")
                  << c.offset() << " " << FormatFact(c.fact()) << "\n";
        ++printed;
        if (count >= 0 && ++seen >= count) break;
      }
      // Stopped inside a message: its token would skip the changes not
      // printed; the previous one repeats the printed ones instead.
      if (printed == msg.changes_size()) token = msg.token();
      if (heartbeats && msg.changes_size() == 0) {
        ctx.out() << "heartbeat " << msg.offset() << " " << msg.token() << "\n";
      }
    }
    ctx.out() << std::flush;
    if (count >= 0 && seen >= count) done = true;
  }
  if (done) call.TryCancel();
  grpc::Status s = stream->Finish();
  if (!token.empty() && !ctx.json()) ctx.err() << "arbiter: resume with --after=" << token << "\n";
  if (done || (duration != absl::InfiniteDuration() &&
               s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    return kExitOk;
  }
  return ctx.RpcError(s, kReader);
}

int RunExport(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  const std::string path = ctx.args().positional().empty() ? "-" : ctx.args().positional()[0];
  std::ofstream file;
  std::ostream* out = &ctx.out();
  std::string tmp;
  if (path != "-") {
    // Written beside the target and renamed at the end: no half export
    // under the final name.
    tmp = path + ".tmp";
    file.open(tmp, std::ios::out | std::ios::trunc);
    if (!file) return ctx.Error(absl::StrCat(tmp, ": cannot create"));
    out = &file;
  }
  v1::GetFactsRequest request;
  request.set_tenant(ctx.tenant());
  if (options->consistency) *request.mutable_consistency() = *options->consistency;
  request.mutable_pattern();  // empty: every fact
  // Each page scans its relation from the start (read_requests.cc): big
  // pages by default.
  request.set_page_size(ctx.args().Has("page_size") ? options->page_size : 10000);
  ProgressBar progress(ctx.err(), ctx.terminal().err, "facts", /*total=*/0);
  int64_t n = 0;
  uint64_t first_offset = 0, last_offset = 0;
  v1::WriteOperation op;
  while (true) {
    v1::GetFactsResponse page;
    auto call = ctx.NewCall();
    grpc::Status s = ctx.reader().GetFacts(call.get(), request, &page);
    if (!s.ok()) {
      progress.Finish();
      if (!tmp.empty()) std::remove(tmp.c_str());
      return ctx.RpcError(s, kReader);
    }
    if (n == 0) first_offset = page.evaluation().offset();
    last_offset = page.evaluation().offset();
    for (v1::Fact& f : *page.mutable_facts()) {
      *op.mutable_insert() = std::move(f);
      *out << ToJson(op) << "\n";
      ++n;
    }
    progress.Update(n);
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  progress.Finish();
  out->flush();
  if (!tmp.empty()) {
    file.close();
    if (!file || std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      return ctx.Error(absl::StrCat(path, ": cannot write"));
    }
  }
  ctx.err() << "arbiter: exported " << n << " fact" << (n == 1 ? "" : "s") << " of tenant "
            << ctx.tenant() << " at offset " << first_offset;
  if (last_offset != first_offset) {
    // Pages are read at offsets at least as new as the first one's.
    ctx.err() << ".." << last_offset
              << " (the tenant changed during the export: pages were read at different "
                 "offsets; pause writes for an exact copy, or follow the changes with "
                 "arbiter watch --after)";
  }
  ctx.err() << "\n";
  return kExitOk;
}

int RunExplain(Context& ctx) {
  auto options = ParseReadOptions(ctx);
  if (!options.ok()) return ctx.UsageError(options.status().message());
  auto actor = ValueArg(ctx, 0, "actor");
  if (!actor.ok()) return ctx.UsageError(actor.status().message());
  auto resource = ValueArg(ctx, 2, "resource");
  if (!resource.ok()) return ctx.UsageError(resource.status().message());
  v1::ExplainRequest request;
  ApplyCommon(ctx, *options, &request);
  *request.mutable_actor() = *actor;
  request.set_action(ctx.args().positional()[1]);
  *request.mutable_resource() = *resource;

  v1::ExplainResponse response;
  auto call = ctx.NewCall();
  grpc::Status s = ctx.reader().Explain(call.get(), request, &response);
  if (!s.ok()) return ctx.RpcError(s, kReader);
  if (ctx.json()) {
    ctx.PrintJson(response);
  } else {
    // The text starts with ALLOW or DENY.
    ctx.out() << response.text();
    if (!response.text().empty() && response.text().back() != '\n') ctx.out() << "\n";
  }
  return kExitOk;
}

}  // namespace arbiter::cli
