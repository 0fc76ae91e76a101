#!/usr/bin/env bash
# Walks the README: runs every command of its ```sh blocks, in order, as written, against
# the built binary (target/debug/reporunner first on PATH), on loopback, with a fresh data
# directory (XDG_DATA_HOME in a temporary folder), and checks each one's exit code and,
# where this script knows what it must print, its output. A README command that stops
# working fails CI.
#
# - A line ending in `&` starts a process in the background; the walk waits until it says
#   it is listening (or fails if it exits first), and stops it at the end of its block
#   (SIGTERM, as a service manager does), when it must exit 0.
# - A command must exit 0; an assignment `NAME=$(...)` must set NAME (not empty, not null).
#   The cluster's read-only commands are tried again for up to 20 s while it converges;
#   every other command runs once (a POST is not repeated).
# - Three kinds of line are not run, each said so: `scripts/test.sh` (it runs this walk),
#   `cargo bench` (minutes each; `cargo test --all-targets` runs their code paths), the
#   main job's release build (test.sh runs the same job with --check), and the console,
#   a TUI that nodes/tests/console.rs drives in tmux.
#
# Usage: scripts/readme-walk.sh [README]   (after `cargo build -p reporunner`)
set -uo pipefail
cd "$(dirname "$0")/.."
readme=${1:-README.md}
root=$(pwd)
bin=$root/target/debug
[[ -x $bin/reporunner ]] || { echo "build it first: cargo build -p reporunner" >&2; exit 1; }

work=$(mktemp -d)
export XDG_DATA_HOME=$work/data
unset REPORUNNER_DATA_DIR REPORUNNER_COOKIE REPORUNNER_TOKEN REPORUNNER_URL
export PATH=$bin:$PATH
export RUST_LOG=warn
bg_pids=()
bg_logs=()
failures=0
ran=0

# What a command must print: a regex on the command, and one its output must match.
expect_for() {
  case $1 in
  *"cluster status"*) echo 'worker' ;;
  *"cluster spawn"*) echo 'probe' ;;
  *"cluster tree"*) echo '"probe"' ;;
  *"models install"*) echo 'installed|installed already' ;;
  *"models list"*) echo 'SmolLM2-135M-Instruct \(generator\): /' ;;
  *"models generate"*) echo '.' ;;
  *"reporunner analyze"*) echo 'flask' ;;
  *"reporunner search"*) echo 'notes' ;;
  *"users add"*) echo 'ana' ;;
  *"users list"*) echo 'ana' ;;
  *"/events"*) echo 'event: finished' ;;
  *"/v1/runs/"*) echo '"succeeded","tests_pass"' ;;
  *"runs show"*) echo 'phase|report|dependencies' ;;
  *"reporunner runs"*) echo '.' ;;
  *"reporunner env"*) echo 'CPU' ;;
  *) echo '' ;;
  esac
}

skip_reason() {
  case $1 in
  scripts/test.sh*) echo "it runs this walk" ;;
  "cargo bench"*) echo "a bench (cargo test --all-targets runs its code path)" ;;
  "cargo run --release -p reporunner -- run"*) echo "the main job's release build: test.sh runs the same job with --check" ;;
  *"reporunner console"*) echo "a TUI: nodes/tests/console.rs drives it in tmux" ;;
  *) echo "" ;;
  esac
}

stop_background() {
  local i
  for i in "${!bg_pids[@]}"; do
    local pid=${bg_pids[$i]}
    kill -TERM "$pid" 2>/dev/null
  done
  for i in "${!bg_pids[@]}"; do
    local pid=${bg_pids[$i]} waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 300)); do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      echo "FAIL: background process $pid did not stop on SIGTERM within 30 s" >&2
      kill -KILL "$pid" 2>/dev/null
      failures=$((failures + 1))
    else
      wait "$pid"
      local rc=$?
      if ((rc != 0)); then
        echo "FAIL: background process $pid exited $rc after SIGTERM; its log:" >&2
        tail -n 20 "${bg_logs[$i]}" >&2
        failures=$((failures + 1))
      fi
    fi
  done
  bg_pids=()
  bg_logs=()
}
trap 'stop_background; rm -rf "$work"' EXIT

run_background() {
  local line=$1 log=$work/bg-${#bg_pids[@]}-$RANDOM.log
  eval "$line >\"$log\" 2>&1 &"
  local pid=$!
  bg_pids+=("$pid")
  bg_logs+=("$log")
  local waited=0
  until grep -qE 'listening on|serving on|API on|http://' "$log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "FAIL: it exited before it listened: $line" >&2
      tail -n 20 "$log" >&2
      failures=$((failures + 1))
      return
    fi
    if ((waited > 600)); then
      echo "FAIL: not listening after 60 s: $line" >&2
      tail -n 20 "$log" >&2
      failures=$((failures + 1))
      return
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "   (in the background, pid $pid: $(grep -m1 -E 'listening on|serving on|API on|http://' "$log"))"
}

run_foreground() {
  local line=$1 want out=$work/out rc deadline=$SECONDS var=""
  want=$(expect_for "$line")
  # Reads of a cluster that is still converging are asked again.
  [[ $line == *"cluster status"* || $line == *"cluster tree"* ]] && deadline=$((SECONDS + 20))
  [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=\$\( ]] && var=${BASH_REMATCH[1]}
  while :; do
    eval "$line" >"$out" 2>&1 </dev/null
    rc=$?
    if [[ -n $var ]] && ((rc == 0)); then
      local value=${!var-}
      if [[ -z $value || $value == null ]]; then
        rc=1
        echo "($var is empty)" >>"$out"
      else
        echo "($var=${value:0:12}...)" >>"$out"
      fi
    fi
    if ((rc == 0)) && { [[ -z $want ]] || grep -qE -- "$want" "$out"; }; then
      sed 's/^/   | /' "$out" | head -n 8
      return
    fi
    ((SECONDS < deadline)) || break
    sleep 1
  done
  echo "FAIL (exit $rc${want:+, expected output matching /$want/}): $line" >&2
  sed 's/^/   | /' "$out" | tail -n 30 >&2
  failures=$((failures + 1))
}

# The ```sh blocks: one command per line (backslash continuations joined), blocks apart.
commands=$(awk '
  /^```sh[[:space:]]*$/ { inblock = 1; print "#BLOCK"; next }
  /^```/ { if (inblock) { inblock = 0; if (acc != "") { print acc; acc = "" } } next }
  inblock {
    line = $0
    if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", line); acc = acc line " "; next }
    print acc line; acc = ""
  }' "$readme")

block=0
mkdir -p "$XDG_DATA_HOME"
while IFS= read -r line; do
  if [[ $line == "#BLOCK" ]]; then
    stop_background
    block=$((block + 1))
    echo
    echo "== block $block"
    continue
  fi
  # Drop a trailing comment (a `#` after two spaces), and blank lines.
  cmd=$(sed -E 's/[[:space:]]{2,}#.*$//; s/[[:space:]]+$//' <<<"$line")
  [[ -z $cmd || $cmd == \#* ]] && continue
  why=$(skip_reason "$cmd")
  if [[ -n $why ]]; then
    echo "-- not run ($why): $cmd"
    continue
  fi
  echo "\$ $cmd"
  ran=$((ran + 1))
  if [[ $cmd == *"&" ]]; then
    run_background "${cmd%&}"
  else
    run_foreground "$cmd"
  fi
done <<<"$commands"
stop_background

echo
if ((failures)); then
  echo "README walk: $failures of $ran commands failed" >&2
  exit 1
fi
echo "README walk: all $ran commands ran as written"
