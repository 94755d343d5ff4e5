#!/usr/bin/env bash
# Creates .venv-interop (gitignored) with the pinned grpcio and grpcio-tools the RPC interop
# tests run (Tests/RPCTests/InteropTests.swift finds it there). Idempotent: an existing venv
# with the pinned versions is kept.
#
#   scripts/interop/setup-venv.sh [PYTHON]      (default: python3)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv-interop"
python="${1:-python3}"
requirements="$root/scripts/interop/requirements.txt"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$requirements" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
wanted = [l.split("==") for l in open(sys.argv[1]) if "==" in l and not l.startswith("#")]
try:
    sys.exit(0 if all(version(n.strip()) == v.strip() for n, v in wanted) else 1)
except PackageNotFoundError:
    sys.exit(1)
PY
then
    echo "setup-venv: $venv is up to date"
    exit 0
fi

start=$(date +%s)
rm -rf "$venv"
"$python" -m venv "$venv"
# Keeps git from listing the venv without touching the top-level .gitignore.
echo "*" > "$venv/.gitignore"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$requirements"
"$venv/bin/python" -c 'import grpc, grpc_tools; print("setup-venv: grpcio", grpc.__version__)'
echo "setup-venv: $venv ready in $(( $(date +%s) - start )) s"
