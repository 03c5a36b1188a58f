#!/usr/bin/env bash
# Builds the runtime tree (scripts/runtime_tree.sh: the image's contents)
# into a temporary directory and runs the demo inside it with chroot: the
# log, a writer and a reader start from the tree alone, the CLI loads
# scripts/demo and answers allowed / denied, arbiter-fleet drains the host.
# A shared library the tree lacks makes a process fail to start, and this
# script with it. Needs root (chroot, mknod). ctest runtime_tree runs it.
#   scripts/check_runtime_tree.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${1:-build}
[ "$(id -u)" -eq 0 ] || { echo "check_runtime_tree: needs root (chroot)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/arbiter-tree.XXXXXX)
TREE=$TMP/tree
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if mountpoint -q "$TREE/proc"; then umount "$TREE/proc"; fi
  rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT
fail() {
  echo "check_runtime_tree: $*" >&2
  for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f")"; tail -20 "$f"; } >&2; done
  exit 1
}

scripts/runtime_tree.sh "$BUILD_DIR" "$TREE"
# What a container runtime provides: /proc (the writer reads the boot id),
# /dev/null and the random devices, /tmp.
mkdir -p "$TREE/dev" "$TREE/proc" "$TREE/tmp" "$TREE/var/run"
mount -t proc proc "$TREE/proc"
mknod -m 666 "$TREE/dev/null" c 1 3
mknod -m 666 "$TREE/dev/random" c 1 8
mknod -m 666 "$TREE/dev/urandom" c 1 9
chmod 1777 "$TREE/tmp"
# The demo's files, at the same paths inside the tree as outside.
mkdir -p "$TREE$ROOT/scripts/demo"
cp scripts/demo/policy.polar scripts/demo/facts.jsonl "$TREE$ROOT/scripts/demo/"

start() {  # start NAME ARGS...: runs /usr/local/bin/ARGS[0] inside the tree
  local name=$1; shift
  chroot "$TREE" "$@" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
}
port() {  # port NAME: waits for /var/run/NAME.port inside the tree
  for _ in $(seq 300); do
    [ -s "$TREE/var/run/$1.port" ] && { cat "$TREE/var/run/$1.port"; return; }
    kill -0 "${PIDS[-1]}" 2>/dev/null || fail "$1 exited"
    sleep 0.1
  done
  fail "$1 did not start"
}

start log /usr/local/bin/arbiter-log --listen=127.0.0.1:0 --port_file=/var/run/log.port \
  --data_dir=/var/log --bootstrap_key_file=/var/operator.key --metrics_listen=127.0.0.1:0
LOG=127.0.0.1:$(port log)
start writer /usr/local/bin/arbiter-writer --listen=127.0.0.1:0 --port_file=/var/run/writer.port \
  --data_dir=/var/host --log_address="$LOG" --log_key_file=/var/operator.key \
  --metrics_listen=127.0.0.1:0
WRITER=127.0.0.1:$(port writer)
start reader /usr/local/bin/arbiter-reader --listen=127.0.0.1:0 --port_file=/var/run/reader.port \
  --data_dir=/var/host --log_address="$LOG" --log_key_file=/var/operator.key \
  --metrics_listen=127.0.0.1:0
READER=127.0.0.1:$(port reader)

# The CLI from the tree, as scripts/demo/load.sh calls it.
cat >"$TMP/arbiter" <<SH
#!/bin/sh
exec chroot "$TREE" /usr/local/bin/arbiter "\$@"
SH
chmod +x "$TMP/arbiter"
export ARBITER_LOG_ADDRESS=$LOG ARBITER_READER_ADDRESS=$READER ARBITER_WRITER_ADDRESS=$WRITER
export ARBITER_KEY_FILE=/var/operator.key ARBITER_TENANT=default
"$ROOT/scripts/demo/load.sh" "$TMP/arbiter" >"$TMP/demo.log" 2>&1 || fail "the demo did not load"
"$TMP/arbiter" authorize User:alice push Repository:anvils >"$TMP/allowed.log" 2>&1 ||
  fail "alice push anvils: expected allowed"
if "$TMP/arbiter" authorize User:bob push Repository:anvils >"$TMP/denied.log" 2>&1; then
  fail "bob push anvils: expected denied"
fi
chroot "$TREE" /usr/local/bin/arbiter-fleet drain-node --writer="$WRITER" \
  --key_file=/var/operator.key --timeout=60s >"$TMP/drain.log" 2>&1 || fail "drain-node"
echo "check_runtime_tree: the demo runs from the tree alone"
