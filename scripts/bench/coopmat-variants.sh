#!/usr/bin/env bash
# Diagnostic builds of the cooperative-matrix GEMM (Shaders/gemm_coopmat.comp), for finding where
# its time goes on a GPU: each variant removes or fixes one part of the kernel, and `run` times
# the GEMM-shaped ops with each through `infinity bench linear|conv2d --backend vulkan`
# (INFINITY_SHADER_DIR points the binary at a variant's folder). Not for CI, not for the product.
#
#   scripts/bench/coopmat-variants.sh make DIR [MATRIX SUBGROUP]   here (needs glslang 15:
#                                                                  scripts/fetch-glslang.sh)
#   scripts/bench/coopmat-variants.sh run DIR INFINITY             on the GPU machine
#
# Variants (DIR/<name>/: every committed .spv, gemm_coopmat.spv replaced):
#   base     the committed kernel, compiled afresh
#   literal  the matrix shape, the workgroup size and the per-invocation counts as literals
#            instead of specialization constants (MATRIX x MATRIX x MATRIX matrices, subgroups of
#            SUBGROUP; default 16 and 32, NVIDIA's), to tell a slow driver path from a slow kernel
#   noload   operands are constants: no global loads (staging, products, epilogue remain)
#   nomma    no matrix products: global loads, staging, barriers and the epilogue only
# On the H200 (2026-11-27), linear 81920x320 -> 320 took 0.93 ms whole, 0.70 ms as noload and
# 0.54 ms as nomma (the kernel of commit 03228e7; README, "On a GPU").
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mode="${1:-}"
dir="${2:-}"
[ -n "$mode" ] && [ -n "$dir" ] || { sed -n '2,20p' "$0" >&2; exit 2; }

case "$mode" in
make)
    matrix="${3:-16}"
    subgroup="${4:-32}"
    glslang="${GLSLANG_COOPMAT_BIN:-$root/.build/glslang-15/bin}/glslangValidator"
    [ -x "$glslang" ] || { echo "coopmat-variants: $glslang not found (scripts/fetch-glslang.sh)" >&2; exit 1; }
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    for variant in base literal noload nomma; do
        python3 - "$root/Shaders/gemm_coopmat.comp" "$work/$variant.comp" "$variant" "$matrix" "$subgroup" <<'PY'
import sys
source, target, variant, matrix, subgroup = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
text = open(source).read()

def replace(old, new):
    global text
    if old not in text:
        sys.exit(f"coopmat-variants: {variant}: the kernel no longer contains {old!r}")
    text = text.replace(old, new)

if variant == "literal":
    threads = 8 * subgroup
    replace("layout(local_size_x_id = 0) in;", f"layout(local_size_x = {threads}) in;")
    replace("layout(constant_id = 5) const uint LOADS = 16u;", f"const uint LOADS = {128 * 32 // threads}u;")
    for name, id in (("FM", 6), ("FN", 7), ("FK", 8)):
        replace(f"layout(constant_id = {id}) const uint {name} = 16u;", f"const uint {name} = {matrix}u;")
    replace("layout(constant_id = 9) const uint EPILOGUE = 8u;", f"const uint EPILOGUE = {matrix * matrix // subgroup}u;")
elif variant == "noload":
    marker = "    const uint K = reduction();\n    [[unroll]] for (uint l = 0u; l < CHUNKS; ++l) {\n        const uint v = t + threads * l;\n        const uint k = k0 + 4u * chunkK(v);"
    replace(marker, "    const uint K = reduction();\n"
            "    [[unroll]] for (uint l = 0u; l < CHUNKS; ++l) { aNext[l] = f16vec4(float(k0 & 7u) * 0.001); bNext[l] = f16vec4(0.002); }\n"
            "    if (k0 < 0x7fffffffu) { return; }\n" + marker[len("    const uint K = reduction();\n"):])
elif variant == "nomma":
    replace("acc[i * FRAGMENTS_N + j] = coopMatMulAdd(a[i], b[j], acc[i * FRAGMENTS_N + j]);", "// no product")
open(target, "w").write(text)
PY
        mkdir -p "$dir/$variant"
        cp "$root"/Shaders/spirv/*.spv "$dir/$variant/"
        (cd "$root/Shaders" && "$glslang" --target-env vulkan1.3 -Iinclude -S comp "$work/$variant.comp" \
            -o "$dir/$variant/gemm_coopmat.spv" >/dev/null) \
            || { echo "coopmat-variants: $variant does not compile" >&2; exit 1; }
        echo "coopmat-variants: $dir/$variant"
    done
    ;;
run)
    infinity="${3:?the infinity binary}"
    shapes=(
        "linear --rows 81920 --in 320 --out 320"
        "linear --rows 5120 --in 1280 --out 1280"
        "conv2d --images 32 --channels 320 --height 40 --width 64"
    )
    for shape in "${shapes[@]}"; do
        for variant in base literal noload nomma; do
            # shellcheck disable=SC2086
            line="$(INFINITY_SHADER_DIR="$dir/$variant" "$infinity" bench $shape --backend vulkan --weight-precision f16 \
                --cooperative-matrix on --iterations 5 | tail -n +2 | tr -s ' ')"
            echo "$shape  $variant: $line"
        done
        # shellcheck disable=SC2086
        echo "$shape  f32 kernels: $("$infinity" bench $shape --backend vulkan --weight-precision f16 \
            --cooperative-matrix off --iterations 5 | tail -n +2 | tr -s ' ')"
    done
    ;;
*)
    sed -n '2,20p' "$0" >&2
    exit 2
    ;;
esac
