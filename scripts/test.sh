#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test (unit, property and integration) with ctest, ending with ctest's
# summary line. Extra arguments go to ctest (e.g. -L unit, -R polar).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
scripts/check_test_lists.sh "${ARBITER_BUILD_DIR:-build}"
cd "${ARBITER_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "${ARBITER_JOBS:-2}" "$@"
