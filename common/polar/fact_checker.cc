#include "common/polar/fact_checker.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/polar/program_text.h"

namespace arbiter::polar {
namespace {

constexpr int kMaxListedSignatures = 5;

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string Declared(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  return absl::StrJoin(sorted, ", ", [](std::string* out, const std::string& n) {
    absl::StrAppend(out, "\"", n, "\"");
  });
}

const ResourceBlock* FindBlock(const Program& p, const std::string& type) {
  for (const ResourceBlock& b : p.blocks) {
    if (b.kind != ResourceBlock::Kind::kGlobal && b.type == type) return &b;
  }
  return nullptr;
}
const ResourceBlock* FindGlobal(const Program& p) {
  for (const ResourceBlock& b : p.blocks) {
    if (b.kind == ResourceBlock::Kind::kGlobal) return &b;
  }
  return nullptr;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool Fits(const FactSignature& sig, const Fact& fact) {
  if (sig.args.size() != fact.args.size()) return false;
  for (size_t i = 0; i < sig.args.size(); ++i) {
    const ArgSpec& a = sig.args[i];
    const Value& v = fact.args[i];
    if (!a.types.empty() && !Contains(a.types, v.type)) return false;
    if (!a.values.empty() && (v.type != kStringType || !Contains(a.values, v.id))) return false;
  }
  return true;
}

absl::Status Bad(const Fact& fact, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("fact ", ToString(fact), " ", why));
}

const char* BlockKind(const ResourceBlock& b) {
  return b.kind == ResourceBlock::Kind::kActor ? "actor" : "resource";
}

}  // namespace

absl::Status CheckFactAgainst(const Program& program, const Fact& fact) {
  // 1. Structure.
  if (!IsIdentifier(fact.predicate)) {
    return Bad(fact, absl::StrFormat("is malformed: predicate \"%s\" is not an identifier",
                                     fact.predicate));
  }
  if (fact.args.empty() || static_cast<int>(fact.args.size()) > kMaxArity) {
    return Bad(fact, absl::StrFormat("is malformed: it has %d arguments (expected 1 to %d)",
                                     fact.args.size(), kMaxArity));
  }
  for (size_t i = 0; i < fact.args.size(); ++i) {
    const Value& v = fact.args[i];
    if (!IsIdentifier(v.type)) {
      return Bad(fact, absl::StrFormat("is malformed: argument %d has type \"%s\" (expected an "
                                       "identifier such as User or String)", i + 1, v.type));
    }
    if (v.id.empty()) {
      return Bad(fact, absl::StrFormat("is malformed: argument %d has an empty id", i + 1));
    }
    if (v.type == kIntegerType) {
      int64_t n = 0;
      if (!absl::SimpleAtoi(v.id, &n) || absl::StrCat(n) != v.id) {
        return Bad(fact, absl::StrFormat("is malformed: argument %d: \"%s\" is not a 64-bit "
                                         "integer in canonical form", i + 1, v.id));
      }
    }
    if (v.type == kBooleanType && v.id != "true" && v.id != "false") {
      return Bad(fact, absl::StrFormat("is malformed: argument %d: Boolean id must be true or "
                                       "false, found \"%s\"", i + 1, v.id));
    }
  }
  // 2. Roles and relations named by blocks.
  const std::vector<Value>& a = fact.args;
  if (fact.predicate == "has_role" && a.size() == 3) {
    if (const ResourceBlock* b = FindBlock(program, a[2].type)) {
      if (a[1].type != kStringType || !Contains(b->roles, a[1].id)) {
        return Bad(fact, absl::StrFormat(
            "does not fit: role \"%s\" is not declared in %s %s (declared: %s)", a[1].id,
            BlockKind(*b), b->type, Declared(b->roles)));
      }
    }
  }
  if (fact.predicate == "has_role" && a.size() == 2) {
    if (const ResourceBlock* g = FindGlobal(program)) {
      if (a[1].type != kStringType || !Contains(g->roles, a[1].id)) {
        return Bad(fact, absl::StrFormat(
            "does not fit: role \"%s\" is not declared in the global block (declared: %s)",
            a[1].id, Declared(g->roles)));
      }
    }
  }
  if (fact.predicate == "has_relation" && a.size() == 3) {
    if (const ResourceBlock* b = FindBlock(program, a[0].type)) {
      auto rel = b->relations.find(a[1].id);
      if (a[1].type != kStringType || rel == b->relations.end()) {
        std::vector<std::string> names;
        for (const auto& [n, t] : b->relations) names.push_back(n);
        return Bad(fact, absl::StrFormat(
            "does not fit: relation \"%s\" is not declared in %s %s (declared: %s)", a[1].id,
            BlockKind(*b), b->type, Declared(names)));
      }
      if (rel->second != a[2].type) {
        return Bad(fact, absl::StrFormat(
            "does not fit: relation \"%s\" of %s %s holds %s, not %s", a[1].id, BlockKind(*b),
            b->type, rel->second, a[2].type));
      }
    }
  }
  // 3. Signatures.
  std::vector<const FactSignature*> same_arity;
  std::vector<const FactSignature*> other_arity;
  for (const FactSignature& s : program.signatures) {
    if (s.predicate != fact.predicate) continue;
    if (s.args.size() == fact.args.size()) {
      if (Fits(s, fact)) return absl::OkStatus();
      same_arity.push_back(&s);
    } else {
      other_arity.push_back(&s);
    }
  }
  // List the closest signatures: those matching the most arguments.
  auto score = [&](const FactSignature* s) {
    int n = 0;
    for (size_t i = 0; i < s->args.size(); ++i) {
      n += Fits({s->predicate, {s->args[i]}, {}}, {fact.predicate, {fact.args[i]}}) ? 1 : 0;
    }
    return n;
  };
  int best = 0;
  for (const FactSignature* s : same_arity) best = std::max(best, score(s));
  std::vector<const FactSignature*> closest;
  for (const FactSignature* s : same_arity) {
    if (score(s) == best) closest.push_back(s);
  }
  const std::vector<const FactSignature*>& listed = same_arity.empty() ? other_arity : closest;
  if (listed.empty()) {
    return Bad(fact, absl::StrFormat(
        "does not fit: no rule, declaration or block mentions %s (add \"declare %s(...);\")",
        fact.predicate, fact.predicate));
  }
  std::vector<std::string> sigs;
  for (const FactSignature* s : listed) {
    if (static_cast<int>(sigs.size()) == kMaxListedSignatures) {
      sigs.push_back(absl::StrFormat("%d more", listed.size() - kMaxListedSignatures));
      break;
    }
    sigs.push_back(SignatureToString(*s));
  }
  return Bad(fact, absl::StrCat("does not fit ", absl::StrJoin(sigs, " or ")));
}

}  // namespace arbiter::polar
