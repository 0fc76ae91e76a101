#!/usr/bin/env bash
# Tests the Python client (clients/python) against a real `reporunner serve` on loopback:
# installs it with pip into target/client-venv (with nbclient, nbformat and ipykernel),
# starts a node with a fresh data directory, an admin user and examples/ as its repository
# root, checks that the committed generated module is what the running API's OpenAPI
# document gives, runs the client's tests, and executes examples/quickstart.ipynb with
# nbclient. The node is stopped on exit.
#
# Usage: scripts/python-client-test.sh   (after `cargo build -p reporunner`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/target/debug/reporunner
[[ -x $bin ]] || { echo "build it first: cargo build -p reporunner" >&2; exit 1; }

venv=${REPORUNNER_CLIENT_VENV:-target/client-venv}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check ./clients/python nbclient nbformat ipykernel

work=$(mktemp -d)
server=""
cleanup() {
  if [[ -n $server ]]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_DATA_HOME=$work/data
unset REPORUNNER_DATA_DIR REPORUNNER_TOKEN REPORUNNER_URL
export RR_NAME=ana RR_PASSWORD="a long password"
echo "$RR_PASSWORD" | "$bin" users add "$RR_NAME" --tier admin --password-stdin >/dev/null
export RR_CLIENT=shop RR_CLIENT_USER=carl
echo "$RR_PASSWORD" | "$bin" clients create "$RR_CLIENT" --repo-root examples \
  --admin "$RR_CLIENT_USER" --password-stdin >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --port "$port" --repo-root examples >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 600); do
  grep -q "serving the API" "$work/serve.log" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
export RR_URL=http://127.0.0.1:$port

echo "== the generated module against the API's document"
curl -sf "$RR_URL/openapi.json" >"$work/openapi.json"
"$venv/bin/python" clients/python/generate.py "$work/openapi.json" --check

echo "== the client's tests"
(cd clients/python/tests && "$root/$venv/bin/python" -m unittest -v test_client 2>&1)

echo "== the example notebook, executed"
"$venv/bin/python" - <<'EOF'
import nbformat
from nbclient import NotebookClient

nb = nbformat.read("clients/python/examples/quickstart.ipynb", as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3").execute()
text = "\n".join(
    o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
)
for want in ("phase_started", "finished", "rung:   tests_pass"):
    assert want in text, f"the notebook's output lacks {want!r}:\n{text}"
print(text)
print("the notebook ran: the run reached tests_pass")
EOF
