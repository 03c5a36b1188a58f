// Golden tests: every tests/data/polar/valid/*.polar compiles and its
// ProgramToString dump equals *.expected; every invalid/*.polar fails with
// exactly the text in *.expected. ARBITER_UPDATE_GOLDEN=1 rewrites the
// .expected files instead of comparing.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/polar/policy.h"
#include "common/polar/program_text.h"

namespace arbiter::polar {
namespace {

namespace fs = std::filesystem;

fs::path DataDir() { return fs::path(ARBITER_SOURCE_DIR) / "tests" / "data"; }

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

bool UpdateGolden() {
  const char* v = std::getenv("ARBITER_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

std::vector<fs::path> PolarFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".polar") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void CompareOrUpdate(const fs::path& polar, const std::string& actual) {
  fs::path expected_path = polar;
  expected_path.replace_extension(".expected");
  if (UpdateGolden()) {
    WriteFile(expected_path, actual);
    return;
  }
  INFO("golden file " << expected_path.string()
                      << " (regenerate with ARBITER_UPDATE_GOLDEN=1)");
  REQUIRE(fs::exists(expected_path));
  CHECK(ReadFile(expected_path) == actual);
}

TEST_CASE("valid policies compile to their golden dump", "[unit][polar]") {
  std::vector<fs::path> files = PolarFiles(DataDir() / "polar" / "valid");
  REQUIRE(files.size() >= 10);
  for (const fs::path& f : files) {
    SECTION(f.filename().string()) {
      auto program = CompilePolicy(ReadFile(f), f.filename().string());
      INFO(program.status().message());
      REQUIRE(program.ok());
      CompareOrUpdate(f, ProgramToString(*program));
    }
  }
}

TEST_CASE("invalid policies fail with their golden errors", "[unit][polar]") {
  std::vector<fs::path> files = PolarFiles(DataDir() / "polar" / "invalid");
  REQUIRE(files.size() >= 25);
  for (const fs::path& f : files) {
    SECTION(f.filename().string()) {
      auto program = CompilePolicy(ReadFile(f), f.filename().string());
      REQUIRE_FALSE(program.ok());
      CHECK(program.status().code() == absl::StatusCode::kInvalidArgument);
      CompareOrUpdate(f, std::string(program.status().message()) + "\n");
    }
  }
}

TEST_CASE("reference models compile", "[unit][polar]") {
  std::vector<fs::path> files = PolarFiles(DataDir() / "policies");
  REQUIRE(files.size() >= 7);
  for (const fs::path& f : files) {
    SECTION(f.filename().string()) {
      auto program = CompilePolicy(ReadFile(f), f.filename().string());
      INFO(program.status().message());
      REQUIRE(program.ok());
      CHECK_FALSE(program->tests.empty());
    }
  }
}

}  // namespace
}  // namespace arbiter::polar
