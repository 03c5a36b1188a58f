#!/usr/bin/env bash
# Checks Abseil's thread-safety annotations (ABSL_GUARDED_BY, ...) with clang,
# which enforces them (g++ ignores them): clang++ -fsyntax-only
# -Wthread-safety -Werror over every .cc file under common/ and services/.
# Needs a configured build directory for the generated protobuf headers.
# The third-party and generated headers (common/precompiled.h and glog) are
# precompiled once into BUILD_DIR/thread_safety.pch: it halves the run.
#   scripts/check_thread_safety.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-${ARBITER_BUILD_DIR:-build}}
[ -d "$BUILD_DIR/proto/arbiter" ] || { echo "no generated protos in $BUILD_DIR: build first"; exit 2; }
FLAGS=(-std=c++20 -Wthread-safety -Werror -I. -Iproto -I"$BUILD_DIR/proto" -I"$BUILD_DIR/proto/etcd" -I"$BUILD_DIR/tests/testing")
printf '#include "common/precompiled.h"\n#include <glog/logging.h>\n' >"$BUILD_DIR/thread_safety_pch.h"
clang++ "${FLAGS[@]}" -x c++-header "$BUILD_DIR/thread_safety_pch.h" -o "$BUILD_DIR/thread_safety.pch"
find common services -name '*.cc' | sort | xargs -P "${ARBITER_JOBS:-2}" -n 4 \
  clang++ "${FLAGS[@]}" -fsyntax-only -include-pch "$BUILD_DIR/thread_safety.pch"
echo "thread-safety analysis: clean ($(find common services -name '*.cc' | wc -l) files)"
