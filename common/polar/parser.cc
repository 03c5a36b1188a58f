#include "common/polar/parser.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace arbiter::polar {
namespace {

// Nesting bound for parentheses / not: keeps recursion (and the stack) small
// on hostile input.
constexpr int kMaxDepth = 64;

bool IsReservedWord(std::string_view s) {
  return s == "if" || s == "and" || s == "or" || s == "not" || s == "matches" ||
         s == "in" || s == "on" || s == "iff";
}

// The parser keeps the first error in `error_`; every parse function returns
// false as soon as an error is recorded, so callers just propagate `false`.
class Parser {
 public:
  Parser(const std::vector<Token>& tokens, std::string_view source, std::string_view filename)
      : toks_(tokens), src_(source), filename_(filename) {}

  absl::StatusOr<AstPolicy> Run() {
    AstPolicy policy;
    while (!At(TokenKind::kEnd)) {
      if (!ParseItem(&policy)) return error_;
    }
    return policy;
  }

 private:
  // ---- token helpers ----
  const Token& Peek(size_t k = 0) const {
    size_t i = pos_ + k;
    return i < toks_.size() ? toks_[i] : toks_.back();
  }
  bool At(TokenKind kind, size_t k = 0) const { return Peek(k).kind == kind; }
  bool AtIdent(std::string_view word, size_t k = 0) const {
    return Peek(k).kind == TokenKind::kIdentifier && Peek(k).text == word;
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }

  bool Fail(Location loc, const std::string& message) {
    if (error_.ok()) {
      error_ = absl::InvalidArgumentError(
          absl::StrFormat("%s:%d:%d: %s", filename_, loc.line, loc.column, message));
    }
    return false;
  }
  bool Unsupported(Location loc, const std::string& what) {
    return Fail(loc, absl::StrCat("not supported by Arbiter: ", what));
  }
  // "expected <what> <context>, found <token>"
  bool Expected(const std::string& what, const std::string& context) {
    std::string ctx = context.empty() ? "" : absl::StrCat(" ", context);
    return Fail(Peek().location,
                absl::StrCat("expected ", what, ctx, ", found ", DescribeToken(Peek())));
  }
  bool Expect(TokenKind kind, const std::string& context) {
    if (!At(kind)) return Expected(TokenKindName(kind), context);
    Next();
    return true;
  }

  // Source text of tokens [from, pos_): whitespace and comments collapsed to
  // one space.
  std::string SourceSince(size_t from) const {
    std::string out;
    for (size_t i = from; i < pos_ && i < toks_.size(); ++i) {
      const Token& t = toks_[i];
      if (i > from && t.begin > toks_[i - 1].end) out.push_back(' ');
      out.append(src_.substr(t.begin, t.end - t.begin));
    }
    return out;
  }

  // ---- top level ----
  bool ParseItem(AstPolicy* policy) {
    const Token& t = Peek();
    if (t.kind == TokenKind::kQuery) {
      return Unsupported(t.location, "inline queries (?=)");
    }
    if (t.kind != TokenKind::kIdentifier) {
      return Expected("a rule, block, declaration or test", "");
    }
    if ((t.text == "actor" || t.text == "resource") && At(TokenKind::kIdentifier, 1) &&
        At(TokenKind::kLBrace, 2)) {
      return ParseBlock(t.text == "actor" ? ResourceBlock::Kind::kActor
                                          : ResourceBlock::Kind::kResource,
                        policy);
    }
    if (t.text == "global" && At(TokenKind::kLBrace, 1)) {
      return ParseBlock(ResourceBlock::Kind::kGlobal, policy);
    }
    if (t.text == "test" && At(TokenKind::kString, 1)) return ParseTest(policy);
    if (t.text == "test" && AtIdent("fixture", 1)) return ParseFixture(policy);
    if (t.text == "test") {
      Next();
      return Expected("a test name string or \"fixture\"", "after test");
    }
    if (t.text == "declare" && At(TokenKind::kIdentifier, 1)) return ParseDeclare(policy);
    if (t.text == "type" && At(TokenKind::kIdentifier, 1)) {
      return Unsupported(t.location,
                         "rule types (\"type\"); use \"declare\" for fact signatures");
    }
    if ((t.text == "actor" || t.text == "resource") && At(TokenKind::kIdentifier, 1)) {
      Next();
      Next();
      return Expected("'{'", absl::StrCat("after ", t.text, " type"));
    }
    return ParseRule(policy);
  }

  bool ParseTypeName(std::string* out, Location* loc, const std::string& context) {
    if (!At(TokenKind::kIdentifier) || IsReservedWord(Peek().text)) {
      return Expected("a type name", context);
    }
    if (loc != nullptr) *loc = Peek().location;
    *out = Next().text;
    return true;
  }

  bool ParseBlock(ResourceBlock::Kind kind, AstPolicy* policy) {
    AstBlock block;
    block.kind = kind;
    block.location = Next().location;  // actor / resource / global
    if (kind != ResourceBlock::Kind::kGlobal) {
      block.type_location = Peek().location;
      block.type = Next().text;
    }
    Next();  // '{'
    std::string ctx = kind == ResourceBlock::Kind::kGlobal
                          ? std::string("in global block")
                          : absl::StrCat("in block ", block.type);
    while (!At(TokenKind::kRBrace)) {
      if (At(TokenKind::kEnd)) {
        return Expected("'}'", kind == ResourceBlock::Kind::kGlobal
                                   ? std::string("to close the global block")
                                   : absl::StrCat("to close block ", block.type));
      }
      if (At(TokenKind::kIdentifier) && At(TokenKind::kAssign, 1)) {
        if (!ParseBlockDeclaration(&block, ctx)) return false;
      } else if (At(TokenKind::kString) ||
                 (At(TokenKind::kIdentifier) && AtIdent("if", 1))) {
        if (!ParseShorthand(&block)) return false;
      } else {
        return Expected("roles, permissions, relations or a shorthand rule", ctx);
      }
    }
    Next();  // '}'
    if (At(TokenKind::kSemicolon)) Next();
    policy->blocks.push_back(std::move(block));
    return true;
  }

  bool ParseNameList(std::vector<AstName>* out, const std::string& what, const std::string& ctx) {
    if (!Expect(TokenKind::kLBracket, absl::StrCat("after ", what, " =")))
      return false;
    while (!At(TokenKind::kRBracket)) {
      if (!At(TokenKind::kString)) {
        return Expected(absl::StrCat("a quoted name in ", what), ctx);
      }
      const Token& s = Next();
      out->push_back({s.text, s.location});
      if (At(TokenKind::kComma)) {
        Next();
      } else if (!At(TokenKind::kRBracket)) {
        return Expected("',' or ']'", absl::StrCat("in ", what));
      }
    }
    Next();
    return Expect(TokenKind::kSemicolon, absl::StrCat("after ", what));
  }

  bool ParseBlockDeclaration(AstBlock* block, const std::string& ctx) {
    const Token& name = Next();
    Next();  // '='
    if (name.text == "roles") {
      block->roles_decls.push_back(name.location);
      return ParseNameList(&block->roles, "roles", ctx);
    }
    if (name.text == "permissions") {
      block->permissions_decls.push_back(name.location);
      return ParseNameList(&block->permissions, "permissions", ctx);
    }
    if (name.text == "relations") {
      block->relations_decls.push_back(name.location);
      if (At(TokenKind::kLBracket)) {
        return Expected("'{'", "after relations = (relations are written { name: Type })");
      }
      if (!Expect(TokenKind::kLBrace, "after relations =")) return false;
      while (!At(TokenKind::kRBrace)) {
        if (!At(TokenKind::kIdentifier)) return Expected("a relation name", "in relations");
        AstRelation rel;
        rel.location = Peek().location;
        rel.name = Next().text;
        if (!Expect(TokenKind::kColon, "after relation name")) return false;
        if (!ParseTypeName(&rel.type, &rel.type_location, "in relations")) return false;
        block->relations.push_back(std::move(rel));
        if (At(TokenKind::kComma)) {
          Next();
        } else if (!At(TokenKind::kRBrace)) {
          return Expected("',' or '}'", "in relations");
        }
      }
      Next();
      return Expect(TokenKind::kSemicolon, "after relations");
    }
    return Fail(name.location,
                absl::StrFormat("unknown declaration \"%s\" %s (expected roles, "
                                "permissions or relations)",
                                name.text, ctx));
  }

  bool ParseShorthand(AstBlock* block) {
    size_t start = pos_;
    AstShorthand sh;
    sh.location = Peek().location;
    const Token& head = Next();
    sh.head.location = head.location;
    if (head.kind == TokenKind::kString) {
      sh.head.kind = AstTerm::Kind::kConstant;
      sh.head.value = {kStringType, head.text};
    } else {
      sh.head.kind = AstTerm::Kind::kVariable;
      sh.head.name = head.text;
    }
    if (!AtIdent("if")) return Expected("\"if\"", "after shorthand rule head");
    Next();
    shorthand_ = true;
    head_variable_ = sh.head.kind == AstTerm::Kind::kVariable ? sh.head.name : "";
    bool ok = ParseExpr(&sh.body, 0);
    shorthand_ = false;
    if (!ok) return false;
    if (!Expect(TokenKind::kSemicolon, "after shorthand rule")) return false;
    sh.source = SourceSince(start);
    block->shorthands.push_back(std::move(sh));
    return true;
  }

  bool ParseDeclare(AstPolicy* policy) {
    AstDeclare decl;
    decl.location = Next().location;
    decl.name = Next().text;
    if (!Expect(TokenKind::kLParen, "after declared predicate name")) return false;
    while (!At(TokenKind::kRParen)) {
      AstName type;
      if (!ParseTypeName(&type.name, &type.location, "in declare")) return false;
      decl.types.push_back(std::move(type));
      if (At(TokenKind::kComma)) {
        Next();
      } else if (!At(TokenKind::kRParen)) {
        return Expected("',' or ')'", "in declare");
      }
    }
    Next();
    if (!Expect(TokenKind::kSemicolon, "after declare")) return false;
    policy->declares.push_back(std::move(decl));
    return true;
  }

  // ---- rules ----
  bool ParseRule(AstPolicy* policy) {
    size_t start = pos_;
    AstRule rule;
    const Token& name = Next();
    rule.location = name.location;
    rule.name = name.text;
    if (At(TokenKind::kDot)) {
      return Unsupported(Peek().location,
                         absl::StrFormat("dotted names (\"%s.\")", name.text));
    }
    if (IsReservedWord(name.text)) {
      return Fail(name.location, absl::StrFormat(
          "expected a rule, block, declaration or test, found \"%s\"", name.text));
    }
    if (!At(TokenKind::kLParen)) {
      return Expected("'('", absl::StrFormat("after rule name \"%s\"", name.text));
    }
    Next();
    while (!At(TokenKind::kRParen)) {
      AstParam param;
      if (!ParseTerm(&param.term, "in rule head")) return false;
      if (param.term.kind == AstTerm::Kind::kList) {
        return Fail(param.term.location, "lists are not allowed as rule parameters");
      }
      if (param.term.kind == AstTerm::Kind::kCurrentUnixTime) {
        return Fail(param.term.location,
                    "@current_unix_time is not allowed as a rule parameter");
      }
      if (At(TokenKind::kColon)) {
        Next();
        if (At(TokenKind::kLBrace)) {
          return Unsupported(Peek().location, "dictionary patterns in rule parameters");
        }
        std::string type;
        if (!ParseTypeName(&type, &param.type_location, "after ':'")) return false;
        if (At(TokenKind::kLBrace)) {
          return Unsupported(Peek().location, absl::StrFormat(
              "patterns with fields (%s{...}) in rule parameters", type));
        }
        param.type = std::move(type);
      }
      rule.params.push_back(std::move(param));
      if (At(TokenKind::kComma)) {
        Next();
      } else if (!At(TokenKind::kRParen)) {
        return Expected("',' or ')'", "in rule head");
      }
    }
    Next();
    if (AtIdent("if")) {
      Next();
      AstExpr body;
      if (!ParseExpr(&body, 0)) return false;
      rule.body = std::move(body);
    } else if (At(TokenKind::kIdentifier) && Peek().text == "iff") {
      return Fail(Peek().location, "iff is only allowed in test assertions");
    }
    if (!Expect(TokenKind::kSemicolon, "after rule")) return false;
    rule.source = SourceSince(start);
    policy->rules.push_back(std::move(rule));
    return true;
  }

  // ---- expressions ----
  bool ParseExpr(AstExpr* out, int depth) {
    if (depth > kMaxDepth) return Fail(Peek().location, "expression is nested too deeply");
    size_t begin = Peek().begin;
    Location loc = Peek().location;
    AstExpr first;
    if (!ParseAnd(&first, depth)) return false;
    if (!AtIdent("or")) {
      *out = std::move(first);
      return true;
    }
    AstExpr node;
    node.kind = AstExpr::Kind::kOr;
    node.location = loc;
    node.children.push_back(std::move(first));
    while (AtIdent("or")) {
      Next();
      AstExpr next;
      if (!ParseAnd(&next, depth)) return false;
      node.children.push_back(std::move(next));
    }
    node.begin = begin;
    node.end = toks_[pos_ - 1].end;
    *out = std::move(node);
    return true;
  }

  bool ParseAnd(AstExpr* out, int depth) {
    size_t begin = Peek().begin;
    Location loc = Peek().location;
    AstExpr first;
    if (!ParseUnary(&first, depth)) return false;
    if (!AtIdent("and")) {
      *out = std::move(first);
      return true;
    }
    AstExpr node;
    node.kind = AstExpr::Kind::kAnd;
    node.location = loc;
    node.children.push_back(std::move(first));
    while (AtIdent("and")) {
      Next();
      AstExpr next;
      if (!ParseUnary(&next, depth)) return false;
      node.children.push_back(std::move(next));
    }
    node.begin = begin;
    node.end = toks_[pos_ - 1].end;
    *out = std::move(node);
    return true;
  }

  bool ParseUnary(AstExpr* out, int depth) {
    if (depth > kMaxDepth) return Fail(Peek().location, "expression is nested too deeply");
    size_t begin = Peek().begin;
    Location loc = Peek().location;
    if (AtIdent("not")) {
      Next();
      AstExpr inner;
      if (!ParseUnary(&inner, depth + 1)) return false;
      out->kind = AstExpr::Kind::kNot;
      out->location = loc;
      out->children.push_back(std::move(inner));
    } else if (At(TokenKind::kLParen)) {
      Next();
      if (!ParseExpr(out, depth + 1)) return false;
      if (!Expect(TokenKind::kRParen, "to close '('")) return false;
    } else {
      if (!ParsePrimary(out)) return false;
    }
    out->begin = begin;
    out->end = toks_[pos_ - 1].end;
    if (out->location.line == 0) out->location = loc;
    return true;
  }

  bool IsOperatorAhead(size_t k) const {
    switch (Peek(k).kind) {
      case TokenKind::kAssign: case TokenKind::kEq: case TokenKind::kNe:
      case TokenKind::kLt: case TokenKind::kLe: case TokenKind::kGt: case TokenKind::kGe:
        return true;
      default:
        return AtIdent("matches", k) || AtIdent("in", k);
    }
  }

  bool ParseRelationSuffix(AstExpr* out) {
    if (!AtIdent("on")) return true;
    Next();
    if (At(TokenKind::kIdentifier) && Peek().text == "resource") {
      return Unsupported(Peek().location, "\"on resource\" in shorthand rules");
    }
    if (!At(TokenKind::kString)) return Expected("a quoted relation name", "after \"on\"");
    out->relation_location = Peek().location;
    out->relation = Next().text;
    return true;
  }

  bool ParsePrimary(AstExpr* out) {
    const Token& t = Peek();
    out->location = t.location;
    if (shorthand_) {
      if (t.kind == TokenKind::kString && !IsOperatorAhead(1)) {
        out->kind = AstExpr::Kind::kShorthandName;
        out->name_term.kind = AstTerm::Kind::kConstant;
        out->name_term.value = {kStringType, t.text};
        out->name_term.location = t.location;
        Next();
        return ParseRelationSuffix(out);
      }
      if (t.kind == TokenKind::kIdentifier && t.text == "global" && At(TokenKind::kString, 1)) {
        Next();
        out->kind = AstExpr::Kind::kShorthandName;
        out->global = true;
        out->name_term.kind = AstTerm::Kind::kConstant;
        out->name_term.value = {kStringType, Peek().text};
        out->name_term.location = Peek().location;
        Next();
        if (AtIdent("on")) return Fail(Peek().location, "\"global\" names cannot take \"on\"");
        return true;
      }
      if (t.kind == TokenKind::kIdentifier && !IsReservedWord(t.text) &&
          (AtIdent("on", 1) ||
           (t.text == head_variable_ && !IsOperatorAhead(1) && !At(TokenKind::kLParen, 1)))) {
        out->kind = AstExpr::Kind::kShorthandName;
        out->name_term.kind = AstTerm::Kind::kVariable;
        out->name_term.name = t.text;
        out->name_term.location = t.location;
        Next();
        return ParseRelationSuffix(out);
      }
    }
    if (t.kind == TokenKind::kIdentifier) {
      if (t.text == "forall" && At(TokenKind::kLParen, 1)) return Unsupported(t.location, "forall");
      if (t.text == "cut") return Unsupported(t.location, "cut");
      if (t.text == "print" && At(TokenKind::kLParen, 1)) return Unsupported(t.location, "print");
      if (t.text == "new") return Unsupported(t.location, "new (constructing host objects)");
      if (IsReservedWord(t.text)) {
        return Expected("a condition", "");
      }
      if (At(TokenKind::kLParen, 1)) return ParseCall(out);
    }
    AstTerm left;
    if (!ParseTerm(&left, "in condition")) return false;
    const Token& op = Peek();
    auto binary = [&](AstExpr::Kind kind, CompareOp cmp) {
      Next();
      out->kind = kind;
      out->op = cmp;
      out->left = std::move(left);
      if (!ParseTerm(&out->right, absl::StrFormat("after %s", DescribeToken(op)))) return false;
      if (out->right.kind == AstTerm::Kind::kList) {
        return Fail(out->right.location, "lists are only allowed after \"in\"");
      }
      return CheckNoArithmetic();
    };
    if (left.kind == AstTerm::Kind::kList) {
      return Fail(left.location, "lists are only allowed after \"in\"");
    }
    switch (op.kind) {
      case TokenKind::kAssign: return binary(AstExpr::Kind::kUnify, CompareOp::kEq);
      case TokenKind::kEq: return binary(AstExpr::Kind::kCompare, CompareOp::kEq);
      case TokenKind::kNe: return binary(AstExpr::Kind::kCompare, CompareOp::kNe);
      case TokenKind::kLt: return binary(AstExpr::Kind::kCompare, CompareOp::kLt);
      case TokenKind::kLe: return binary(AstExpr::Kind::kCompare, CompareOp::kLe);
      case TokenKind::kGt: return binary(AstExpr::Kind::kCompare, CompareOp::kGt);
      case TokenKind::kGe: return binary(AstExpr::Kind::kCompare, CompareOp::kGe);
      case TokenKind::kPlus: case TokenKind::kMinus: case TokenKind::kStar: case TokenKind::kSlash:
        return Unsupported(op.location, absl::StrFormat("arithmetic (%s)", DescribeToken(op)));
      default:
        break;
    }
    if (op.kind == TokenKind::kIdentifier && op.text == "matches") {
      Next();
      out->kind = AstExpr::Kind::kMatches;
      out->left = std::move(left);
      Location type_loc;
      if (!ParseTypeName(&out->name, &type_loc, "after \"matches\"")) return false;
      if (At(TokenKind::kLBrace)) {
        return Unsupported(Peek().location, absl::StrFormat(
            "patterns with fields (matches %s{...})", out->name));
      }
      return true;
    }
    if (op.kind == TokenKind::kIdentifier && op.text == "in") {
      Next();
      out->kind = AstExpr::Kind::kIn;
      out->left = std::move(left);
      if (!At(TokenKind::kLBracket)) return Expected("a list literal", "after \"in\"");
      return ParseTerm(&out->right, "after \"in\"");
    }
    if (op.kind == TokenKind::kIdentifier && op.text == "isa") {
      return Unsupported(op.location, "isa (use \"matches\")");
    }
    if (left.kind == AstTerm::Kind::kConstant && left.value.type == kStringType && !shorthand_) {
      return Fail(left.location, absl::StrFormat(
          "a quoted name such as \"%s\" can only be a condition in shorthand rules inside "
          "actor, resource and global blocks", left.value.id));
    }
    if (left.kind == AstTerm::Kind::kVariable && shorthand_) {
      return Fail(left.location, absl::StrFormat(
          "unexpected variable \"%s\" in shorthand rule (expected a quoted role or permission name)",
          left.name));
    }
    return Expected("a comparison, \"matches\" or \"in\"", "after term");
  }

  bool CheckNoArithmetic() {
    switch (Peek().kind) {
      case TokenKind::kPlus: case TokenKind::kMinus: case TokenKind::kStar: case TokenKind::kSlash:
        return Unsupported(Peek().location,
                           absl::StrFormat("arithmetic (%s)", DescribeToken(Peek())));
      default:
        return true;
    }
  }

  bool ParseCall(AstExpr* out) {
    out->kind = AstExpr::Kind::kCall;
    out->location = Peek().location;
    out->name = Next().text;
    Next();  // '('
    while (!At(TokenKind::kRParen)) {
      AstTerm arg;
      if (!ParseTerm(&arg, absl::StrFormat("in call to %s", out->name))) return false;
      if (arg.kind == AstTerm::Kind::kList) {
        return Fail(arg.location, "lists are only allowed after \"in\"");
      }
      if (At(TokenKind::kColon)) {
        if (arg.kind != AstTerm::Kind::kVariable) {
          return Fail(Peek().location, "only variables can have a type annotation");
        }
        Location colon = Next().location;
        if (!query_) {
          return Fail(colon, "type annotations in calls are only allowed in test assertions "
                             "(use \"x matches Type\")");
        }
        std::string type;
        if (!ParseTypeName(&type, nullptr, "after ':'")) return false;
        arg.type_annotation = std::move(type);
      }
      out->args.push_back(std::move(arg));
      if (At(TokenKind::kComma)) {
        Next();
      } else if (!At(TokenKind::kRParen)) {
        if (At(TokenKind::kPlus) || At(TokenKind::kMinus) || At(TokenKind::kStar) ||
            At(TokenKind::kSlash)) {
          return CheckNoArithmetic();
        }
        return Expected("',' or ')'", absl::StrFormat("in call to %s", out->name));
      }
    }
    Next();
    if (At(TokenKind::kDot)) {
      return Unsupported(Peek().location, "method calls and field access");
    }
    return true;
  }

  // ---- terms ----
  bool ParseInteger(const Token& digits, bool negative, Location loc, AstTerm* out) {
    std::string text = negative ? absl::StrCat("-", digits.text) : digits.text;
    int64_t v = 0;
    if (!absl::SimpleAtoi(text, &v)) {
      return Fail(loc, absl::StrFormat("integer %s is out of range for a 64-bit integer", text));
    }
    out->kind = AstTerm::Kind::kConstant;
    out->value = {kIntegerType, absl::StrCat(v)};
    out->location = loc;
    return true;
  }

  bool ParseTerm(AstTerm* out, const std::string& context) {
    const Token& t = Peek();
    out->location = t.location;
    switch (t.kind) {
      case TokenKind::kString:
        Next();
        out->kind = AstTerm::Kind::kConstant;
        out->value = {kStringType, t.text};
        return CheckNoFieldAccess();
      case TokenKind::kInteger:
        Next();
        return ParseInteger(t, false, t.location, out);
      case TokenKind::kMinus:
        if (At(TokenKind::kInteger, 1)) {
          Next();
          const Token& d = Next();
          return ParseInteger(d, true, t.location, out);
        }
        if (At(TokenKind::kFloat, 1)) {
          return Unsupported(t.location, "floating-point numbers");
        }
        return Expected("a term", context);
      case TokenKind::kFloat:
        return Unsupported(t.location, "floating-point numbers");
      case TokenKind::kAt:
        if (t.text != "current_unix_time") {
          return Fail(t.location, absl::StrFormat(
              "unknown constant \"@%s\" (expected @current_unix_time)", t.text));
        }
        Next();
        out->kind = AstTerm::Kind::kCurrentUnixTime;
        return true;
      case TokenKind::kLBracket: {
        Next();
        out->kind = AstTerm::Kind::kList;
        while (!At(TokenKind::kRBracket)) {
          AstTerm item;
          if (!ParseTerm(&item, "in list")) return false;
          if (item.kind == AstTerm::Kind::kList) {
            return Fail(item.location, "nested lists are not supported");
          }
          out->items.push_back(std::move(item));
          if (At(TokenKind::kComma)) {
            Next();
          } else if (!At(TokenKind::kRBracket)) {
            if (At(TokenKind::kPipe)) return Unsupported(Peek().location, "list patterns ([x | rest])");
            return Expected("',' or ']'", "in list");
          }
        }
        Next();
        return true;
      }
      case TokenKind::kLBrace:
        return Unsupported(t.location, "dictionaries");
      case TokenKind::kIdentifier:
        break;
      default:
        return Expected("a term", context);
    }
    // Identifier.
    if (t.text == "true" || t.text == "false") {
      Next();
      out->kind = AstTerm::Kind::kConstant;
      out->value = {kBooleanType, t.text};
      return true;
    }
    if (t.text == "new") return Unsupported(t.location, "new (constructing host objects)");
    if (IsReservedWord(t.text)) return Expected("a term", context);
    if (At(TokenKind::kLParen, 1)) {
      return Fail(t.location, absl::StrFormat(
          "unexpected call \"%s(...)\" %s (calls cannot be nested)", t.text, context));
    }
    if (At(TokenKind::kLBrace, 1)) return ParseEntityLiteral(out);
    Next();
    out->kind = AstTerm::Kind::kVariable;
    out->name = t.text;
    return CheckNoFieldAccess();
  }

  bool CheckNoFieldAccess() {
    if (!At(TokenKind::kDot)) return true;
    const Token& prev = toks_[pos_ - 1];
    Location dot = Peek().location;
    if (At(TokenKind::kIdentifier, 1) && At(TokenKind::kLParen, 2)) {
      return Unsupported(dot, absl::StrFormat("method calls (\"%s.%s(...)\"); store the data "
                                              "as facts", prev.text, Peek(1).text));
    }
    if (At(TokenKind::kIdentifier, 1)) {
      return Unsupported(dot, absl::StrFormat("field access (\"%s.%s\"); store the data as "
                                              "facts", prev.text, Peek(1).text));
    }
    return Unsupported(dot, "field access");
  }

  // Type{"id"}, Integer{3}, Boolean{true}, String{"x"}.
  bool ParseEntityLiteral(AstTerm* out) {
    const Token& type = Next();
    Next();  // '{'
    out->kind = AstTerm::Kind::kConstant;
    out->location = type.location;
    if (At(TokenKind::kIdentifier) && At(TokenKind::kColon, 1)) {
      return Unsupported(Peek().location, absl::StrFormat(
          "dictionary patterns (%s{%s: ...}); write an entity literal %s{\"id\"}", type.text,
          Peek().text, type.text));
    }
    const Token& v = Peek();
    if (type.text == kIntegerType) {
      bool neg = false;
      if (v.kind == TokenKind::kMinus && At(TokenKind::kInteger, 1)) {
        Next();
        neg = true;
      }
      if (!At(TokenKind::kInteger)) return Expected("an integer", "in Integer{...}");
      const Token& d = Next();
      if (!ParseInteger(d, neg, type.location, out)) return false;
    } else if (type.text == kBooleanType) {
      if (!AtIdent("true") && !AtIdent("false")) return Expected("true or false", "in Boolean{...}");
      out->value = {kBooleanType, Next().text};
    } else {
      if (!At(TokenKind::kString)) {
        return Expected("a quoted id", absl::StrFormat("in %s{...}", type.text));
      }
      out->value = {type.text, Next().text};
      if (out->value.id.empty()) {
        return Fail(v.location, absl::StrFormat("empty id in %s{\"\"}", type.text));
      }
    }
    if (!Expect(TokenKind::kRBrace, absl::StrFormat("to close %s{...}", type.text))) return false;
    return CheckNoFieldAccess();
  }

  // ---- tests ----
  bool ParseFact(AstFact* out, const std::string& context) {
    if (!At(TokenKind::kIdentifier) || !At(TokenKind::kLParen, 1)) {
      return Expected("a fact such as has_role(User{\"alice\"}, \"admin\", Org{\"acme\"})", context);
    }
    out->location = Peek().location;
    out->name = Next().text;
    Next();
    while (!At(TokenKind::kRParen)) {
      AstTerm arg;
      if (!ParseTerm(&arg, "in fact")) return false;
      if (arg.kind != AstTerm::Kind::kConstant) {
        return Fail(arg.location, arg.kind == AstTerm::Kind::kVariable
                                      ? absl::StrFormat("facts must be ground: found variable \"%s\"", arg.name)
                                      : std::string("facts may only contain constants"));
      }
      out->args.push_back(std::move(arg));
      if (At(TokenKind::kComma)) {
        Next();
      } else if (!At(TokenKind::kRParen)) {
        return Expected("',' or ')'", "in fact");
      }
    }
    Next();
    return Expect(TokenKind::kSemicolon, "after fact");
  }

  bool ParseFixture(AstPolicy* policy) {
    AstFixture fixture;
    fixture.location = Next().location;  // test
    Next();                              // fixture
    if (!At(TokenKind::kIdentifier)) return Expected("a fixture name", "after \"test fixture\"");
    fixture.name = Next().text;
    if (!Expect(TokenKind::kLBrace, "after fixture name")) return false;
    while (!At(TokenKind::kRBrace)) {
      AstFact fact;
      if (!ParseFact(&fact, "in test fixture")) return false;
      fixture.facts.push_back(std::move(fact));
    }
    Next();
    policy->fixtures.push_back(std::move(fixture));
    return true;
  }

  bool ParseTest(AstPolicy* policy) {
    AstTest test;
    test.location = Next().location;
    test.name = Next().text;
    if (!Expect(TokenKind::kLBrace, "after test name")) return false;
    while (!At(TokenKind::kRBrace)) {
      if (AtIdent("setup") && At(TokenKind::kLBrace, 1)) {
        Next();
        Next();
        while (!At(TokenKind::kRBrace)) {
          AstSetupItem item;
          if (AtIdent("fixture") && At(TokenKind::kIdentifier, 1)) {
            Next();
            item.fixture = AstName{Peek().text, Peek().location};
            Next();
            if (!Expect(TokenKind::kSemicolon, "after fixture name")) return false;
          } else {
            AstFact fact;
            if (!ParseFact(&fact, "in setup")) return false;
            item.fact = std::move(fact);
          }
          test.setup.push_back(std::move(item));
        }
        Next();
      } else if (AtIdent("assert") || AtIdent("assert_not")) {
        if (!ParseAssertion(&test)) return false;
      } else {
        return Expected("setup, assert or assert_not", "in test");
      }
    }
    Next();
    policy->tests.push_back(std::move(test));
    return true;
  }

  bool ParseAssertion(AstTest* test) {
    size_t start = pos_;
    AstAssertion a;
    a.location = Peek().location;
    a.kind = Next().text == "assert" ? TestAssertion::Kind::kAssert
                                     : TestAssertion::Kind::kAssertNot;
    query_ = true;
    bool ok = ParseExpr(&a.query, 0);
    query_ = false;
    if (!ok) return false;
    if (AtIdent("iff")) {
      if (a.kind == TestAssertion::Kind::kAssertNot) {
        return Fail(Peek().location, "iff is only allowed with assert");
      }
      Next();
      a.kind = TestAssertion::Kind::kIff;
      if (!At(TokenKind::kIdentifier) || IsReservedWord(Peek().text)) {
        return Expected("a variable", "after \"iff\"");
      }
      if (!ParseTerm(&a.iff_variable, "after \"iff\"")) return false;
      if (a.iff_variable.kind != AstTerm::Kind::kVariable) {
        return Fail(a.iff_variable.location, "expected a variable after \"iff\"");
      }
      if (!AtIdent("in")) return Expected("\"in\"", "after iff variable");
      Next();
      if (!At(TokenKind::kLBracket)) return Expected("a list literal", "after \"in\"");
      if (!ParseTerm(&a.iff_list, "after \"in\"")) return false;
    }
    if (!Expect(TokenKind::kSemicolon, "after assertion")) return false;
    a.source = SourceSince(start);
    test->assertions.push_back(std::move(a));
    return true;
  }

  const std::vector<Token>& toks_;
  std::string_view src_;
  std::string_view filename_;
  size_t pos_ = 0;
  absl::Status error_;
  bool shorthand_ = false;
  bool query_ = false;
  std::string head_variable_;
};

}  // namespace

absl::StatusOr<AstPolicy> Parse(const std::vector<Token>& tokens, std::string_view source,
                                std::string_view filename) {
  if (tokens.empty() || tokens.back().kind != TokenKind::kEnd) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:1:1: internal: token stream does not end with end of input", filename));
  }
  return Parser(tokens, source, filename).Run();
}

absl::StatusOr<AstPolicy> ParseSource(std::string_view source, std::string_view filename) {
  auto tokens = Tokenize(source, filename);
  if (!tokens.ok()) return tokens.status();
  return Parse(*tokens, source, filename);
}

}  // namespace arbiter::polar
