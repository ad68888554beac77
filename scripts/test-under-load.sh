#!/usr/bin/env bash
# Runs `npm test` N times in a row (default 10) on a fresh clone of this checkout's HEAD while a CPU hog (a busy
# loop) runs the whole time, and stops at the first failure: how issue 9's "green 10 times under load" was shown.
# Usage: scripts/test-under-load.sh [N] — the clone, <clone>.run-N.log and <clone>.summary.txt go beside this checkout.
set -u
runs=${1:-10}
source_dir=$(git rev-parse --show-toplevel)
# Beside the checkout, as CI clones it, so that ../shared (bicep-lite, used by test/infra) resolves the same way.
work="$(dirname "$source_dir")/kvguard-under-load-$(date +%Y%m%dT%H%M%S)"
git clone -q "$source_dir" "$work"
cd "$work" || exit 1
npm ci --no-audit --no-fund > "$work.npm-ci.log" 2>&1 || { echo "npm ci failed: $work.npm-ci.log"; exit 1; }
node -e 'for(;;){}' &
hog=$!
trap 'kill $hog' EXIT
echo "clone $work; commit $(git rev-parse --short HEAD)" | tee "$work.summary.txt"
for i in $(seq 1 "$runs"); do
  started=$(date +%s)
  npm test > "$work.run-$i.log" 2>&1
  status=$?
  echo "run $i exit=$status seconds=$(($(date +%s) - started)) load=$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work.summary.txt"
  [ "$status" -eq 0 ] || { echo "failed at run $i: $work.run-$i.log"; exit 1; }
done
echo "all $runs green" | tee -a "$work.summary.txt"
