#!/usr/bin/env bash
# Fetches the shader compiler for the cooperative-matrix shaders: glslang 15.1 (glslangValidator)
# and SPIRV-Tools 2025.1 (spirv-val) from Debian 13 (trixie), with trixie's C and C++ runtime,
# since Debian 12's glslc (shaderc 2023.2, glslang 11) cannot compile GL_KHR_cooperative_matrix.
# The packages are unpacked (not installed) into DIR, and DIR/bin/glslangValidator and
# DIR/bin/spirv-val run them through trixie's dynamic loader, so nothing on the system changes.
#
#   scripts/fetch-glslang.sh [DIR]      (default: .build/glslang-15; needs apt-get and network)
#
# scripts/compile-shaders.sh uses DIR/bin when it exists (or $GLSLANG_COOPMAT_BIN). The versions
# are pinned: the committed SPIR-V is what exactly these versions make.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/.build/glslang-15}"
pinned=(glslang-tools=15.1.0+1.4.309.0-1 "spirv-tools=2025.1~rc1-1")
runtime=(libc6 libstdc++6 libgcc-s1)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/debs"
echo "deb http://deb.debian.org/debian trixie main" >"$work/sources.list"
apt_options=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$work/lists" -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
apt-get "${apt_options[@]}" update >/dev/null
(cd "$work/debs" && apt-get "${apt_options[@]}" download "${pinned[@]}" "${runtime[@]}" >/dev/null) || {
    echo "fetch-glslang: could not download ${pinned[*]} from Debian trixie (a newer version may have replaced them;" \
         "update the pins in $0 and recompile the shaders)" >&2
    exit 1
}
rm -rf "$dest"
mkdir -p "$dest/root" "$dest/bin"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$dest/root"; done
for tool in glslangValidator spirv-val; do
    cat >"$dest/bin/$tool" <<WRAPPER
#!/bin/sh
here="\$(cd "\$(dirname "\$0")/.." && pwd)"
exec "\$here/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$here/root/usr/lib/x86_64-linux-gnu" \
    "\$here/root/usr/bin/$tool" "\$@"
WRAPPER
    chmod +x "$dest/bin/$tool"
done
"$dest/bin/glslangValidator" --version | head -n 1
