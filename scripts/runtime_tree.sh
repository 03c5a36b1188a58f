#!/usr/bin/env bash
# Installs Arbiter's binaries and exactly the shared libraries they load
# (ldd's list, the dynamic loader included) into a directory tree:
#   DEST/usr/local/bin/{arbiter-log,arbiter-writer,arbiter-reader,arbiter,arbiter-fleet}
#   DEST/lib/x86_64-linux-gnu/...       (every library at the path ldd names)
#   DEST/lib64/ld-linux-x86-64.so.2
# The container image (Dockerfile) is this tree on top of debian:12-slim, and
# scripts/check_runtime_tree.sh runs the demo inside it (chroot), so a
# library the tree lacks fails CI rather than a deployment.
#   scripts/runtime_tree.sh [BUILD_DIR] DEST
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 1 ]; then BUILD_DIR=build; DEST=$1; else BUILD_DIR=$1; DEST=$2; fi
BINARIES=(services/log/arbiter-log services/writer/arbiter-writer services/reader/arbiter-reader
          services/cli/arbiter services/fleet/arbiter-fleet)

install -d "$DEST/usr/local/bin"
libs=()
for b in "${BINARIES[@]}"; do
  [ -x "$BUILD_DIR/$b" ] || { echo "runtime_tree: $BUILD_DIR/$b is not built" >&2; exit 1; }
  # Stripped: the image carries no debug information (the build tree keeps it).
  install -m 0755 -s "$BUILD_DIR/$b" "$DEST/usr/local/bin/"
  # "libx.so.1 => /lib/x86_64-linux-gnu/libx.so.1 (0x...)" and the loader's
  # "/lib64/ld-linux-x86-64.so.2 (0x...)"; a "not found" stops here.
  if ldd "$BUILD_DIR/$b" | grep -q "not found"; then
    ldd "$BUILD_DIR/$b" | grep "not found" >&2
    exit 1
  fi
  while read -r path; do libs+=("$path"); done < <(
    ldd "$BUILD_DIR/$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
done
for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
  install -d "$DEST$(dirname "$lib")"
  cp -L "$lib" "$DEST$lib"   # the file itself, under the name the binaries ask for
done
echo "runtime_tree: ${#BINARIES[@]} binaries, $(printf '%s\n' "${libs[@]}" | sort -u | wc -l) libraries," \
     "$(du -sh "$DEST" | cut -f1) in $DEST"
