#!/usr/bin/env bash
# Installs llama-cpp-python, for the generation bench's comparison, into target/llama-venv
# (or REPORUNNER_LLAMA_VENV), and prints its interpreter. PyPI has only its source: pip
# builds llama.cpp with cmake here, which takes several minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${REPORUNNER_LLAMA_VENV:-target/llama-venv}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check llama-cpp-python >&2
fi
echo "$(cd "$venv/bin" && pwd)/python"
