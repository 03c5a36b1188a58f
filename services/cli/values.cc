#include "services/cli/values.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/api/api.h"
#include "common/base/status_macros.h"

namespace arbiter::cli {
namespace {

constexpr absl::string_view kWildcard = "_";

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Splits "Type:id" at the first ':' when the part before it is a type name;
// otherwise the whole word is a String.
v1::Value Split(absl::string_view word) {
  v1::Value v;
  size_t colon = word.find(':');
  if (colon != absl::string_view::npos && api::IsIdentifier(word.substr(0, colon))) {
    v.set_type(std::string(word.substr(0, colon)));
    v.set_id(std::string(word.substr(colon + 1)));
  } else {
    v.set_type("String");
    v.set_id(std::string(word));
  }
  return v;
}

bool IsVariable(absl::string_view word) {
  return word.size() > 1 && word[0] == '?';
}

absl::Status CheckArity(size_t n, absl::string_view field) {
  if (n == 0) return Invalid(field, "at least one argument is required");
  if (n > static_cast<size_t>(kMaxArity)) {
    return Invalid(field, absl::StrCat(n, " arguments is over the limit of ", kMaxArity));
  }
  return absl::OkStatus();
}

absl::Status CheckPredicate(absl::string_view predicate) {
  if (!api::IsIdentifier(predicate)) {
    return Invalid("predicate", absl::StrCat("\"", predicate, "\" is not an identifier"));
  }
  return absl::OkStatus();
}

std::string JsonOf(const google::protobuf::Message& m) {
  std::string out;
  // A Struct's values always print; nothing to lose.
  (void)google::protobuf::util::MessageToJsonString(m, &out);
  return out;
}

}  // namespace

absl::StatusOr<v1::Value> ParseValue(absl::string_view word, absl::string_view field) {
  if (word.empty()) return Invalid(field, "empty value");
  if (word == kWildcard || absl::EndsWith(word, ":_")) {
    return Invalid(field, absl::StrCat("wildcard \"", word,
                                       "\" is only allowed in patterns (delete, query, facts)"));
  }
  if (IsVariable(word)) {
    return Invalid(field, absl::StrCat("variable \"", word, "\" is only allowed in query"));
  }
  v1::Value v = Split(word);
  ARBITER_RETURN_IF_ERROR(api::ValidateValue(v, field));
  return v;
}

absl::StatusOr<v1::Value> ParsePatternArg(absl::string_view word, absl::string_view field) {
  if (word == kWildcard) return v1::Value();
  if (absl::EndsWith(word, ":_")) {
    v1::Value v;
    v.set_type(std::string(word.substr(0, word.size() - 2)));
    if (!api::IsIdentifier(v.type())) {
      return Invalid(field, absl::StrCat("\"", v.type(), "\" is not a type name"));
    }
    return v;
  }
  return ParseValue(word, field);
}

absl::StatusOr<v1::Fact> ParseFact(absl::string_view predicate,
                                   const std::vector<std::string>& args) {
  ARBITER_RETURN_IF_ERROR(CheckPredicate(predicate));
  ARBITER_RETURN_IF_ERROR(CheckArity(args.size(), predicate));
  v1::Fact f;
  f.set_predicate(std::string(predicate));
  for (size_t i = 0; i < args.size(); ++i) {
    ARBITER_ASSIGN_OR_RETURN(*f.add_args(),
                             ParseValue(args[i], absl::StrCat("argument ", i + 1)));
  }
  return f;
}

absl::StatusOr<v1::FactPattern> ParsePattern(absl::string_view predicate,
                                             const std::vector<std::string>& args) {
  ARBITER_RETURN_IF_ERROR(CheckPredicate(predicate));
  ARBITER_RETURN_IF_ERROR(CheckArity(args.size(), predicate));
  v1::FactPattern p;
  p.set_predicate(std::string(predicate));
  for (size_t i = 0; i < args.size(); ++i) {
    ARBITER_ASSIGN_OR_RETURN(*p.add_args(),
                             ParsePatternArg(args[i], absl::StrCat("argument ", i + 1)));
  }
  return p;
}

absl::StatusOr<v1::Fact> ParseFactWords(absl::string_view words) {
  std::vector<std::string> parts = absl::StrSplit(words, ' ', absl::SkipWhitespace());
  if (parts.empty()) return Invalid("fact", "empty");
  std::string predicate = parts.front();
  parts.erase(parts.begin());
  auto fact = ParseFact(predicate, parts);
  if (!fact.ok()) return Annotate(fact.status(), absl::StrCat("fact \"", words, "\""));
  return fact;
}

absl::StatusOr<ParsedQuery> ParseQuery(absl::string_view predicate,
                                       const std::vector<std::string>& args) {
  ARBITER_RETURN_IF_ERROR(CheckPredicate(predicate));
  ARBITER_RETURN_IF_ERROR(CheckArity(args.size(), predicate));
  ParsedQuery q;
  q.request.set_predicate(std::string(predicate));
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    std::string field = absl::StrCat("argument ", i + 1);
    v1::QueryArgument* arg = q.request.add_args();
    std::string filter;
    // A wildcard becomes a variable of its own ("_<position>") rather than
    // the API's "_", so that results show what it matched.
    std::string fresh = absl::StrCat("_", i + 1);
    if (word == kWildcard) {
      arg->set_variable(fresh);
    } else if (IsVariable(word)) {
      std::string name = word.substr(1);
      if (!api::IsIdentifier(name) || name[0] == '_') {
        return Invalid(field, absl::StrCat("\"", name,
                                           "\" is not a variable name (a letter, then "
                                           "letters, digits or _)"));
      }
      arg->set_variable(name);
    } else if (absl::EndsWith(word, ":_")) {
      ARBITER_ASSIGN_OR_RETURN(v1::Value v, ParsePatternArg(word, field));
      arg->set_variable(fresh);
      filter = v.type();
    } else {
      ARBITER_ASSIGN_OR_RETURN(*arg->mutable_value(), ParseValue(word, field));
    }
    q.type_filter.push_back(std::move(filter));
  }
  return q;
}

bool PassesTypeFilter(const ParsedQuery& query, const v1::Fact& result) {
  for (size_t i = 0; i < query.type_filter.size(); ++i) {
    if (query.type_filter[i].empty()) continue;
    if (static_cast<int>(i) >= result.args_size() ||
        result.args(static_cast<int>(i)).type() != query.type_filter[i]) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<v1::WriteOperation> ParseBatchLine(absl::string_view line) {
  google::protobuf::Struct object;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &object);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", parsed.message().ToString()));
  }
  if (object.fields_size() != 1) {
    return absl::InvalidArgumentError(
        "expected one key, \"insert\" or \"delete\", e.g. "
        "{\"insert\": {\"predicate\": \"is_public\", \"args\": "
        "[{\"type\": \"Repository\", \"id\": \"docs\"}]}}");
  }
  const auto& [key, value] = *object.fields().begin();
  v1::WriteOperation op;
  google::protobuf::util::JsonParseOptions options;  // unknown fields are errors
  std::string json = JsonOf(value);
  if (key == "insert") {
    auto s = google::protobuf::util::JsonStringToMessage(json, op.mutable_insert(), options);
    if (!s.ok()) return Invalid("insert", s.message().ToString());
    ARBITER_RETURN_IF_ERROR(api::ValidateFact(op.insert(), "insert"));
  } else if (key == "delete" || key == "deletePattern" || key == "delete_pattern") {
    auto s = google::protobuf::util::JsonStringToMessage(json, op.mutable_delete_pattern(),
                                                         options);
    if (!s.ok()) return Invalid(key, s.message().ToString());
    ARBITER_RETURN_IF_ERROR(api::ValidatePattern(op.delete_pattern(), key));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown key \"", key, "\" (expected \"insert\" or \"delete\")"));
  }
  return op;
}

absl::StatusOr<std::vector<v1::WriteOperation>> ParseBatch(absl::string_view text,
                                                           absl::string_view filename) {
  std::vector<v1::WriteOperation> ops;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto op = ParseBatchLine(line);
    if (!op.ok()) {
      return Annotate(op.status(), absl::StrCat(filename, ":", line_number));
    }
    ops.push_back(*std::move(op));
  }
  if (ops.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(filename, ": no operations"));
  }
  return ops;
}

std::string FormatValue(const v1::Value& v) {
  if (v.type().empty()) return "_";
  if (v.id().empty()) return absl::StrCat(v.type(), ":_");
  return absl::StrCat(v.type(), ":", v.id());
}

namespace {
std::string FormatCall(const std::string& predicate,
                       const google::protobuf::RepeatedPtrField<v1::Value>& args) {
  return absl::StrCat(predicate, "(",
                      absl::StrJoin(args, ", ",
                                    [](std::string* out, const v1::Value& v) {
                                      absl::StrAppend(out, FormatValue(v));
                                    }),
                      ")");
}
}  // namespace

std::string FormatFact(const v1::Fact& f) { return FormatCall(f.predicate(), f.args()); }

std::string FormatPattern(const v1::FactPattern& p) {
  return FormatCall(p.predicate(), p.args());
}

}  // namespace arbiter::cli
