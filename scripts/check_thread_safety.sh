#!/usr/bin/env bash
# Checks Abseil's thread-safety annotations (ABSL_GUARDED_BY, ...) with clang,
# which enforces them (g++ ignores them): clang++ -fsyntax-only
# -Wthread-safety -Werror over every .cc file under common/ and services/.
# Needs a configured build directory for the generated protobuf headers.
#   scripts/check_thread_safety.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-${ARBITER_BUILD_DIR:-build}}
[ -d "$BUILD_DIR/proto/arbiter" ] || { echo "no generated protos in $BUILD_DIR: build first"; exit 2; }
find common services -name '*.cc' | sort | xargs -P "${ARBITER_JOBS:-2}" -n 4 \
  clang++ -std=c++20 -fsyntax-only -Wthread-safety -Werror \
    -I. -Iproto -I"$BUILD_DIR/proto" -I"$BUILD_DIR/tests/testing"
echo "thread-safety analysis: clean ($(find common services -name '*.cc' | wc -l) files)"
