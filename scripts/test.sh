#!/usr/bin/env bash
# Runs every test of Repo Runner, on a fresh machine as on a developer's.
#
# It needs only the Rust toolchain: everything else the tests use is built from crates.io
# by cargo. Later suites that need services (PostgreSQL, Redis) or Python packages install
# them here, and stop them again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

# The first panic of a process costs ~150 ms with RUST_BACKTRACE=1; tests panic on purpose.
export RUST_BACKTRACE=0
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "unit, integration and bench-smoke tests (every target of every crate)"
cargo test --workspace --all-targets --locked

step "doc tests"
cargo test --workspace --doc --locked

step "the embedding example, end to end"
cargo run --quiet --locked -p reporunner-examples --example embed

step "the reporunner binary: env"
cargo run --quiet --locked -p reporunner -- env

echo
echo "all tests passed"
