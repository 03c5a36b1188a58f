#include "common/polar/lexer.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace arbiter::polar {

std::string TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kIdentifier: return "identifier";
    case TokenKind::kString: return "string";
    case TokenKind::kInteger: return "integer";
    case TokenKind::kFloat: return "number";
    case TokenKind::kAt: return "'@'";
    case TokenKind::kLParen: return "'('";
    case TokenKind::kRParen: return "')'";
    case TokenKind::kLBrace: return "'{'";
    case TokenKind::kRBrace: return "'}'";
    case TokenKind::kLBracket: return "'['";
    case TokenKind::kRBracket: return "']'";
    case TokenKind::kComma: return "','";
    case TokenKind::kSemicolon: return "';'";
    case TokenKind::kColon: return "':'";
    case TokenKind::kDot: return "'.'";
    case TokenKind::kAssign: return "'='";
    case TokenKind::kEq: return "'=='";
    case TokenKind::kNe: return "'!='";
    case TokenKind::kLt: return "'<'";
    case TokenKind::kLe: return "'<='";
    case TokenKind::kGt: return "'>'";
    case TokenKind::kGe: return "'>='";
    case TokenKind::kPlus: return "'+'";
    case TokenKind::kMinus: return "'-'";
    case TokenKind::kStar: return "'*'";
    case TokenKind::kSlash: return "'/'";
    case TokenKind::kQuery: return "'?='";
    case TokenKind::kPipe: return "'|'";
    case TokenKind::kEnd: return "end of input";
  }
  return "token";
}

std::string DescribeToken(const Token& token) {
  switch (token.kind) {
    case TokenKind::kIdentifier:
    case TokenKind::kInteger:
    case TokenKind::kFloat:
      return absl::StrCat("\"", token.text, "\"");
    case TokenKind::kString:
      return absl::StrCat("string \"", token.text, "\"");
    case TokenKind::kAt:
      return absl::StrCat("\"@", token.text, "\"");
    case TokenKind::kEnd:
      return "end of input";
    default:
      return absl::StrCat("\"", token.text, "\"");
  }
}

namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string_view source, std::string_view filename)
      : src_(source), filename_(filename) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> out;
    while (true) {
      SkipSpaceAndComments();
      Token t;
      t.location = {line_, col_};
      t.begin = pos_;
      if (pos_ >= src_.size()) {
        t.kind = TokenKind::kEnd;
        t.end = pos_;
        out.push_back(std::move(t));
        return out;
      }
      char c = src_[pos_];
      if (IsIdentStart(c)) {
        size_t start = pos_;
        while (pos_ < src_.size() && IsIdentChar(src_[pos_])) Advance();
        t.kind = TokenKind::kIdentifier;
        t.text = std::string(src_.substr(start, pos_ - start));
      } else if (IsDigit(c)) {
        size_t start = pos_;
        while (pos_ < src_.size() && IsDigit(src_[pos_])) Advance();
        t.kind = TokenKind::kInteger;
        if (pos_ + 1 < src_.size() && src_[pos_] == '.' && IsDigit(src_[pos_ + 1])) {
          Advance();
          while (pos_ < src_.size() && IsDigit(src_[pos_])) Advance();
          t.kind = TokenKind::kFloat;
        }
        if (pos_ < src_.size() && IsIdentStart(src_[pos_])) {
          return Error(t.location, absl::StrFormat(
              "invalid number \"%s%c\"", src_.substr(start, pos_ - start), src_[pos_]));
        }
        t.text = std::string(src_.substr(start, pos_ - start));
      } else if (c == '"') {
        absl::Status s = LexString(&t);
        if (!s.ok()) return s;
      } else if (c == '@') {
        Advance();
        size_t start = pos_;
        while (pos_ < src_.size() && IsIdentChar(src_[pos_])) Advance();
        if (start == pos_) return Error(t.location, "expected a name after '@'");
        t.kind = TokenKind::kAt;
        t.text = std::string(src_.substr(start, pos_ - start));
      } else {
        absl::Status s = LexPunct(&t);
        if (!s.ok()) return s;
      }
      t.end = pos_;
      out.push_back(std::move(t));
    }
  }

 private:
  void Advance() {
    if (src_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }

  void SkipSpaceAndComments() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        Advance();
      } else if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') Advance();
      } else {
        break;
      }
    }
  }

  absl::Status Error(Location loc, std::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d:%d: %s", filename_, loc.line, loc.column, message));
  }

  absl::Status LexString(Token* t) {
    Advance();  // opening quote
    std::string value;
    while (true) {
      if (pos_ >= src_.size() || src_[pos_] == '\n') {
        return Error(t->location, "unterminated string");
      }
      char c = src_[pos_];
      if (c == '"') {
        Advance();
        break;
      }
      if (c == '\\') {
        Location esc = {line_, col_};
        Advance();
        if (pos_ >= src_.size()) return Error(t->location, "unterminated string");
        char e = src_[pos_];
        switch (e) {
          case 'n': value.push_back('\n'); break;
          case 't': value.push_back('\t'); break;
          case 'r': value.push_back('\r'); break;
          case '0': value.push_back('\0'); break;
          case '\\': value.push_back('\\'); break;
          case '"': value.push_back('"'); break;
          default:
            if (e == '\n') return Error(esc, "invalid escape \"\\\" at end of line in string");
            return Error(esc, absl::StrFormat(
                "invalid escape \"\\%c\" in string (expected one of \\n \\t \\r \\0 \\\\ \\\")", e));
        }
        Advance();
        continue;
      }
      value.push_back(c);
      Advance();
    }
    t->kind = TokenKind::kString;
    t->text = std::move(value);
    return absl::OkStatus();
  }

  absl::Status LexPunct(Token* t) {
    char c = src_[pos_];
    char n = pos_ + 1 < src_.size() ? src_[pos_ + 1] : '\0';
    auto one = [&](TokenKind k) {
      t->kind = k;
      t->text = std::string(1, c);
      Advance();
      return absl::OkStatus();
    };
    auto two = [&](TokenKind k) {
      t->kind = k;
      t->text = std::string(src_.substr(pos_, 2));
      Advance();
      Advance();
      return absl::OkStatus();
    };
    switch (c) {
      case '(': return one(TokenKind::kLParen);
      case ')': return one(TokenKind::kRParen);
      case '{': return one(TokenKind::kLBrace);
      case '}': return one(TokenKind::kRBrace);
      case '[': return one(TokenKind::kLBracket);
      case ']': return one(TokenKind::kRBracket);
      case ',': return one(TokenKind::kComma);
      case ';': return one(TokenKind::kSemicolon);
      case ':': return one(TokenKind::kColon);
      case '.': return one(TokenKind::kDot);
      case '+': return one(TokenKind::kPlus);
      case '-': return one(TokenKind::kMinus);
      case '*': return one(TokenKind::kStar);
      case '/': return one(TokenKind::kSlash);
      case '|': return one(TokenKind::kPipe);
      case '=': return n == '=' ? two(TokenKind::kEq) : one(TokenKind::kAssign);
      case '<': return n == '=' ? two(TokenKind::kLe) : one(TokenKind::kLt);
      case '>': return n == '=' ? two(TokenKind::kGe) : one(TokenKind::kGt);
      case '!':
        if (n == '=') return two(TokenKind::kNe);
        break;
      case '?':
        if (n == '=') return two(TokenKind::kQuery);
        break;
      default:
        break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      return Error(t->location, absl::StrFormat("unexpected character '%c'", c));
    }
    return Error(t->location, absl::StrFormat("unexpected byte 0x%02x", u));
  }

  std::string_view src_;
  std::string_view filename_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source,
                                            std::string_view filename) {
  return Lexer(source, filename).Run();
}

}  // namespace arbiter::polar
