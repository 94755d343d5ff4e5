#!/usr/bin/env python3
"""Where diffusers/PyTorch spends a UNet3DConditionModel forward on the CPU: the torch profiler's
self time per aten op, per forward, for the configs of bench_unet.py. The counterpart of
`infinity bench unet --profile` on the same shapes.

Run (from the repository root; scripts/fixtures/setup-venv.sh makes .venv-ref):
    .venv-ref/bin/python scripts/bench/profile_diffusers.py --config small --frames 16 --threads 2
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_unet import CONFIGS  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=32, help="latent height = width")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args()

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from diffusers import UNet3DConditionModel
    from torch.profiler import profile

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UNet3DConditionModel(**CONFIGS[args.config]).eval()
    sample = torch.randn(args.batch, model.config.in_channels, args.frames, args.size, args.size)
    context = torch.randn(args.batch, 77, model.config.cross_attention_dim)
    timestep = torch.tensor([999 - 100 * i for i in range(args.batch)], dtype=torch.float32)
    with torch.inference_mode():
        for _ in range(2):
            model(sample, timestep, encoder_hidden_states=context)
        with profile() as prof:
            for _ in range(args.iterations):
                model(sample, timestep, encoder_hidden_states=context)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"diffusers UNet3DConditionModel '{args.config}', batch {args.batch}, {args.frames} frames, "
          f"{args.size}x{args.size}, {args.threads} threads, torch {torch.__version__}: "
          f"{total / 1e6 / args.iterations:.3f} s/forward (profiled)")
    for event in events[:args.rows]:
        seconds = event.self_cpu_time_total / 1e6 / args.iterations
        print(f"  {event.key:<52} {seconds:8.4f} s/forward  {100 * event.self_cpu_time_total / total:5.1f}%  "
              f"{event.count // args.iterations} calls")


if __name__ == "__main__":
    main()
