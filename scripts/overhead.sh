#!/usr/bin/env bash
# Measures Repo Runner's own overhead on the run fixtures: each run's time minus the time
# spent in installs, builds, migrations and tests, and minus the app's own start-up, as the
# report of `reporunner run --check --json` gives it. Prints each run and the median.
#
#   scripts/overhead.sh [FIXTURE ...]     (default: every folder of tests/fixtures/run)
#
# Each fixture runs twice with one data directory: the first run installs, the second
# reuses the cached install, as a user's second run does.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --locked -p reporunner
bin=target/release/reporunner
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
fixtures=("$@")
if ((${#fixtures[@]} == 0)); then
  for d in tests/fixtures/run/*/; do fixtures+=("$(basename "$d")"); done
fi
results=()
for f in "${fixtures[@]}"; do
  for pass in first second; do
    json=$("$bin" run --check --json --data-dir "$data" "tests/fixtures/run/$f" 2>/dev/null || true)
    line=$(python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print(r["overhead_ms"], r["total_ms"], r["tool_ms"], r["startup_ms"], r["rung"])
' <<<"$json")
    read -r overhead total tool startup rung <<<"$line"
    printf '%-16s %-6s overhead %5d ms  (total %6d, tools %6d, start-up %5d)  %s\n' \
      "$f" "$pass" "$overhead" "$total" "$tool" "$startup" "$rung"
    results+=("$overhead")
  done
done
printf '%s\n' "${results[@]}" | sort -n | awk '{ a[NR] = $1 } END {
  m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
  printf "median overhead over %d runs: %d ms\n", NR, m
}'
