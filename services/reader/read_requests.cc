#include "services/reader/read_requests.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/api/api.h"
#include "common/base/status_macros.h"

namespace arbiter::reader {
namespace {

// GetFacts' pattern for "every stored fact": no predicate, no arguments.
bool IsEveryFact(const v1::FactPattern& p) {
  return p.predicate().empty() && p.args_size() == 0;
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status ValidateRequiredValue(bool has, const v1::Value& v,
                                   absl::string_view field) {
  if (!has) return Invalid(field, "required");
  return api::ValidateValue(v, field);
}

absl::Status ValidateAction(const std::string& action) {
  if (action.empty()) return Invalid("action", "required");
  if (action.size() > kMaxActionBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("action: ", action.size(), " bytes is over the limit of ",
                     kMaxActionBytes));
  }
  if (!api::IsValidUtf8(action)) return Invalid("action", "not valid UTF-8");
  return absl::OkStatus();
}

absl::Status ValidateType(const std::string& type, absl::string_view field) {
  if (type.empty()) return Invalid(field, "required");
  if (type.size() > api::kMaxTypeBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        field, ": ", type.size(), " bytes is over the limit of ", api::kMaxTypeBytes));
  }
  if (!api::IsIdentifier(type)) {
    return Invalid(field, absl::StrCat("\"", type, "\" is not an identifier"));
  }
  return absl::OkStatus();
}

// Tenant, context facts and consistency: common to every request.
absl::StatusOr<RequestPlan> ValidateCommon(
    const std::string& tenant,
    const google::protobuf::RepeatedPtrField<v1::Fact>* context,
    bool has_consistency, const v1::Consistency& consistency) {
  RequestPlan plan;
  ARBITER_RETURN_IF_ERROR(api::ValidateTenantName(tenant));
  plan.tenant = tenant;
  if (context != nullptr) {
    if (context->size() > kMaxContextFacts) {
      return absl::ResourceExhaustedError(
          absl::StrCat("context_facts: ", context->size(),
                       " facts is over the limit of ", kMaxContextFacts));
    }
    plan.context.reserve(context->size());
    for (int i = 0; i < context->size(); ++i) {
      ARBITER_RETURN_IF_ERROR(api::ValidateFact(
          context->Get(i), absl::StrCat("context_facts[", i, "]")));
      plan.context.push_back(api::FromProto(context->Get(i)));
    }
  }
  if (has_consistency) {
    switch (consistency.requirement_case()) {
      case v1::Consistency::kAtLeast: {
        auto token = api::DecodeConsistencyToken(consistency.at_least());
        if (absl::IsFailedPrecondition(token.status())) {
          return absl::FailedPreconditionError(
              absl::StrCat("consistency.at_least: ", token.status().message()));
        }
        if (!token.ok()) {
          return Invalid("consistency.at_least", token.status().message());
        }
        plan.at_least = std::move(*token);
        break;
      }
      case v1::Consistency::kFullyConsistent:
        plan.fully_consistent = consistency.fully_consistent();
        break;
      case v1::Consistency::kMinimizeLatency:
      case v1::Consistency::REQUIREMENT_NOT_SET:
        break;
    }
  }
  return plan;
}

// Page size and token. `unpaged` is the request with paging and consistency
// cleared (for the query hash).
absl::Status ValidatePaging(uint32_t page_size, const std::string& page_token,
                            const google::protobuf::Message& unpaged,
                            RequestPlan& plan) {
  if (page_size > kMaxPageSize) {
    return Invalid("page_size", absl::StrCat(page_size, " is over the maximum of ",
                                             kMaxPageSize));
  }
  plan.page_size = page_size == 0 ? kDefaultPageSize : page_size;
  plan.query_hash = QueryHash(unpaged);
  if (!page_token.empty()) {
    ARBITER_ASSIGN_OR_RETURN(PageToken t,
                             DecodePageToken(page_token, plan.query_hash));
    plan.page = std::move(t);
  }
  return absl::OkStatus();
}

eval::QueryOptions Options(const RequestPlan& plan) {
  eval::QueryOptions q;
  q.context = plan.context;
  q.deadline = plan.deadline;
  q.cancelled = plan.cancelled;
  return q;
}

absl::Status NeedEngine(const TenantSnapshot& t) {
  if (t.engine == nullptr) {
    return t.policy_status.ok()
               ? absl::FailedPreconditionError(
                     absl::StrCat("tenant \"", t.tenant, "\" has no policy"))
               : t.policy_status;
  }
  return absl::OkStatus();
}

Value ActionValue(const std::string& action) {
  return Value{kStringType, action};
}

std::string NextToken(const ExecContext& c, std::string last) {
  return EncodePageToken(PageToken{c.plan.query_hash, c.offset, std::move(last)});
}

void ToExplainNode(const eval::ProofNode& p, v1::ExplainNode* out) {
  out->set_goal(p.goal);
  out->set_holds(p.holds);
  out->set_rule(p.rule_source);
  if (p.location.line > 0) {
    out->set_location(absl::StrCat(p.location.line, ":", p.location.column));
  }
  out->set_is_fact(p.kind == eval::ProofNode::Kind::kFact);
  for (const auto& child : p.children) ToExplainNode(child, out->add_children());
}

}  // namespace

// ---- validation ----

absl::StatusOr<RequestPlan> Validate(const v1::AuthorizeRequest& r) {
  ARBITER_ASSIGN_OR_RETURN(
      RequestPlan plan, ValidateCommon(r.tenant(), &r.context_facts(),
                                       r.has_consistency(), r.consistency()));
  ARBITER_RETURN_IF_ERROR(ValidateRequiredValue(r.has_actor(), r.actor(), "actor"));
  ARBITER_RETURN_IF_ERROR(ValidateAction(r.action()));
  ARBITER_RETURN_IF_ERROR(
      ValidateRequiredValue(r.has_resource(), r.resource(), "resource"));
  return plan;
}

absl::StatusOr<RequestPlan> Validate(const v1::AuthorizeResourcesRequest& r) {
  ARBITER_ASSIGN_OR_RETURN(
      RequestPlan plan, ValidateCommon(r.tenant(), &r.context_facts(),
                                       r.has_consistency(), r.consistency()));
  ARBITER_RETURN_IF_ERROR(ValidateRequiredValue(r.has_actor(), r.actor(), "actor"));
  ARBITER_RETURN_IF_ERROR(ValidateAction(r.action()));
  if (r.resources().empty()) return Invalid("resources", "at least one required");
  if (r.resources_size() > kMaxResources) {
    return absl::ResourceExhaustedError(
        absl::StrCat("resources: ", r.resources_size(),
                     " resources is over the limit of ", kMaxResources));
  }
  for (int i = 0; i < r.resources_size(); ++i) {
    ARBITER_RETURN_IF_ERROR(
        api::ValidateValue(r.resources(i), absl::StrCat("resources[", i, "]")));
  }
  return plan;
}

absl::StatusOr<RequestPlan> Validate(const v1::ListRequest& r) {
  ARBITER_ASSIGN_OR_RETURN(
      RequestPlan plan, ValidateCommon(r.tenant(), &r.context_facts(),
                                       r.has_consistency(), r.consistency()));
  ARBITER_RETURN_IF_ERROR(ValidateRequiredValue(r.has_actor(), r.actor(), "actor"));
  ARBITER_RETURN_IF_ERROR(ValidateAction(r.action()));
  ARBITER_RETURN_IF_ERROR(ValidateType(r.resource_type(), "resource_type"));
  v1::ListRequest unpaged = r;
  unpaged.clear_page_size();
  unpaged.clear_page_token();
  unpaged.clear_consistency();
  ARBITER_RETURN_IF_ERROR(ValidatePaging(r.page_size(), r.page_token(), unpaged, plan));
  return plan;
}

absl::StatusOr<RequestPlan> Validate(const v1::ActionsRequest& r) {
  ARBITER_ASSIGN_OR_RETURN(
      RequestPlan plan, ValidateCommon(r.tenant(), &r.context_facts(),
                                       r.has_consistency(), r.consistency()));
  ARBITER_RETURN_IF_ERROR(ValidateRequiredValue(r.has_actor(), r.actor(), "actor"));
  ARBITER_RETURN_IF_ERROR(
      ValidateRequiredValue(r.has_resource(), r.resource(), "resource"));
  return plan;
}

absl::StatusOr<RequestPlan> Validate(const v1::QueryRequest& r) {
  ARBITER_ASSIGN_OR_RETURN(
      RequestPlan plan, ValidateCommon(r.tenant(), &r.context_facts(),
                                       r.has_consistency(), r.consistency()));
  if (r.predicate().empty()) return Invalid("predicate", "required");
  if (!api::IsIdentifier(r.predicate()) ||
      r.predicate().size() > api::kMaxPredicateBytes) {
    return Invalid("predicate",
                   absl::StrCat("\"", r.predicate().substr(0, 130),
                                "\" is not an identifier of at most ",
                                api::kMaxPredicateBytes, " bytes"));
  }
  if (r.args_size() < 1 || r.args_size() > kMaxArity) {
    return Invalid("args", absl::StrCat(r.args_size(), " arguments; 1..",
                                        kMaxArity, " allowed"));
  }
  for (int i = 0; i < r.args_size(); ++i) {
    const v1::QueryArgument& a = r.args(i);
    const std::string field = absl::StrCat("args[", i, "]");
    switch (a.argument_case()) {
      case v1::QueryArgument::kValue:
        ARBITER_RETURN_IF_ERROR(api::ValidateValue(a.value(), absl::StrCat(field, ".value")));
        break;
      case v1::QueryArgument::kVariable:
        if (a.variable() != "_" && !api::IsIdentifier(a.variable())) {
          return Invalid(absl::StrCat(field, ".variable"),
                         absl::StrCat("\"", a.variable().substr(0, 130),
                                      "\" is not an identifier"));
        }
        break;
      case v1::QueryArgument::ARGUMENT_NOT_SET:
        return Invalid(field, "set value or variable");
    }
  }
  v1::QueryRequest unpaged = r;
  unpaged.clear_page_size();
  unpaged.clear_page_token();
  unpaged.clear_consistency();
  ARBITER_RETURN_IF_ERROR(ValidatePaging(r.page_size(), r.page_token(), unpaged, plan));
  return plan;
}

absl::StatusOr<RequestPlan> Validate(const v1::GetFactsRequest& r) {
  ARBITER_ASSIGN_OR_RETURN(
      RequestPlan plan,
      ValidateCommon(r.tenant(), nullptr, r.has_consistency(), r.consistency()));
  if (!r.has_pattern()) return Invalid("pattern", "required");
  if (!IsEveryFact(r.pattern())) {
    ARBITER_RETURN_IF_ERROR(api::ValidatePattern(r.pattern(), "pattern"));
  }
  v1::GetFactsRequest unpaged = r;
  unpaged.clear_page_size();
  unpaged.clear_page_token();
  unpaged.clear_consistency();
  ARBITER_RETURN_IF_ERROR(ValidatePaging(r.page_size(), r.page_token(), unpaged, plan));
  return plan;
}

absl::StatusOr<RequestPlan> Validate(const v1::ExplainRequest& r) {
  ARBITER_ASSIGN_OR_RETURN(
      RequestPlan plan, ValidateCommon(r.tenant(), &r.context_facts(),
                                       r.has_consistency(), r.consistency()));
  ARBITER_RETURN_IF_ERROR(ValidateRequiredValue(r.has_actor(), r.actor(), "actor"));
  ARBITER_RETURN_IF_ERROR(ValidateAction(r.action()));
  ARBITER_RETURN_IF_ERROR(
      ValidateRequiredValue(r.has_resource(), r.resource(), "resource"));
  return plan;
}

// ---- execution ----

absl::Status Execute(const ExecContext& c, const v1::AuthorizeRequest& r,
                     v1::AuthorizeResponse* out) {
  ARBITER_RETURN_IF_ERROR(NeedEngine(c.tenant));
  ARBITER_ASSIGN_OR_RETURN(
      bool allowed,
      c.tenant.engine->Authorize(*c.tenant.facts, api::FromProto(r.actor()),
                                 ActionValue(r.action()),
                                 api::FromProto(r.resource()), Options(c.plan)));
  out->set_allowed(allowed);
  return absl::OkStatus();
}

absl::Status Execute(const ExecContext& c, const v1::AuthorizeResourcesRequest& r,
                     v1::AuthorizeResourcesResponse* out) {
  ARBITER_RETURN_IF_ERROR(NeedEngine(c.tenant));
  std::vector<Value> resources;
  resources.reserve(r.resources_size());
  for (const auto& v : r.resources()) resources.push_back(api::FromProto(v));
  ARBITER_ASSIGN_OR_RETURN(
      std::vector<bool> allowed,
      c.tenant.engine->AuthorizeResources(*c.tenant.facts, api::FromProto(r.actor()),
                                          ActionValue(r.action()), resources,
                                          Options(c.plan)));
  for (size_t i = 0; i < allowed.size() && i < resources.size(); ++i) {
    if (allowed[i]) *out->add_allowed() = r.resources(static_cast<int>(i));
  }
  return absl::OkStatus();
}

absl::Status Execute(const ExecContext& c, const v1::ListRequest& r,
                     v1::ListResponse* out) {
  ARBITER_RETURN_IF_ERROR(NeedEngine(c.tenant));
  const std::string cursor = c.plan.page ? c.plan.page->last : std::string();
  ARBITER_ASSIGN_OR_RETURN(
      eval::ListResult result,
      c.tenant.engine->List(*c.tenant.facts, api::FromProto(r.actor()),
                            ActionValue(r.action()), r.resource_type(), cursor,
                            static_cast<int>(c.plan.page_size), Options(c.plan)));
  out->set_all_of_type(result.all_of_type);
  size_t bytes = 0;
  for (auto& id : result.ids) {
    bytes += id.size() + 4;  // and the field's tag and length
    if (bytes > kMaxPageBytes && out->resource_ids_size() > 0) {
      result.next_cursor = out->resource_ids(out->resource_ids_size() - 1);
      break;
    }
    out->add_resource_ids(std::move(id));
  }
  if (!result.next_cursor.empty()) {
    out->set_next_page_token(NextToken(c, std::move(result.next_cursor)));
  }
  return absl::OkStatus();
}

absl::Status Execute(const ExecContext& c, const v1::ActionsRequest& r,
                     v1::ActionsResponse* out) {
  ARBITER_RETURN_IF_ERROR(NeedEngine(c.tenant));
  ARBITER_ASSIGN_OR_RETURN(
      eval::ActionsResult actions,
      c.tenant.engine->Actions(*c.tenant.facts, api::FromProto(r.actor()),
                               api::FromProto(r.resource()), Options(c.plan)));
  for (auto& a : actions.actions) out->add_actions(std::move(a));
  out->set_any_action(actions.any_action);
  return absl::OkStatus();
}

namespace {
// The key a Query / GetFacts page resumes after.
absl::StatusOr<std::optional<Fact>> LastFact(const RequestPlan& plan) {
  if (!plan.page) return std::optional<Fact>();
  v1::Fact f;
  if (!f.ParseFromString(plan.page->last)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  return std::optional<Fact>(api::FromProto(f));
}

// Emits facts (ascending, unique) after `last`, one page of them.
template <typename Out>
void EmitPage(const ExecContext& c, const std::vector<Fact>& sorted,
              const std::optional<Fact>& last, Out* out) {
  auto it = sorted.begin();
  if (last) it = std::upper_bound(sorted.begin(), sorted.end(), *last);
  uint32_t n = 0;
  size_t bytes = 0;
  for (; it != sorted.end() && n < c.plan.page_size; ++it, ++n) {
    v1::Fact f;
    api::ToProto(*it, &f);
    bytes += f.ByteSizeLong() + 4;  // and the field's tag and length
    if (bytes > kMaxPageBytes && n > 0) break;
    *out->add_results_or_facts() = std::move(f);
  }
  if (it != sorted.end() && n > 0) {
    out->set_next_page_token(
        NextToken(c, api::ToProto(*std::prev(it)).SerializeAsString()));
  }
}

struct QueryOut {
  v1::QueryResponse* r;
  v1::Fact* add_results_or_facts() { return r->add_results(); }
  void set_next_page_token(std::string t) { r->set_next_page_token(std::move(t)); }
};
struct FactsOut {
  v1::GetFactsResponse* r;
  v1::Fact* add_results_or_facts() { return r->add_facts(); }
  void set_next_page_token(std::string t) { r->set_next_page_token(std::move(t)); }
};
}  // namespace

absl::Status Execute(const ExecContext& c, const v1::QueryRequest& r,
                     v1::QueryResponse* out) {
  ARBITER_RETURN_IF_ERROR(NeedEngine(c.tenant));
  ARBITER_ASSIGN_OR_RETURN(std::optional<Fact> last, LastFact(c.plan));
  std::vector<eval::QueryArg> args;
  args.reserve(r.args_size());
  for (const auto& a : r.args()) {
    args.push_back(a.has_value() ? eval::QueryArg::Bound(api::FromProto(a.value()))
                                 : eval::QueryArg::Var(a.variable()));
  }
  ARBITER_ASSIGN_OR_RETURN(
      eval::QueryResult result,
      c.tenant.engine->Query(*c.tenant.facts, r.predicate(), args, Options(c.plan)));
  // Each row instantiates the predicate: bound positions keep their value,
  // named variables take the row's binding, "_" and unconstrained bindings
  // are the wildcard {"", ""}.
  std::vector<int> var_of(args.size(), -1);
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].value) continue;
    auto it = std::find(result.variables.begin(), result.variables.end(),
                        args[i].variable);
    if (it != result.variables.end()) var_of[i] = static_cast<int>(it - result.variables.begin());
  }
  std::vector<Fact> facts;
  facts.reserve(result.rows.size());
  for (const auto& row : result.rows) {
    Fact f;
    f.predicate = r.predicate();
    f.args.reserve(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i].value) {
        f.args.push_back(*args[i].value);
      } else if (var_of[i] >= 0 && static_cast<size_t>(var_of[i]) < row.size() &&
                 row[var_of[i]].has_value()) {
        f.args.push_back(*row[var_of[i]]);
      } else {
        f.args.push_back(Value{});
      }
    }
    facts.push_back(std::move(f));
  }
  std::sort(facts.begin(), facts.end());
  facts.erase(std::unique(facts.begin(), facts.end()), facts.end());
  QueryOut o{out};
  EmitPage(c, facts, last, &o);
  return absl::OkStatus();
}

namespace {

// Every stored fact after `last`, at most `want`, ordered by (predicate,
// arity, arguments): FactIndex::ForEachRelation's order, then Scan's.
absl::Status ScanEveryFact(const eval::FactIndex& index, const std::optional<Fact>& last,
                           uint32_t want, std::vector<Fact>* facts) {
  absl::Status status;
  index.ForEachRelation([&](std::string_view predicate, const eval::IndexedRelation& rel) {
    if (!status.ok() || facts->size() >= want) return;
    const size_t arity = static_cast<size_t>(rel.arity());
    if (last && std::make_pair(predicate, arity) <
                    std::make_pair(std::string_view(last->predicate), last->args.size())) {
      return;
    }
    const bool same_relation =
        last && predicate == last->predicate && arity == last->args.size();
    std::vector<std::optional<Value>> any(arity);
    status = index.Scan(predicate, any, [&](std::span<const Value> args) {
      // Up to the last page's end: compared in place, not copied.
      if (same_relation && !std::lexicographical_compare(last->args.begin(), last->args.end(),
                                                         args.begin(), args.end())) {
        return true;
      }
      facts->push_back(Fact{std::string(predicate), std::vector<Value>(args.begin(), args.end())});
      return facts->size() < want;
    });
  });
  return status;
}

}  // namespace

absl::Status Execute(const ExecContext& c, const v1::GetFactsRequest& r,
                     v1::GetFactsResponse* out) {
  ARBITER_ASSIGN_OR_RETURN(std::optional<Fact> last, LastFact(c.plan));
  if (IsEveryFact(r.pattern())) {
    std::vector<Fact> facts;
    ARBITER_RETURN_IF_ERROR(ScanEveryFact(*c.tenant.facts, last, c.plan.page_size + 1, &facts));
    FactsOut o{out};
    EmitPage(c, facts, std::nullopt, &o);
    return absl::OkStatus();
  }
  std::vector<std::optional<Value>> pattern = api::PatternArgs(r.pattern());
  // The fact source matches exact values only; type-only wildcards are
  // checked below.
  for (auto& p : pattern) {
    if (p && p->id.empty()) p.reset();
  }
  std::vector<Fact> facts;
  const uint32_t want = c.plan.page_size + 1;
  absl::Status scan = c.tenant.facts->Scan(
      r.pattern().predicate(), pattern, [&](std::span<const Value> args) {
        Fact f{r.pattern().predicate(), std::vector<Value>(args.begin(), args.end())};
        if (last && !(*last < f)) return true;
        if (!api::Matches(r.pattern(), f)) return true;
        facts.push_back(std::move(f));
        return facts.size() < want;
      });
  ARBITER_RETURN_IF_ERROR(scan);
  FactsOut o{out};
  EmitPage(c, facts, std::nullopt, &o);
  return absl::OkStatus();
}

absl::Status Execute(const ExecContext& c, const v1::ExplainRequest& r,
                     v1::ExplainResponse* out) {
  ARBITER_RETURN_IF_ERROR(NeedEngine(c.tenant));
  ARBITER_ASSIGN_OR_RETURN(
      eval::Explanation e,
      c.tenant.engine->Explain(*c.tenant.facts, api::FromProto(r.actor()),
                               ActionValue(r.action()),
                               api::FromProto(r.resource()), Options(c.plan)));
  out->set_allowed(e.allowed);
  ToExplainNode(e.proof, out->mutable_root());
  out->set_text(std::move(e.text));
  out->set_truncated(e.truncated);
  return absl::OkStatus();
}

}  // namespace arbiter::reader
