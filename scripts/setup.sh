#!/usr/bin/env bash
# Installs the Debian packages Infinity builds and runs with (idempotent; needs root or sudo).
# Used by the README's commands and by .ci/run.
set -euo pipefail

packages=(pkg-config libopenblas-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler libvulkan-dev)

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
