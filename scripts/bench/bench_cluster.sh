#!/usr/bin/env bash
# End-to-end throughput of a local cluster on loopback with 1, 2 and 3 workers, and the share of
# the workers' step time spent in context exchange (the coordinator sums it over steps): all the
# time clips spend inside exchange operations, which includes waiting for slower peers to reach
# the same collective, and the part of it spent pushing contributions to peer workers (the
# transport's own cost: serialising, sending, acknowledgement).
#
# Setup: swift build -c release
# Usage: scripts/bench/bench_cluster.sh [MODEL_DIR [EMBEDDINGS [FRAMES [CLIP_FRAMES [SIZE [STEPS]]]]]]
#   defaults: the tiny test model, 64 frames in clips of 16, 16x16 latents, 4 DDIM steps.
# Threads: the machine's cores are split evenly between the workers (at least 1 each).
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-Tests/ModelTests/Fixtures/unet-tiny}
embeddings=${2:-$model/embeddings.safetensors}
frames=${3:-64}
clip=${4:-16}
size=${5:-16}
steps=${6:-4}
bin=.build/release/infinity
cores=$(nproc)
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_for() {  # file pattern count
    for _ in $(seq 1 600); do
        [ "$(grep -c "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

echo "model $model, $frames frames in clips of $clip, ${size}x${size}, $steps DDIM steps, $cores cores"
printf '%8s %8s %10s %10s %16s %14s\n' workers threads "wall (s)" "frames/s" "exchange share" "of it pushing"
for n in 1 2 3; do
    threads=$(( cores / n )); [ "$threads" -ge 1 ] || threads=1
    "$bin" coordinator --listen 127.0.0.1:0 --heartbeat-interval-ms 500 --heartbeat-timeout-ms 5000 \
        >"$work/coordinator.out" 2>"$work/coordinator.err" &
    pids+=($!)
    wait_for "$work/coordinator.out" "coordinator listening on" 1
    address=$(grep -m1 "coordinator listening on" "$work/coordinator.out" | awk '{print $4}')
    for i in $(seq 1 "$n"); do
        "$bin" worker --listen 127.0.0.1:0 --coordinator "$address" --model "$model" --threads "$threads" \
            --max-clips 64 >"$work/worker$i.out" 2>&1 &
        pids+=($!)
    done
    wait_for "$work/coordinator.err" "registered at" "$n"
    start=$(date +%s.%N)
    "$bin" generate --coordinator "$address" --model "$model" --embeddings "$embeddings" --frames "$frames" \
        --clip-frames "$clip" --height "$size" --width "$size" --steps "$steps" --scheduler ddim --seed 1 \
        --out "$work/out.safetensors" >"$work/generate.out"
    end=$(date +%s.%N)
    line=$(grep "finished" "$work/coordinator.err" | tail -1)
    share=$(echo "$line" | sed -E 's/.*context exchange took ([0-9.]+)%.*/\1/')
    push=$(echo "$line" | sed -E 's/.*pushing to peers ([0-9.]+)%.*/\1/')
    wall=$(echo "$end - $start" | bc -l)
    printf '%8d %8d %10.2f %10.2f %15s%% %13s%%\n' "$n" "$threads" "$wall" "$(echo "$frames * $steps / $wall" | bc -l)" "$share" "$push"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
done
echo "frames/s counts frame-steps: frames x steps / wall time of 'infinity generate --coordinator' (submit to result)."
