#ifndef ARBITER_COMMON_EVAL_ENGINE_INTERNAL_H_
#define ARBITER_COMMON_EVAL_ENGINE_INTERNAL_H_

// The engine's compiled form of a polar::Program. Private to common/eval.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/base/value.h"
#include "common/polar/program.h"

namespace arbiter::eval::internal {

// A term with constants resolved to indexes.
struct CTerm {
  enum Kind : uint8_t {
    kVar,    // index: the rule's variable
    kConst,  // index: CompiledProgram::constants
    kSym,    // index: a symbol of one evaluation (query terms only)
    kTime,   // @current_unix_time
  };
  Kind kind = kConst;
  uint32_t index = 0;
};

struct CLiteral {
  polar::Literal::Kind kind = polar::Literal::Kind::kCall;
  uint32_t pred = 0;          // kCall, kNotCall
  std::vector<CTerm> args;    // kCall, kNotCall; kIn: the list
  CTerm left, right;          // kUnify, kCompare, kIn (left)
  polar::CompareOp op = polar::CompareOp::kEq;
  std::vector<uint32_t> types;  // kMatches: indexes into type_names
  polar::Location location;
};

struct CRule {
  uint32_t pred = 0;
  std::vector<CTerm> params;
  std::vector<std::vector<uint32_t>> param_types;  // per param (type_names); empty = any
  std::vector<CLiteral> body;
  uint32_t num_vars = 0;
  std::vector<std::string> var_names;
  std::vector<bool> head_var;  // per variable: appears among params
  polar::Location location;
  std::string text;  // the rule's source, for Explain
};

struct PredInfo {
  std::string name;
  int arity = 0;
  std::vector<uint32_t> rules;  // indexes into CompiledProgram::rules
  bool tabled = false;          // part of a recursive call cycle
  bool declared = false;        // a fact signature names it
};

struct CompiledProgram {
  polar::Program program;
  std::vector<Value> constants;
  std::vector<std::string> type_names;  // every type a rule or query tests
  absl::flat_hash_map<std::string, uint32_t> type_index;
  absl::flat_hash_map<Value, uint32_t> constant_index;
  std::vector<PredInfo> preds;
  absl::flat_hash_map<std::pair<std::string, int>, uint32_t> pred_index;
  std::vector<CRule> rules;
  uint32_t allow_pred = 0;
  // Strings an allow could name as its action (for Actions over an allow
  // that holds for any action): declared permissions and roles and every
  // String constant, ascending, distinct.
  std::vector<Value> action_candidates;
};

}  // namespace arbiter::eval::internal

#endif  // ARBITER_COMMON_EVAL_ENGINE_INTERNAL_H_
