#!/usr/bin/env bash
# Compiles the Vulkan backend's compute shaders, Shaders/*.comp, to SPIR-V with glslc and checks
# each result with spirv-val.
#
#   scripts/compile-shaders.sh [OUTPUT_DIR]     (default: Shaders/spirv)
#
# Shaders/<name>.comp -> OUTPUT_DIR/<name>.spv, compiled with
#   glslc --target-env=vulkan1.1 -O -I Shaders/include -fshader-stage=compute
# and validated with `spirv-val --target-env vulkan1.1`. glslc runs from the repository root on
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

failed=()
for shader in "${shaders[@]}"; do
    name="$(basename "$shader" .comp)"
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
        rm -f "$spv"
        echo "compile-shaders: removed $spv (no Shaders/$name.comp)"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "compile-shaders: ${#failed[@]} of ${#shaders[@]} shaders failed: ${failed[*]}" >&2
    exit 1
fi
echo "compile-shaders: ${#shaders[@]} shaders -> $out ($(glslc --version | head -n 1))"
