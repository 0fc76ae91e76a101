#!/usr/bin/env bash
# Installs Python sentence-transformers, for the embedding bench's comparison, into
# target/st-venv (or REPORUNNER_ST_VENV), and prints its interpreter. PyPI has only the CUDA
# build of torch for Linux: it runs on the CPU here, but pulls about 3 GB of CUDA libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${REPORUNNER_ST_VENV:-target/st-venv}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c 'import sentence_transformers' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check sentence-transformers >&2
fi
echo "$(cd "$venv/bin" && pwd)/python"
