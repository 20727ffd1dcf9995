#!/usr/bin/env bash
# Measures what docs/simulation.md ("The local endpoint", Figures) reports: the wall time of a one-image build on
# `snapshot-factory local` at the default speed, started and polled (every 2 s) with the real AWS CLI.
# Usage: bash test/local/measure-default-speed.sh [runs]   (needs `aws`; no AWS account, no network)
set -euo pipefail
cd "$(dirname "$0")/../.."
export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-west-2 AWS_DEFAULT_REGION=us-west-2
out=$(mktemp)
node --import tsx cli/snapshot-factory.ts local --port 0 >"$out" 2>/dev/null &
server=$!
trap 'kill -TERM $server 2>/dev/null; rm -f "$out"' EXIT
until [ "$(wc -l <"$out")" -ge 2 ]; do sleep 1; done
arn=$(sed -n 1p "$out"); endpoint=$(sed -n 2p "$out")
for run in $(seq 1 "${1:-3}"); do
  start=$(date +%s.%N)
  aws stepfunctions start-execution --endpoint-url "$endpoint" --state-machine-arn "$arn" --name "measure-$run" \
    --input '{"images":["public.ecr.aws/eks-distro/kubernetes/pause:3.9"],"force":true}' >/dev/null
  while :; do
    status=$(aws stepfunctions describe-execution --endpoint-url "$endpoint" --execution-arn "${arn/:stateMachine:/:execution:}:measure-$run" --query status --output text)
    [ "$status" != RUNNING ] && break
    sleep 2
  done
  printf 'run %s: %s after %.1f s of wall time\n' "$run" "$status" "$(echo "$(date +%s.%N) - $start" | bc)"
done
