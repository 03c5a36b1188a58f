#!/usr/bin/env bash
# Interop: buf curl (npm @bufbuild/buf, pinned in scripts/node) against a
# local suite started by with_cluster, with server reflection alone (no
# .proto files), the way grpcurl users work: list the services, create a
# tenant, push a policy, write facts, Authorize (allowed and denied), and one
# bad request (buf curl exits with the gRPC code x 8). Over TLS (https://,
# --cacert, and a client certificate) when $ARBITER_TLS_CA, $ARBITER_TLS_CERT
# and $ARBITER_TLS_KEY are set (with_cluster --tls), else HTTP/2 plaintext.
set -uo pipefail
BUF=$ARBITER_SOURCE_DIR/scripts/node/node_modules/.bin/buf
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BUF" ] || fail "buf is missing ($BUF): run scripts/install_deps.sh"
if [ -n "${ARBITER_TLS_CA:-}" ]; then
  SCHEME=https
  TRANSPORT=(--cacert "$ARBITER_TLS_CA" --cert "$ARBITER_TLS_CERT" --key "$ARBITER_TLS_KEY")
else
  SCHEME=http
  TRANSPORT=(--http2-prior-knowledge)
fi
LOG=$SCHEME://$ARBITER_LOG_ADDRESS
READER=$SCHEME://$ARBITER_READER_ADDRESS
bufcurl() { "$BUF" curl --protocol grpc "${TRANSPORT[@]}" "$@"; }
# Every call carries the API key (docs/SECURITY.md), as a grpcurl user would:
# -H 'authorization: Bearer <key>'.
curl_() {
  bufcurl --emit-defaults -H "authorization: Bearer $ARBITER_KEY" "$@"
}

services=$(curl_ --list-services "$READER") || fail "list services: $services"
for s in arbiter.v1.ReaderService grpc.health.v1.Health grpc.reflection.v1alpha.ServerReflection; do
  grep -qx "$s" <<<"$services" || fail "reader does not list $s: $services"
done
grep -qx arbiter.v1.LogService <<<"$(curl_ --list-services "$LOG")" || fail "log does not list LogService"
curl_ "$LOG/arbiter.v1.LogService/CreateTenant" -d '{"tenant": "buf-interop"}' >/dev/null \
  || fail "CreateTenant"
policy=$(/usr/bin/python3 -c 'import json, sys; print(json.dumps({"tenant": "buf-interop",
  "filename": "github.polar", "source": open(sys.argv[1]).read()}))' \
  "$ARBITER_SOURCE_DIR/tests/data/policies/github.polar")
curl_ "$LOG/arbiter.v1.LogService/SetPolicy" -d "$policy" >/dev/null || fail "SetPolicy"
write=$(curl_ "$LOG/arbiter.v1.LogService/Write" -d '{"tenant": "buf-interop", "operations": [
  {"insert": {"predicate": "has_role", "args": [{"type": "User", "id": "alice"},
    {"type": "String", "id": "maintainer"}, {"type": "Repository", "id": "anvils"}]}}]}') \
  || fail "Write: $write"
token=$(/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["consistencyToken"])' <<<"$write")

authorize() {  # user -> the response JSON
  curl_ "$READER/arbiter.v1.ReaderService/Authorize" -d "{\"tenant\": \"buf-interop\",
    \"actor\": {\"type\": \"User\", \"id\": \"$1\"}, \"action\": \"push\",
    \"resource\": {\"type\": \"Repository\", \"id\": \"anvils\"},
    \"consistency\": {\"atLeast\": \"$token\"}}"
}
out=$(authorize alice) || fail "Authorize alice: $out"
grep -q '"allowed": true' <<<"$out" || fail "alice should be allowed: $out"
out=$(authorize bob) || fail "Authorize bob: $out"
grep -q '"allowed": false' <<<"$out" || fail "bob should be denied: $out"

out=$(curl_ "$READER/arbiter.v1.ReaderService/Authorize" \
  -d '{"tenant": "buf-interop", "action": "push", "resource": {"type": "Repository", "id": "x"}}' 2>&1)
code=$?
[ "$code" -eq 24 ] || fail "a request without actor: exit $code (want 24 = INVALID_ARGUMENT x 8): $out"
grep -q "actor" <<<"$out" || fail "the error does not name the field: $out"
out=$(bufcurl "$LOG/arbiter.v1.LogService/ListTenants" -d '{}' 2>&1)
code=$?
[ "$code" -eq 128 ] || fail "a call without an API key: exit $code (want 128 = UNAUTHENTICATED x 8): $out"
echo "buf curl interop ($SCHEME): ok ($("$BUF" --version))"
