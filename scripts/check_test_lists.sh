#!/usr/bin/env bash
# Fails if a Catch2 test binary of BUILD_DIR registered no test cases with
# ctest. A binary that aborts while listing its cases (a duplicate protobuf
# descriptor, a failing static initializer) gets an empty list from
# catch_discover_tests, and ctest would then pass without running it: this
# happened to server_test under clang and g++ alike. Also fails for a test
# case name with ';' (below). Called by scripts/test.sh and
# scripts/sanitize.sh after building.
#   scripts/check_test_lists.sh [BUILD_DIR]     (default: build)
set -euo pipefail
BUILD_DIR=${1:-build}
empty=$(find "$BUILD_DIR/tests" -name '*_tests-*.cmake' \
  -exec grep -lE '^set\( *[A-Za-z0-9_]+_TESTS *\)$' {} + || true)
if [ -n "$empty" ]; then
  echo "test binaries that registered no test cases (run each to see why):" >&2
  sed -e 's#_tests-[^/]*\.cmake$##' -e 's#^#  #' <<<"$empty" >&2
  exit 1
fi
# A ';' in a test case's name splits it in CMake's list: ctest then runs a
# filter that matches no case, and "passes" (three cases were skipped that
# way until 2026-12-02).
semicolons=$(grep -rnE '(TEMPLATE_)?TEST_CASE\("[^"]*;' "$(dirname "$0")/../tests" || true)
if [ -n "$semicolons" ]; then
  echo "test case names with ';' (ctest would run none of them):" >&2
  echo "$semicolons" >&2
  exit 1
fi
