#!/usr/bin/env bash
# Runs the cooperative-matrix GEMM's tests (and the other Vulkan tests) on lavapipe from Mesa 26,
# whose CPU device offers VK_KHR_cooperative_matrix (8x8x8 f16 x f16 + f32), in a Debian chroot:
# Debian 12's Mesa 22 lacks the extension, so the test suite "Vulkan parity: cooperative-matrix
# GEMM" is skipped everywhere else without a GPU.
#
#   scripts/check-coopmat-lavapipe.sh [ROOT] [FILTER]
#       ROOT    the chroot (default /var/tmp/infinity-mesa26-root; made on the first run)
#       FILTER  the tests to run (default "CooperativeMatrix|Vulkan")
#
# Needs root, debootstrap (apt-get install debootstrap) and network on the first run (about
# 400 MB: Debian 13 minbase, then Mesa, LLVM and glibc from unstable). It builds the tests here
# (swift build --build-tests) and runs the test binary inside the chroot, with this repository,
# the Swift toolchain, /proc and /dev bind-mounted (unmounted again on exit).
set -euo pipefail
root_dir="$(cd "$(dirname "$0")/.." && pwd)"
chroot_dir="${1:-/var/tmp/infinity-mesa26-root}"
filter="${2:-CooperativeMatrix|Vulkan}"
toolchain="$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")"

if [ ! -x "$chroot_dir/usr/bin/vulkaninfo" ]; then
    command -v debootstrap >/dev/null || { echo "check-coopmat-lavapipe: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    debootstrap --variant=minbase --include=libvulkan1,libopenblas0,libnghttp2-14,libprotobuf-c1 \
        trixie "$chroot_dir" http://deb.debian.org/debian
    echo "deb http://deb.debian.org/debian sid main" >"$chroot_dir/etc/apt/sources.list.d/sid.list"
    # Check-Valid-Until=false: a mirror's unstable Release file may carry a past Valid-Until.
    chroot "$chroot_dir" apt-get -o Acquire::Check-Valid-Until=false update -qq
    chroot "$chroot_dir" env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false \
        install -y -qq mesa-vulkan-drivers vulkan-tools libtomlplusplus3t64
fi

(cd "$root_dir" && swift build --build-tests)
mounts=()
cleanup() { for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[$i]}" || true; done; }
trap cleanup EXIT
bind() { # source target
    mkdir -p "$2"
    if ! mountpoint -q "$2"; then mount --bind "$1" "$2"; mounts+=("$2"); fi
}
bind /proc "$chroot_dir/proc"
bind /dev "$chroot_dir/dev"
bind "$toolchain" "$chroot_dir$toolchain"
bind "$root_dir" "$chroot_dir$root_dir"

chroot "$chroot_dir" vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverInfo" || true
chroot "$chroot_dir" bash -c "cd '$root_dir' && .build/debug/InfinityPackageTests.xctest --testing-library swift-testing --filter '$filter'"
