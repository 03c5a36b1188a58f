// LogOptions::Validate (services/log/log_core.h): every bad value is
// INVALID_ARGUMENT naming its flag.

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "services/log/log_core.h"

namespace arbiter::log {
namespace {

TEST_CASE("log options: defaults are valid, bad values name their flag", "[unit][log]") {
  CHECK(LogOptions{}.Validate().ok());
  CHECK(LogOptions{.snapshot_every_entries = 0, .snapshot_every_facts = 0,
                   .snapshot_every_bytes = 0}
            .Validate()
            .ok());
  auto named = [](const LogOptions& o, const char* flag) {
    absl::Status s = o.Validate();
    INFO(s);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(absl::StartsWith(s.message(), flag));
  };
  named({.snapshot_every_entries = -1}, "--snapshot_every_entries");
  named({.snapshot_every_facts = -1}, "--snapshot_every_facts");
  named({.snapshot_every_bytes = -1}, "--snapshot_every_bytes");
  named({.snapshot_keep = 0}, "--snapshot_keep");
  named({.snapshot_retention = absl::Seconds(-1)}, "--snapshot_retention");
}

}  // namespace
}  // namespace arbiter::log
