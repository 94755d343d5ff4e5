#!/usr/bin/env bash
# Fails (exit 1) when Sources/Wire is not what scripts/generate-protos.sh makes from Protos/:
# someone edited a .proto without regenerating, or edited generated code by hand.
# Exits 0 with a note when protoc-c is not installed (the check then cannot run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v protoc-c >/dev/null 2>&1; then
    echo "check-generated: protoc-c not installed; skipped (apt-get install protobuf-c-compiler to run it)"
    exit 0
fi

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
"$root/scripts/generate-protos.sh" "$fresh/Wire" >/dev/null

if ! diff -r -u "$root/Sources/Wire" "$fresh/Wire" >"$fresh/diff.txt"; then
    echo "check-generated: Sources/Wire is stale or was edited by hand; run scripts/generate-protos.sh and commit the result:" >&2
    head -n 60 "$fresh/diff.txt" >&2
    exit 1
fi
echo "check-generated: Sources/Wire matches Protos/ (protoc-c $(protoc-c --version | head -n 1 | awk '{print $2}'))"
