#include "common/polar/program_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace arbiter::polar {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      default: out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

const char* OpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return "==";
    case CompareOp::kNe: return "!=";
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
  }
  return "?";
}

std::string Loc(const Location& l) { return absl::StrFormat("%d:%d", l.line, l.column); }

}  // namespace

std::string ValueToPolar(const Value& value) {
  if (value.type == kStringType) return Quote(value.id);
  if (value.type == kIntegerType || value.type == kBooleanType) return value.id;
  return absl::StrCat(value.type, "{", Quote(value.id), "}");
}

std::string TermToString(const Term& term, const std::vector<std::string>& names) {
  switch (term.kind) {
    case Term::Kind::kVariable:
      if (term.variable >= 0 && term.variable < static_cast<int>(names.size())) {
        return names[term.variable];
      }
      return absl::StrCat("$", term.variable);
    case Term::Kind::kConstant:
      return ValueToPolar(term.constant);
    case Term::Kind::kCurrentUnixTime:
      return "@current_unix_time";
  }
  return "?";
}

std::string LiteralToString(const Literal& l, const std::vector<std::string>& names) {
  auto terms = [&](const std::vector<Term>& ts) {
    return absl::StrJoin(ts, ", ", [&](std::string* out, const Term& t) {
      absl::StrAppend(out, TermToString(t, names));
    });
  };
  switch (l.kind) {
    case Literal::Kind::kCall:
      return absl::StrCat(l.predicate, "(", terms(l.args), ")");
    case Literal::Kind::kNotCall:
      return absl::StrCat("not ", l.predicate, "(", terms(l.args), ")");
    case Literal::Kind::kUnify:
      return absl::StrCat(TermToString(l.left, names), " = ", TermToString(l.right, names));
    case Literal::Kind::kCompare:
      return absl::StrCat(TermToString(l.left, names), " ", OpText(l.op), " ",
                          TermToString(l.right, names));
    case Literal::Kind::kMatches:
      return absl::StrCat(TermToString(l.left, names), " matches ", absl::StrJoin(l.types, "|"));
    case Literal::Kind::kIn:
      return absl::StrCat(TermToString(l.left, names), " in [", terms(l.args), "]");
  }
  return "?";
}

std::string RuleToString(const Rule& r) {
  std::string out = absl::StrCat(r.predicate, "(");
  for (size_t i = 0; i < r.params.size(); ++i) {
    if (i > 0) out += ", ";
    out += TermToString(r.params[i], r.variable_names);
    if (i < r.param_types.size() && !r.param_types[i].types.empty()) {
      absl::StrAppend(&out, ": ", absl::StrJoin(r.param_types[i].types, "|"));
    }
  }
  out += ")";
  if (!r.body.empty()) {
    out += " if ";
    out += absl::StrJoin(r.body, " and ", [&](std::string* o, const Literal& l) {
      absl::StrAppend(o, LiteralToString(l, r.variable_names));
    });
  }
  out += ";";
  return out;
}

std::string SignatureToString(const FactSignature& s) {
  std::string out = absl::StrCat(s.predicate, "(");
  for (size_t i = 0; i < s.args.size(); ++i) {
    if (i > 0) out += ", ";
    const ArgSpec& a = s.args[i];
    if (!a.values.empty()) {
      out += absl::StrJoin(a.values, "|", [](std::string* o, const std::string& v) {
        absl::StrAppend(o, Quote(v));
      });
    } else if (a.types.empty()) {
      out += "_";
    } else {
      out += absl::StrJoin(a.types, "|");
    }
  }
  out += ")";
  return out;
}

std::string ProgramToString(const Program& p) {
  std::string out;
  out += "# blocks\n";
  for (const ResourceBlock& b : p.blocks) {
    const char* kind = b.kind == ResourceBlock::Kind::kActor      ? "actor"
                       : b.kind == ResourceBlock::Kind::kResource ? "resource"
                                                                  : "global";
    absl::StrAppend(&out, kind, b.type.empty() ? "" : " ", b.type, " @", Loc(b.location), "\n");
    auto list = [](const std::vector<std::string>& v) {
      return absl::StrJoin(v, ", ", [](std::string* o, const std::string& s) {
        absl::StrAppend(o, Quote(s));
      });
    };
    if (!b.roles.empty()) absl::StrAppend(&out, "  roles = [", list(b.roles), "]\n");
    if (!b.permissions.empty()) {
      absl::StrAppend(&out, "  permissions = [", list(b.permissions), "]\n");
    }
    if (!b.relations.empty()) {
      absl::StrAppend(&out, "  relations = {",
                      absl::StrJoin(b.relations, ", ",
                                    [](std::string* o, const auto& kv) {
                                      absl::StrAppend(o, kv.first, ": ", kv.second);
                                    }),
                      "}\n");
    }
  }
  absl::StrAppend(&out, "actor_types = [", absl::StrJoin(p.actor_types, ", "), "]\n");
  absl::StrAppend(&out, "resource_types = [", absl::StrJoin(p.resource_types, ", "), "]\n");
  out += "# rules\n";
  for (const Rule& r : p.rules) {
    absl::StrAppend(&out, RuleToString(r), "\n");
    absl::StrAppend(&out, "    # @", Loc(r.location), " ", r.source, "\n");
  }
  out += "# signatures\n";
  for (const FactSignature& s : p.signatures) {
    absl::StrAppend(&out, SignatureToString(s), "  @", Loc(s.location), "\n");
  }
  out += "# tests\n";
  for (const PolicyTest& t : p.tests) {
    absl::StrAppend(&out, "test ", Quote(t.name), " @", Loc(t.location), "\n");
    for (const Fact& f : t.setup) absl::StrAppend(&out, "  setup ", ToString(f), "\n");
    for (const TestAssertion& a : t.assertions) {
      const char* kind = a.kind == TestAssertion::Kind::kAssert      ? "assert"
                         : a.kind == TestAssertion::Kind::kAssertNot ? "assert_not"
                                                                     : "assert_iff";
      absl::StrAppend(&out, "  ", kind, " ",
                      absl::StrJoin(a.query, " and ",
                                    [&](std::string* o, const Literal& l) {
                                      absl::StrAppend(o, LiteralToString(l, a.variable_names));
                                    }));
      if (a.kind == TestAssertion::Kind::kIff) {
        absl::StrAppend(
            &out, " iff ",
            a.iff_variable >= 0 ? a.variable_names[a.iff_variable] : std::string("?"), " in [",
            absl::StrJoin(a.iff_values, ", ",
                          [](std::string* o, const Value& v) { absl::StrAppend(o, ValueToPolar(v)); }),
            "]");
      }
      absl::StrAppend(&out, "  @", Loc(a.location), "\n");
    }
  }
  return out;
}

}  // namespace arbiter::polar
