#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and starts the
# whole suite on this machine with the default ports of DESIGN.md §5
#   arbiter-log     127.0.0.1:50051   data in ./var/log
#   arbiter-writer  127.0.0.1:50052   host data in ./var/host
#   arbiter-reader  127.0.0.1:50053   and a second one on 127.0.0.1:50054
# with Prometheus metrics at http://127.0.0.1:9461/metrics (log), :9462
# (writer), :9463 and :9464 (readers; docs/OPERATIONS.md);
# loads the demo policy and facts (scripts/demo/), prints how to query, and
# stops everything on Ctrl-C. API keys (docs/SECURITY.md) are in ./var/keys:
# operator.key (the log's bootstrap key: every scope) and host.key (a
# replicate key the writer and readers send to the log), both mode 0600.
#   scripts/run.sh              run in the foreground
#   scripts/run.sh --detach     leave the suite running; stop it with
#   scripts/run.sh stop
#   scripts/run.sh --replicated the log on a local 3-member etcd cluster
#                               (client ports 2379, 12379, 22379; data in
#                               ./var/replicated) with two front-ends, on 50051
#                               and 50061 (metrics :9461, :9471); the host
#                               follows both (issue #14). Combines with
#                               --detach.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${ARBITER_BUILD_DIR:-build}
VAR=$ROOT/var
RUN=$VAR/run
BUF=$ROOT/scripts/node/node_modules/.bin/buf
HEALTH_PROTO=/usr/share/grpc-proto/grpc/health/v1/health.proto

stop_all() {
  for f in "$RUN"/*.pid; do
    [ -f "$f" ] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$RUN"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
}

DETACH=0
REPLICATED=0
for arg in "$@"; do
  case "$arg" in
    --detach) DETACH=1 ;;
    --replicated) REPLICATED=1 ;;
    stop) ;;
    *) echo "usage: scripts/run.sh [--detach] [--replicated] | stop" >&2; exit 2 ;;
  esac
done

if [ "${1:-}" = "stop" ]; then
  stop_all
  echo "stopped"
  exit 0
fi

scripts/install_deps.sh
scripts/build.sh
stop_all
# --replicated: a cluster of its own (another cluster id), so its data and
# keys live apart from the single-process suite's.
[ "$REPLICATED" = 1 ] && VAR=$ROOT/var/replicated
mkdir -p "$RUN" "$VAR/log" "$VAR/host"
KEYS=$VAR/keys
(umask 077 && mkdir -p "$KEYS")
CLI=$BUILD_DIR/services/cli/arbiter

start() {  # name binary args...
  local name=$1 bin=$2
  shift 2
  "$BUILD_DIR/services/$bin" "$@" --drain_grace=1s >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

wait_serving() {  # name port
  for _ in $(seq 300); do
    if "$BUF" curl --protocol grpc --http2-prior-knowledge --schema "$HEALTH_PROTO" \
        "http://127.0.0.1:$2/grpc.health.v1.Health/Check" -d '{}' 2>/dev/null |
        grep -q '"SERVING"'; then
      echo "  $1 on 127.0.0.1:$2: SERVING"
      return 0
    fi
    sleep 0.1
  done
  echo "  $1 on 127.0.0.1:$2 did not become SERVING; its log:" >&2
  tail -20 "$RUN/$1.log" >&2
  return 1
}

echo "==> starting the suite (logs in var/run/)"
trap 'echo; echo "==> stopping"; stop_all; exit 0' INT TERM
LOG_ADDRESS=127.0.0.1:50051
if [ "$REPLICATED" = 1 ]; then
  CLUSTER=m0=http://127.0.0.1:2380,m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380
  ENDPOINTS=127.0.0.1:2379,127.0.0.1:12379,127.0.0.1:22379
  for m in 0 1 2; do
    port=$((2379 + m * 10000))
    peer=$((2380 + m * 10000))
    state=new
    [ -d "$VAR/etcd/m$m/member" ] && state=existing
    mkdir -p "$VAR/etcd"
    /usr/bin/etcd --name=m$m --data-dir="$VAR/etcd/m$m" \
      --listen-client-urls=http://127.0.0.1:$port --advertise-client-urls=http://127.0.0.1:$port \
      --listen-peer-urls=http://127.0.0.1:$peer --initial-advertise-peer-urls=http://127.0.0.1:$peer \
      --initial-cluster=$CLUSTER --initial-cluster-state=$state \
      --initial-cluster-token=arbiter-run --log-level=warn >"$RUN/etcd-m$m.log" 2>&1 &
    echo $! >"$RUN/etcd-m$m.pid"
  done
  for _ in $(seq 300); do
    ETCDCTL_API=3 etcdctl --endpoints=$ENDPOINTS endpoint health >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "  etcd on $ENDPOINTS"
  mkdir -p "$VAR/log-2"
  start log log/arbiter-log --listen=127.0.0.1:50051 --data_dir="$VAR/log" \
    --bootstrap_key_file="$KEYS/operator.key" --store=etcd --etcd_endpoints=$ENDPOINTS
  start log-2 log/arbiter-log --listen=127.0.0.1:50061 --data_dir="$VAR/log-2" \
    --metrics_listen=127.0.0.1:9471 --store=etcd --etcd_endpoints=$ENDPOINTS
  wait_serving log 50051
  wait_serving log-2 50061
  LOG_ADDRESS=127.0.0.1:50051,127.0.0.1:50061
else
  start log log/arbiter-log --listen=127.0.0.1:50051 --data_dir="$VAR/log" \
    --bootstrap_key_file="$KEYS/operator.key"
  wait_serving log 50051
fi
if [ ! -s "$KEYS/host.key" ]; then
  (umask 077 && "$CLI" keys create --cluster --scopes=replicate --name=demo-host \
      --key_file="$KEYS/operator.key" >"$KEYS/host.key.tmp")
  mv "$KEYS/host.key.tmp" "$KEYS/host.key"
fi
start writer writer/arbiter-writer --listen=127.0.0.1:50052 --data_dir="$VAR/host" \
  --log_address=$LOG_ADDRESS --log_key_file="$KEYS/host.key"
start reader-1 reader/arbiter-reader --listen=127.0.0.1:50053 --data_dir="$VAR/host" \
  --log_address=$LOG_ADDRESS --log_key_file="$KEYS/host.key"
start reader-2 reader/arbiter-reader --listen=127.0.0.1:50054 --data_dir="$VAR/host" \
  --log_address=$LOG_ADDRESS --log_key_file="$KEYS/host.key" --metrics_listen=127.0.0.1:9464
wait_serving writer 50052
wait_serving reader-1 50053
wait_serving reader-2 50054

if [ -x scripts/demo/load.sh ]; then
  echo "==> loading the demo policy and facts"
  ARBITER_KEY_FILE="$KEYS/operator.key" scripts/demo/load.sh "$CLI"
fi

cat <<MSG

Arbiter is running. Every call needs an API key; the demo's operator key is
in var/keys/operator.key (it may do everything: keep it secret). Try:
  export ARBITER_KEY_FILE=$KEYS/operator.key
  $CLI authorize User:alice push Repository:anvils
  $CLI keys create --tenant=default --scopes=read --name=my-service
  $BUF curl --protocol grpc --http2-prior-knowledge --list-services http://127.0.0.1:50053
  $BUF curl --protocol grpc --http2-prior-knowledge --schema $HEALTH_PROTO \\
      http://127.0.0.1:50053/grpc.health.v1.Health/Check -d '{}'
  curl -s http://127.0.0.1:9463/metrics | grep arbiter_reader_decisions_total
MSG

if [ "$DETACH" = 1 ]; then
  trap - INT TERM
  echo "Left running; stop with: scripts/run.sh stop"
  exit 0
fi
echo "Press Ctrl-C to stop."
while true; do sleep 1; done
