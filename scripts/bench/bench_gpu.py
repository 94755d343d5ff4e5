#!/usr/bin/env python3
"""Times a VideoCrafter2-sized UNet3DConditionModel forward (random weights) in PyTorch CUDA fp16
and in `infinity bench unet --backend vulkan` on the same GPU, shapes and weights, and prints both
with the ratio. For a machine with a GPU, PyTorch with CUDA, and a Vulkan driver; not for CI.

    swift build -c release --static-swift-stdlib        # here; carry the binary and Shaders/spirv
    python3 scripts/bench/bench_gpu.py --frames 16 24 --device 0

The UNet is VideoCrafter2's (block_out_channels 320/640/1280/1280, layers_per_block 2, head width
64, cross-attention width 1024) at its 320x512 resolution (40x64 latents), batch 2 (both halves
of classifier-free guidance), 77 text tokens. PyTorch runs eager fp16; infinity computes in f32
with f16 weights (--weight-precision f16), so the ratio also measures that gap.

`--smoke` checks the script itself without a GPU: a 1.3M-parameter UNet at 16x16, PyTorch on the
CPU in f32, infinity on whatever Vulkan device there is (lavapipe):

    .venv-ref/bin/python scripts/bench/bench_gpu.py --smoke --frames 4
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

SMOKE = dict(
    block_out_channels=(32, 64), layers_per_block=1, down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), norm_num_groups=8, cross_attention_dim=1024,
    attention_head_dim=8, in_channels=4, out_channels=4,
)
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
    parser.add_argument("--smoke", action="store_true", help="tiny UNet, PyTorch on the CPU: checks the script")
    args = parser.parse_args()
    if args.smoke:
        args.height = args.width = 16
        args.iterations = 1

    import torch
    from diffusers import UNet3DConditionModel

    torch.manual_seed(0)
    model = UNet3DConditionModel(**(SMOKE if args.smoke else VIDEOCRAFTER2)).eval()
    params = sum(p.numel() for p in model.parameters())
    folder = tempfile.mkdtemp(prefix="bench-gpu-unet-")
    model.half().save_pretrained(folder, safe_serialization=True)  # infinity converts f16 to f32 on load
    if args.smoke:
        device, dtype, name = torch.device("cpu"), torch.float32, "CPU (smoke test)"
        model = model.float()
    else:
        device, dtype = torch.device(f"cuda:{args.device}"), torch.float16
        name = torch.cuda.get_device_name(device)
    model = model.to(device)

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    print(f"UNet3DConditionModel ({'smoke' if args.smoke else 'VideoCrafter2'} shape): {params / 1e6:.1f}M parameters, "
          f"batch {args.batch}, {args.height}x{args.width} latents; torch {torch.__version__} on {name}")
    print(f"{'frames':>6}  {'torch (s)':>10}  {'infinity vulkan (s)':>19}  {'ratio':>6}")
    for frames in args.frames:
        shape = (args.batch, 4, frames, args.height, args.width)
        sample = torch.randn(shape, device=device, dtype=dtype)
        context = torch.randn(args.batch, 77, 1024, device=device, dtype=dtype)
        timestep = torch.tensor([999 - 100 * i for i in range(args.batch)], device=device)
        times = []
        with torch.inference_mode():
            for i in range(args.iterations + 1):
                synchronize()
                start = time.perf_counter()
                model(sample, timestep, encoder_hidden_states=context)
                synchronize()
                if i > 0:
                    times.append(time.perf_counter() - start)
        reference = statistics.median(times)
        if args.skip_infinity:
            print(f"{frames:>6}  {reference:>10.3f}  {'-':>19}  {'-':>6}")
            continue
        output = subprocess.run(
            [args.infinity, "bench", "unet", "--model", folder, "--backend", "vulkan", "--device", str(args.device),
             "--weight-precision", "f16", "--warmup", "1",
             "--batch", str(args.batch), "--frames", str(frames), "--height", str(args.height),
             "--width", str(args.width), "--iterations", str(args.iterations)],
            check=True, capture_output=True, text=True).stdout
        ours = float(next(line for line in output.splitlines() if line.startswith("median")).split()[1])
        print(f"{frames:>6}  {reference:>10.3f}  {ours:>19.3f}  {ours / reference:>5.2f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
