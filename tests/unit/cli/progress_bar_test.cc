#include "services/cli/progress_bar.h"

#include <sstream>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"

namespace arbiter::cli {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST_CASE("a terminal gets a bar redrawn in place, at most 10 times a second", "[unit][cli]") {
  std::ostringstream err;
  ProgressBar bar(err, /*terminal=*/true, "ops", 6000, kStart);
  bar.Update(100, kStart + absl::Milliseconds(50));  // too soon: nothing
  CHECK(err.str().empty());
  bar.Update(3000, kStart + absl::Seconds(2));
  CHECK(err.str() ==
        "\r[##########----------] 3,000 of 6,000 ops (50%), 1,500 ops/s, ETA 2s\x1b[K");
  err.str("");
  bar.Update(6000, kStart + absl::Seconds(3));
  bar.Finish(kStart + absl::Seconds(3));
  CHECK(absl::StrContains(err.str(), "[####################] 6,000 of 6,000 ops (100%)"));
  CHECK(absl::EndsWith(err.str(), "\x1b[K\n"));  // the line is ended once
  err.str("");
  bar.Finish();
  CHECK(err.str().empty());
}

TEST_CASE("a pipe gets a plain line every 5 s, nothing for quick work", "[unit][cli]") {
  std::ostringstream quick;
  {
    ProgressBar bar(quick, /*terminal=*/false, "ops", 10, kStart);
    bar.Update(10, kStart + absl::Seconds(1));
    bar.Finish(kStart + absl::Seconds(1));
  }
  CHECK(quick.str().empty());

  std::ostringstream slow;
  ProgressBar bar(slow, /*terminal=*/false, "facts", /*total=*/0, kStart);
  bar.Update(1000, kStart + absl::Seconds(4));
  CHECK(slow.str().empty());
  bar.Update(50'000, kStart + absl::Seconds(5));
  CHECK(slow.str() == "50,000 facts, 10,000 facts/s\n");
  bar.Update(60'000, kStart + absl::Seconds(6));  // within 5 s of the last line
  bar.Finish(kStart + absl::Seconds(6));
  CHECK(slow.str() == "50,000 facts, 10,000 facts/s\n60,000 facts, 10,000 facts/s\n");
  CHECK(slow.str().find('\r') == std::string::npos);
}

}  // namespace
}  // namespace arbiter::cli
