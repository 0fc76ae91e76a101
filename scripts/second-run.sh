#!/usr/bin/env bash
# Times the second run of an unchanged service: the wall-clock time of
# `reporunner run --check --json --no-tests` after a first run with the same data directory
# (the install, the build and the jar or binary kept), to HTTP answering, and the report's
# own total. Prints one line per fixture.
#
#   scripts/second-run.sh [FIXTURE ...]   (default: go-service java-spring)
#   BIN=target/debug/reporunner scripts/second-run.sh   (skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z ${BIN:-} ]]; then
  cargo build --quiet --release --locked -p reporunner
  BIN=target/release/reporunner
fi
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
fixtures=("$@")
((${#fixtures[@]})) || fixtures=(go-service java-spring)
for f in "${fixtures[@]}"; do
  "$BIN" run --check --json --no-tests --data-dir "$data" "tests/fixtures/run/$f" >/dev/null 2>&1 || true
  start=$(date +%s%N)
  json=$("$BIN" run --check --json --no-tests --data-dir "$data" "tests/fixtures/run/$f" 2>/dev/null || true)
  end=$(date +%s%N)
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
wall = (int(sys.argv[3]) - int(sys.argv[2])) / 1e9
print("%-14s second run %5.2f s wall  (report total %d ms, app start-up %d ms, cached %s)  %s"
      % (sys.argv[4], wall, r["total_ms"], r["startup_ms"], r["installs_cached"], r["rung"]))
' "$json" "$start" "$end" "$f"
done
