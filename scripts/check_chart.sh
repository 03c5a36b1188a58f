#!/usr/bin/env bash
# The Helm chart (helm/arbiter), offline: `helm lint --strict`, then
# `helm template` with every values file in helm/arbiter/ci/, each rendered
# object validated against the Kubernetes API schemas (npm
# kubernetes-models, scripts/node/validate_manifests.mjs), the properties
# the deployment depends on checked in the output, and the values the chart
# must refuse refused. helm comes from scripts/install_deps.sh. ctest
# helm_chart runs it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HELM="$ROOT/.cache/helm-3.17.1/helm"
CHART="$ROOT/helm/arbiter"
[ -x "$HELM" ] || { echo "helm is missing: run scripts/install_deps.sh"; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export HELM_CACHE_HOME="$TMP/cache" HELM_CONFIG_HOME="$TMP/config" HELM_DATA_HOME="$TMP/data"

fail() { echo "check_chart: $*" >&2; exit 1; }
expect() {  # expect FILE TEXT: the rendering holds TEXT
  grep -qF -- "$2" "$1" || fail "$(basename "$1"): expected \"$2\""
}

for values in "$CHART"/ci/*.yaml; do
  name="$(basename "$values" .yaml)"
  echo "==> $name"
  "$HELM" lint --strict "$CHART" -f "$values" >"$TMP/lint" 2>&1 || { cat "$TMP/lint"; fail "helm lint --strict -f $name"; }
  "$HELM" template arbiter "$CHART" -f "$values" >"$TMP/$name.yaml"
  node "$ROOT/scripts/node/validate_manifests.mjs" <"$TMP/$name.yaml"
  out="$TMP/$name.yaml"
  expect "$out" "internalTrafficPolicy: Local"
  expect "$out" "kind: PodDisruptionBudget"
  expect "$out" "readOnlyRootFilesystem: true"
  expect "$out" "runAsNonRoot: true"
  expect "$out" "maxUnavailable: 0"      # readers: a new one beside the old
  expect "$out" "--reader_id=\$(POD_NAME)"
  expect "$out" "drain-node"
  expect "$out" "--undrain_on_start"
  if ! grep -qF "readOnlyRootFilesystem: false" "$out"; then :; else fail "$name: a writable root filesystem"; fi
done
expect "$TMP/default-values.yaml" "type: OnDelete"
expect "$TMP/tls-values.yaml" "--tls_client_ca=/etc/arbiter/tls/ca.crt"
expect "$TMP/tls-values.yaml" "port: 8086"   # probes on the health-only port
expect "$TMP/rolling-writer-values.yaml" "maxSurge: 0"
expect "$TMP/etcd-log-values.yaml" "--store=etcd"
expect "$TMP/etcd-log-values.yaml" "--advertise_address=\$(POD_IP):50051"
expect "$TMP/etcd-log-values.yaml" "replicas: 2"
expect "$TMP/etcd-log-values.yaml" "--etcd_endpoints=etcd-0.etcd:2379,etcd-1.etcd:2379,etcd-2.etcd:2379"
if grep -qF -- "--store=etcd" "$TMP/default-values.yaml"; then fail "default-values: --store=etcd"; fi

refuse() {  # refuse MESSAGE --set ...: the chart must not render
  local message="$1"; shift
  if "$HELM" template arbiter "$CHART" "$@" >"$TMP/refused" 2>&1; then
    fail "rendered with $* (expected: $message)"
  fi
  grep -qF -- "$message" "$TMP/refused" || { cat "$TMP/refused"; fail "$*: expected \"$message\""; }
  echo "refused as it should: $*"
}
refuse "maxSurge must be 0" --set writer.updateStrategy.type=RollingUpdate \
  --set writer.updateStrategy.rollingUpdate.maxSurge=1
refuse "log.store=nats: sqlite or etcd" --set log.store=nats
refuse "log.etcd.endpoints" --set log.store=etcd
refuse "log.replicas > 1 needs log.store=etcd" --set log.replicas=2
refuse "reader.terminationGracePeriodSeconds" --set reader.terminationGracePeriodSeconds=5
refuse "writer.terminationGracePeriodSeconds" --set writer.terminationGracePeriodSeconds=30
echo "check_chart: every rendering is valid"
