#!/usr/bin/env bash
# Fails (exit 1) when committed generated code is not what its generator makes:
#   - Sources/Wire is not what scripts/generate-protos.sh makes from Protos/: someone edited a
#     .proto without regenerating, or edited generated code by hand;
#   - Shaders/spirv is not what scripts/compile-shaders.sh makes from Shaders/*.comp: a shader
#     changed without recompiling, or a .spv is missing or left over.
# Each check that cannot run because its tool is not installed (protoc-c, glslc) is skipped with
# a note; the script then exits 0 if the checks that did run passed.
#
#   scripts/check-generated.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
status=0

# --- Sources/Wire (protoc-c) ---
if ! command -v protoc-c >/dev/null 2>&1; then
    echo "check-generated: protoc-c not installed; skipped (apt-get install protobuf-c-compiler to run it)"
else
    "$root/scripts/generate-protos.sh" "$fresh/Wire" >/dev/null
    if ! diff -r -u "$root/Sources/Wire" "$fresh/Wire" >"$fresh/diff.txt"; then
        echo "check-generated: Sources/Wire is stale or was edited by hand; run scripts/generate-protos.sh and commit the result:" >&2
        head -n 60 "$fresh/diff.txt" >&2
        status=1
    else
        echo "check-generated: Sources/Wire matches Protos/ (protoc-c $(protoc-c --version | head -n 1 | awk '{print $2}'))"
    fi
fi

# --- Shaders/spirv (glslc) ---
if ! command -v glslc >/dev/null 2>&1; then
    echo "check-generated: glslc not installed; Shaders/spirv check skipped (apt-get install glslc spirv-tools to run it)"
elif ! "$root/scripts/compile-shaders.sh" "$fresh/spirv" >/dev/null 2>"$fresh/compile.txt"; then
    echo "check-generated: scripts/compile-shaders.sh failed, so Shaders/spirv cannot be checked:" >&2
    cat "$fresh/compile.txt" >&2
    status=1
else
    committed="$root/Shaders/spirv"
    list() { if [ -d "$1" ]; then (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort); fi; }
    list "$committed" >"$fresh/committed.txt"
    list "$fresh/spirv" >"$fresh/expected.txt"
    stale=()
    while IFS= read -r file; do stale+=("Shaders/spirv/$file (missing)"); done \
        < <(LC_ALL=C comm -13 "$fresh/committed.txt" "$fresh/expected.txt")
    while IFS= read -r file; do stale+=("Shaders/spirv/$file (extra: no Shaders/*.comp makes it)"); done \
        < <(LC_ALL=C comm -23 "$fresh/committed.txt" "$fresh/expected.txt")
    while IFS= read -r file; do
        cmp -s "$committed/$file" "$fresh/spirv/$file" || stale+=("Shaders/spirv/$file (differs)")
    done < <(LC_ALL=C comm -12 "$fresh/committed.txt" "$fresh/expected.txt")
    if [ "${#stale[@]}" -gt 0 ]; then
        echo "check-generated: Shaders/spirv is stale; run scripts/compile-shaders.sh and commit the result:" >&2
        printf '  %s\n' "${stale[@]}" >&2
        status=1
    else
        echo "check-generated: Shaders/spirv matches Shaders/*.comp ($(glslc --version | head -n 1))"
    fi
fi

exit "$status"
