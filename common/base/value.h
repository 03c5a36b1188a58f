#ifndef ARBITER_COMMON_BASE_VALUE_H_
#define ARBITER_COMMON_BASE_VALUE_H_

// The data model shared by every layer (DESIGN.md §2): a Value is an entity
// such as User:alice, or a literal whose type is String, Integer (the id holds
// a decimal int64) or Boolean (the id is "true" or "false"). A Fact is a
// predicate name applied to 1..kMaxArity values.

#include <compare>
#include <string>
#include <vector>

namespace arbiter {

inline constexpr int kMaxArity = 5;

inline constexpr char kStringType[] = "String";
inline constexpr char kIntegerType[] = "Integer";
inline constexpr char kBooleanType[] = "Boolean";

struct Value {
  std::string type;
  std::string id;

  friend bool operator==(const Value&, const Value&) = default;
  friend auto operator<=>(const Value&, const Value&) = default;
};

// Renders "Type:id" (the CLI's notation), e.g. User:alice, String:read.
std::string ToString(const Value& v);

struct Fact {
  std::string predicate;
  std::vector<Value> args;

  friend bool operator==(const Fact&, const Fact&) = default;
  friend auto operator<=>(const Fact&, const Fact&) = default;
};

// Renders pred(Type:id, ...), e.g. has_role(User:alice, String:admin, Org:acme).
std::string ToString(const Fact& f);

template <typename H>
H AbslHashValue(H h, const Value& v) {
  return H::combine(std::move(h), v.type, v.id);
}
template <typename H>
H AbslHashValue(H h, const Fact& f) {
  return H::combine(std::move(h), f.predicate, f.args);
}

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_VALUE_H_
