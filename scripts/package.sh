#!/usr/bin/env bash
# Packs `infinity` into a self-contained tarball for machines without the Swift toolchain or the
# Debian libraries, such as GPU nodes that run `infinity worker` (and `bench_gpu.py`):
#
#   infinity/bin/infinity                 the Swift runtime and Foundation linked in
#                                         (--static-swift-stdlib), rpath $ORIGIN/../lib
#   infinity/lib/                         the C libraries it links (OpenBLAS and its Fortran
#                                         runtime, nghttp2, protobuf-c, toml++), copied from here
#   infinity/share/infinity/spirv/        the compiled shaders (found there by the binary)
#
#   scripts/package.sh [OUT.tar.xz]       (default: .build/infinity-<git describe>-x86_64.tar.xz)
#
# The target needs glibc 2.36 or newer (Debian 12, Ubuntu 23.04 and later), libstdc++, and for
# `--backend vulkan` a Vulkan loader (libvulkan1) with its GPU driver; the loader is not packed,
# as it must match the driver installed there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version="$(git describe --always --dirty 2>/dev/null || echo unknown)"
out="${1:-$root/.build/infinity-$version-$(uname -m).tar.xz}"

# DT_RPATH (--disable-new-dtags), not RUNPATH: it also serves the packed libraries' own needs
# (OpenBLAS's libgfortran), which a RUNPATH on the binary would not.
swift build -c release --product infinity --static-swift-stdlib -Xlinker -rpath -Xlinker '$ORIGIN/../lib' \
    -Xlinker --disable-new-dtags
binary="$(swift build -c release --show-bin-path)/infinity"

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/infinity/bin" "$staging/infinity/lib" "$staging/infinity/share/infinity"
cp "$binary" "$staging/infinity/bin/infinity"
strip "$staging/infinity/bin/infinity"
cp -r Shaders/spirv "$staging/infinity/share/infinity/spirv"
rm -f "$staging"/infinity/share/infinity/spirv/*.sha256

# The shared libraries the binary needs, except the C and C++ runtimes and the Vulkan loader,
# which come with the target system (and its GPU driver).
system='^(linux-vdso|libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s|libvulkan)\.so'
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r name path; do
    if ! [[ "$name" =~ $system ]]; then cp -L "$path" "$staging/infinity/lib/$name"; fi
done

LD_LIBRARY_PATH= "$staging/infinity/bin/infinity" --help >/dev/null 2>&1 \
    || { echo "package: the packed binary does not start:" >&2; LD_LIBRARY_PATH= "$staging/infinity/bin/infinity" --help >&2 || true; exit 1; }
tar -C "$staging" -cJf "$out" infinity
echo "package: $out ($(du -h "$out" | cut -f1)): bin/infinity, $(ls "$staging/infinity/lib" | wc -l) libraries, $(ls "$staging/infinity/share/infinity/spirv" | wc -l) shaders"
