#!/usr/bin/env bash
# Loads the demo into a running suite with the arbiter CLI: the tenant
# ($ARBITER_TENANT, else "default"), the GitHub-like policy (policy.polar) and
# a few facts (facts.jsonl). Idempotent: safe to run again. Request ids carry
# a hash of each file, so an unchanged file is not written twice and an edited
# one is written again.
#   scripts/demo/load.sh build/services/cli/arbiter
# Addresses and the API key come from the CLI's usual variables (ARBITER_LOG_ADDRESS,
# ARBITER_READER_ADDRESS, ARBITER_KEY or ARBITER_KEY_FILE), default 127.0.0.1:50051 and :50053.
set -euo pipefail
ARBITER=${1:?usage: scripts/demo/load.sh PATH/TO/arbiter}
DEMO=$(cd "$(dirname "$0")" && pwd)
TENANT=${ARBITER_TENANT:-default}
export ARBITER_TENANT=$TENANT

digest() { sha256sum "$1" | cut -c1-16; }

if out=$("$ARBITER" tenants create "$TENANT" --request_id=demo-tenant 2>&1); then
  echo "  tenant $TENANT: ready"
elif grep -q ALREADY_EXISTS <<<"$out"; then
  echo "  tenant $TENANT: exists"
else
  echo "$out" >&2
  exit 2
fi
"$ARBITER" policy push "$DEMO/policy.polar" --request_id="demo-policy-$(digest "$DEMO/policy.polar")" \
  --print_token >/dev/null
echo "  policy: scripts/demo/policy.polar"
token=$("$ARBITER" batch "$DEMO/facts.jsonl" \
  --request_id="demo-facts-$(digest "$DEMO/facts.jsonl")" --print_token)
echo "  facts: scripts/demo/facts.jsonl"
# Read your writes: returns once the reader has applied the facts.
"$ARBITER" authorize User:alice push Repository:anvils --at_least="$token" >/dev/null
cat <<MSG
Demo loaded into tenant "$TENANT". Try:
  $ARBITER authorize User:alice push Repository:anvils   # allowed (exit 0)
  $ARBITER authorize User:bob push Repository:anvils     # denied (exit 1)
  $ARBITER actions User:bob Repository:anvils
MSG
