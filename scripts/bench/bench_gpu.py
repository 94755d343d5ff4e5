#!/usr/bin/env python3
"""Times a VideoCrafter2-sized UNet3DConditionModel forward (random weights) in PyTorch CUDA fp16
and in `infinity bench unet --backend vulkan` on the same GPU, shapes and weights, and prints both
with the ratio. For a machine with a GPU, PyTorch with CUDA, and a Vulkan driver; not for CI.

    swift build -c release --static-swift-stdlib        # here; carry the binary and Shaders/spirv
    python3 scripts/bench/bench_gpu.py --frames 16 24 --device 0

The UNet is VideoCrafter2's (block_out_channels 320/640/1280/1280, layers_per_block 2, head width
64, cross-attention width 1024) at its 320x512 resolution (40x64 latents), batch 2 (both halves
of classifier-free guidance), 77 text tokens. PyTorch runs eager fp16; infinity runs f32 (its
Vulkan kernels have no f16 path yet), so the ratio also measures that gap.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

VIDEOCRAFTER2 = dict(
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
    norm_num_groups=32, cross_attention_dim=1024, attention_head_dim=64, in_channels=4, out_channels=4,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 24])
    parser.add_argument("--height", type=int, default=40, help="latent height (320 px / 8)")
    parser.add_argument("--width", type=int, default=64, help="latent width (512 px / 8)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--device", type=int, default=0, help="CUDA device and Vulkan --device index")
    parser.add_argument("--infinity", default=".build/release/infinity")
    parser.add_argument("--skip-infinity", action="store_true", help="time PyTorch only")
    args = parser.parse_args()

    import torch
    from diffusers import UNet3DConditionModel

    torch.manual_seed(0)
    model = UNet3DConditionModel(**VIDEOCRAFTER2).eval()
    params = sum(p.numel() for p in model.parameters())
    folder = tempfile.mkdtemp(prefix="bench-gpu-unet-")
    model.half().save_pretrained(folder, safe_serialization=True)  # infinity converts f16 to f32 on load
    cuda = torch.device(f"cuda:{args.device}")
    model = model.to(cuda)

    print(f"UNet3DConditionModel (VideoCrafter2 shape): {params / 1e6:.0f}M parameters, batch {args.batch}, "
          f"{args.height}x{args.width} latents; torch {torch.__version__} on {torch.cuda.get_device_name(cuda)}")
    print(f"{'frames':>6}  {'torch fp16 (s)':>14}  {'infinity vulkan f32 (s)':>23}  {'ratio':>6}")
    for frames in args.frames:
        shape = (args.batch, 4, frames, args.height, args.width)
        sample = torch.randn(shape, device=cuda, dtype=torch.float16)
        context = torch.randn(args.batch, 77, 1024, device=cuda, dtype=torch.float16)
        timestep = torch.tensor([999 - 100 * i for i in range(args.batch)], device=cuda)
        times = []
        with torch.inference_mode():
            for i in range(args.iterations + 1):
                torch.cuda.synchronize(cuda)
                start = time.perf_counter()
                model(sample, timestep, encoder_hidden_states=context)
                torch.cuda.synchronize(cuda)
                if i > 0:
                    times.append(time.perf_counter() - start)
        reference = statistics.median(times)
        if args.skip_infinity:
            print(f"{frames:>6}  {reference:>14.3f}  {'-':>23}  {'-':>6}")
            continue
        output = subprocess.run(
            [args.infinity, "bench", "unet", "--model", folder, "--backend", "vulkan", "--device", str(args.device),
             "--batch", str(args.batch), "--frames", str(frames), "--height", str(args.height),
             "--width", str(args.width), "--iterations", str(args.iterations)],
            check=True, capture_output=True, text=True).stdout
        ours = float(next(line for line in output.splitlines() if line.startswith("median")).split()[1])
        print(f"{frames:>6}  {reference:>14.3f}  {ours:>23.3f}  {ours / reference:>5.2f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
