#!/usr/bin/env bash
# `npm test`: the type check and vitest side by side, failing if either fails. The type check (~3 s with TypeScript 7)
# runs while vitest's first files wait on child processes and the wall clock, instead of before them. Its
# output is printed once vitest is done, so the two do not interleave. Arguments go to vitest.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp
typecheck_log=.tmp/typecheck.log
npm run --silent typecheck >"$typecheck_log" 2>&1 &
typecheck_pid=$!
npx vitest run "$@"
vitest_status=$?
wait "$typecheck_pid"
typecheck_status=$?
if [ "$typecheck_status" -ne 0 ]; then
  echo "type check failed (npm run typecheck, exit $typecheck_status):" >&2
  cat "$typecheck_log" >&2
else
  echo "type check passed (npm run typecheck)"
fi
[ "$vitest_status" -eq 0 ] && [ "$typecheck_status" -eq 0 ]
