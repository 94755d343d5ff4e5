#!/usr/bin/env bash
# Installs what Infinity builds and runs with (idempotent; needs root or sudo). Used by the
# README's commands and by .ci/run.
#
#   scripts/setup.sh            Debian packages for building and running
#   scripts/setup.sh --tests    also: lavapipe (a Vulkan device on the CPU) and the shader
#                               compiler, the generated-code check, and the Python venv of the
#                               gRPC interop tests (.venv-interop, grpcio from PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(pkg-config libopenblas-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler libvulkan-dev
          libtomlplusplus-dev ffmpeg)
if [ "${1:-}" = "--tests" ]; then
    # lavapipe (Mesa's Vulkan device on the CPU) runs the Vulkan backend's tests; glslc and
    # spirv-tools let scripts/check-generated.sh recompile Shaders/ and compare.
    packages+=(python3 python3-venv mesa-vulkan-drivers glslc spirv-tools)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--tests" ]; then
    scripts/check-generated.sh
    scripts/interop/setup-venv.sh
fi
