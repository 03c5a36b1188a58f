#!/usr/bin/env bash
# The policy constructs of Oso Cloud's documentation, one small policy each
# (tests/data/polar/constructs/, table in docs/POLICY_LANGUAGE.md): runs
# `arbiter policy test` on every file listed in EXPECTED.tsv and checks its
# exit code (0 every test passed, 1 an assertion failed, 2 refused) and, for
# a refusal, that the first error is the expected message. ctest
# policy_constructs runs it.
#   scripts/check_policy_constructs.sh PATH/TO/arbiter
set -euo pipefail
ARBITER=$(realpath "${1:?usage: scripts/check_policy_constructs.sh PATH/TO/arbiter}")
DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/data/polar/constructs"
cd "$DIR"
failed=0 count=0
listed=" "
while IFS=$'\t' read -r file want message; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  listed+="$file "
  count=$((count + 1))
  set +e
  out=$("$ARBITER" policy test "$file" 2>&1)
  rc=$?
  set -e
  if [ "$rc" != "$want" ]; then
    echo "FAIL $file: exit $rc, expected $want"; echo "$out" | head -5 | sed 's/^/  /'
    failed=$((failed + 1))
  elif [ "$want" = 2 ] && ! grep -qF -- "$message" <<<"$out"; then
    echo "FAIL $file: refused, but not with: $message"; echo "$out" | head -5 | sed 's/^/  /'
    failed=$((failed + 1))
  fi
done < EXPECTED.tsv
for f in *.polar; do
  [[ "$listed" == *" $f "* ]] || { echo "FAIL $f: not listed in EXPECTED.tsv"; failed=$((failed + 1)); }
done
echo "check_policy_constructs: $((count - failed)) of $count as expected"
[ "$failed" -eq 0 ]
