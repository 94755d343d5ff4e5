#!/usr/bin/env python3
"""Times one UNet3DConditionModel forward in diffusers/PyTorch (CPU) and in `infinity bench unet`
on the same weights, shapes and thread count, and prints both with the ratio.

Setup (not needed by CI):
    scripts/fixtures/setup-venv.sh
    swift build -c release
Run (from the repository root):
    .venv-ref/bin/python scripts/bench/bench_unet.py --config small --frames 16 64 --threads 2 --iterations 2 --rounds 8
    .venv-ref/bin/python scripts/bench/bench_unet.py --config medium --frames 16 --threads 2 --iterations 2 --rounds 5

The two sides alternate in rounds (`--rounds`): each round times diffusers, then infinity, so
that a change in the machine's load (noisy neighbours on a shared host) falls on both sides of
the round's ratio. Each round prints both sides' median and best; the last line of each frame
count gives the median, lowest and highest of the rounds' ratios of medians. Short rounds (two
forwards a side) alternate faster than the host's load swings.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    # ~1.33M parameters.
    "small": dict(block_out_channels=(32, 64), layers_per_block=1,
                  down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                  up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
                  norm_num_groups=8, cross_attention_dim=32, attention_head_dim=8),
    # ~28.4M parameters.
    "medium": dict(block_out_channels=(64, 128, 256), layers_per_block=2,
                   down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
                   up_block_types=("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
                   norm_num_groups=32, cross_attention_dim=128, attention_head_dim=8),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--size", type=int, default=32, help="latent height = width")
    parser.add_argument("--batch", type=int, default=2, help="2 = both halves of classifier-free guidance")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3, help="timed forwards per side and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two sides")
    parser.add_argument("--infinity", default=".build/release/infinity")
    parser.add_argument("--cpu-kernels", choices=["avx2", "avx512"],
                        help="infinity's kernel variant (default: the widest this CPU runs)")
    args = parser.parse_args()

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from diffusers import UNet3DConditionModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UNet3DConditionModel(**CONFIGS[args.config]).eval()
    params = sum(p.numel() for p in model.parameters())
    folder = tempfile.mkdtemp(prefix=f"bench-unet-{args.config}-")
    model.save_pretrained(folder, safe_serialization=True)

    print(f"UNet3DConditionModel '{args.config}': {params / 1e6:.2f}M parameters, batch {args.batch}, "
          f"{args.size}x{args.size} latents, {args.threads} threads, torch {torch.__version__}")
    # Medians and bests (the least disturbed run of each, for machines with noisy neighbours).
    print(f"{'frames':>6} {'round':>5}  {'diffusers median/best (s)':>25}  {'infinity median/best (s)':>24}  "
          f"{'speed-up':>13}")
    for frames in args.frames:
        shape = (args.batch, model.config.in_channels, frames, args.size, args.size)
        sample = torch.randn(shape)
        context = torch.randn(args.batch, 77, model.config.cross_attention_dim)
        timestep = torch.tensor([999 - 100 * i for i in range(args.batch)], dtype=torch.float32)
        ratios = []
        for round_index in range(args.rounds):
            times = []
            with torch.inference_mode():
                for i in range(args.iterations + 1):
                    start = time.perf_counter()
                    model(sample, timestep, encoder_hidden_states=context)
                    if i > 0:
                        times.append(time.perf_counter() - start)
            reference, reference_best = statistics.median(times), min(times)

            output = subprocess.run(
                [args.infinity, "bench", "unet", "--model", folder, "--batch", str(args.batch),
                 "--frames", str(frames), "--height", str(args.size), "--width", str(args.size),
                 "--threads", str(args.threads), "--iterations", str(args.iterations)]
                + (["--cpu-kernels", args.cpu_kernels] if args.cpu_kernels else []),
                check=True, capture_output=True, text=True).stdout
            fields = next(line for line in output.splitlines() if line.startswith("median")).split()
            ours, ours_best = float(fields[1]), float(fields[4])
            ratios.append(reference / ours)
            print(f"{frames:>6} {round_index + 1:>5}  {reference:>12.3f} / {reference_best:<10.3f}  "
                  f"{ours:>11.3f} / {ours_best:<10.3f}  {reference / ours:>5.2f}x / {reference_best / ours_best:.2f}x")
            sys.stdout.flush()
        print(f"{frames:>6} {'all':>5}  speed-up of the medians over {args.rounds} rounds: "
              f"median {statistics.median(ratios):.2f}x, range {min(ratios):.2f}x - {max(ratios):.2f}x")
        sys.stdout.flush()

if __name__ == "__main__":
    main()
