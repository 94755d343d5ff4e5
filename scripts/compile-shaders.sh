#!/usr/bin/env bash
# Compiles the Vulkan backend's compute shaders, Shaders/*.comp, to SPIR-V with glslc and checks
# each result with spirv-val.
#
#   scripts/compile-shaders.sh [OUTPUT_DIR]     (default: Shaders/spirv)
#
# Shaders/<name>.comp -> OUTPUT_DIR/<name>.spv, compiled with
#   glslc --target-env=vulkan1.1 -O -I Shaders/include -fshader-stage=compute
# and validated with `spirv-val --target-env vulkan1.1`; cooperative-matrix shaders with glslang 15
# (below). glslc runs from the repository root on
# relative paths, so the output is the same on every machine with the same glslc. .spv files in
# OUTPUT_DIR without a Shaders/*.comp source are deleted (the script owns them).
#
# A shader that fails to compile or validate is reported and its .spv left untouched; the others
# are still written, and the script exits 1 at the end.
#
# The output is committed (VulkanBackend loads it at run time); scripts/check-generated.sh fails
# CI when it is stale. Needs glslc and spirv-val (Debian/Ubuntu: apt-get install glslc spirv-tools).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/Shaders/spirv}"

if ! command -v glslc >/dev/null 2>&1; then
    echo "compile-shaders: glslc not found (apt-get install glslc, or install the Vulkan SDK)" >&2
    exit 1
fi
if ! command -v spirv-val >/dev/null 2>&1; then
    echo "compile-shaders: spirv-val not found (apt-get install spirv-tools, or install the Vulkan SDK)" >&2
    exit 1
fi

cd "$root"
# Sorted, so messages come in the same order on every machine.
mapfile -t shaders < <(find Shaders -maxdepth 1 -name '*.comp' -type f | LC_ALL=C sort)
if [ "${#shaders[@]}" -eq 0 ]; then
    echo "compile-shaders: no .comp files under $root/Shaders" >&2
    exit 1
fi

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$out"

# Shaders that need GL_KHR_cooperative_matrix, which Debian 12's glslc cannot compile, go
# through glslang 15 (scripts/fetch-glslang.sh) with --target-env vulkan1.3. Beside each such
# .spv, <name>.spv.sha256 records the SHA-256 of its sources (the .comp, then Shaders/include/*
# in name order). Without glslang 15 the committed .spv is kept when the record still matches
# the sources (so CI checks them without fetching the compiler), and it is an error otherwise.
coopmat_bin="${GLSLANG_COOPMAT_BIN:-$root/.build/glslang-15/bin}"
sources_hash() { cat "$1" $(find Shaders/include -type f | LC_ALL=C sort) | sha256sum | cut -d' ' -f1; }
compile_coopmat() { # shader name
    local shader="$1" name="$2" hash
    hash="$(sources_hash "$shader")"
    if [ -x "$coopmat_bin/glslangValidator" ]; then
        "$coopmat_bin/glslangValidator" --target-env vulkan1.3 -IShaders/include -S comp "$shader" \
            -o "$staging/$name.spv" >"$staging/log.txt" || { cat "$staging/log.txt" >&2; return 1; }
        "$coopmat_bin/spirv-val" --target-env vulkan1.3 "$staging/$name.spv" || return 1
        cp "$staging/$name.spv" "$out/$name.spv"
        echo "$hash" >"$out/$name.spv.sha256"
    elif [ -f "Shaders/spirv/$name.spv" ] && [ "$(cat "Shaders/spirv/$name.spv.sha256" 2>/dev/null)" = "$hash" ]; then
        if [ "$(cd "$out" && pwd)" != "$root/Shaders/spirv" ]; then
            cp "Shaders/spirv/$name.spv" "Shaders/spirv/$name.spv.sha256" "$out/"
        fi
        echo "compile-shaders: $shader kept as committed (its sources are unchanged; scripts/fetch-glslang.sh gets the compiler)"
    else
        echo "compile-shaders: $shader needs glslang 15 (it uses GL_KHR_cooperative_matrix); run scripts/fetch-glslang.sh" >&2
        return 1
    fi
}

failed=()
for shader in "${shaders[@]}"; do
    name="$(basename "$shader" .comp)"
    if grep -q '^#extension GL_KHR_cooperative_matrix' "$shader"; then
        compile_coopmat "$shader" "$name" || { echo "compile-shaders: $shader failed" >&2; failed+=("$shader"); }
        continue
    fi
    if ! glslc --target-env=vulkan1.1 -O -I Shaders/include -fshader-stage=compute \
            "$shader" -o "$staging/$name.spv"; then
        echo "compile-shaders: $shader failed to compile" >&2
        failed+=("$shader")
        continue
    fi
    if ! spirv-val --target-env vulkan1.1 "$staging/$name.spv"; then
        echo "compile-shaders: $shader compiled to SPIR-V that spirv-val rejects" >&2
        failed+=("$shader")
        continue
    fi
    cp "$staging/$name.spv" "$out/$name.spv"
done

# Drop the .spv of shaders that no longer exist.
for spv in "$out"/*.spv; do
    [ -e "$spv" ] || continue
    name="$(basename "$spv" .spv)"
    if [ ! -f "Shaders/$name.comp" ]; then
        rm -f "$spv" "$spv.sha256"
        echo "compile-shaders: removed $spv (no Shaders/$name.comp)"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "compile-shaders: ${#failed[@]} of ${#shaders[@]} shaders failed: ${failed[*]}" >&2
    exit 1
fi
echo "compile-shaders: ${#shaders[@]} shaders -> $out ($(glslc --version | head -n 1))"
