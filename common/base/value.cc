#include "common/base/value.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace arbiter {

std::string ToString(const Value& v) { return absl::StrCat(v.type, ":", v.id); }

std::string ToString(const Fact& f) {
  return absl::StrCat(
      f.predicate, "(",
      absl::StrJoin(f.args, ", ",
                    [](std::string* out, const Value& v) {
                      absl::StrAppend(out, ToString(v));
                    }),
      ")");
}

}  // namespace arbiter
