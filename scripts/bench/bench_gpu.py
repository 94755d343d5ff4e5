#!/usr/bin/env python3
"""Times a VideoCrafter2-sized UNet3DConditionModel forward (random weights) in PyTorch CUDA fp16
and in `infinity bench unet --backend vulkan` on the same GPU, shapes and weights, and prints both
with the ratio. For a machine with a GPU, PyTorch with CUDA, and a Vulkan driver; not for CI.

    scripts/package.sh /tmp/infinity.tar.xz          # here: the binary, its libraries and shaders
    tar -xJf infinity.tar.xz -C /opt                   # there (needs a Vulkan loader and diffusers)
    python3 scripts/bench/bench_gpu.py --check --frames 16 24 --infinity /opt/infinity/bin/infinity

The UNet is VideoCrafter2's (block_out_channels 320/640/1280/1280, layers_per_block 2, head width
64, cross-attention width 1024) at its 320x512 resolution (40x64 latents), batch 2 (both halves
of classifier-free guidance), 77 text tokens. PyTorch runs eager fp16; infinity computes in f32
with f16 weights (--weight-precision f16), so the ratio also measures that gap.

`--check` first runs two parity checks on the Vulkan device and prints their errors relative to
the output's scale (largest |output|): the committed diffusers fixtures (Tests/ModelTests/Fixtures/
unet-*) through `infinity forward --backend vulkan`, and one VideoCrafter2-sized forward (the first
--frames) against PyTorch float32 on the GPU (TF32 off) with the same f16-rounded weights.
`--cooperative-matrix off on` checks and times infinity both ways (`auto` by default: the
cooperative-matrix kernels where the device has them); `--profile` adds infinity's per-op times
for each.

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
    parser.add_argument("--check", action="store_true", help="parity checks on the Vulkan device before timing")
    parser.add_argument("--profile", action="store_true",
                        help="then one forward per --cooperative-matrix value with infinity's per-op profile")
    parser.add_argument("--cooperative-matrix", nargs="+", default=["auto"], choices=["auto", "on", "off"],
                        help="infinity's --cooperative-matrix; several values are checked and timed side by side")
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
    if args.check:
        for matrices in args.cooperative_matrix:
            check_fixtures(args, matrices)
        check_forward(args, folder, device, frames=args.frames[0])

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    print(f"UNet3DConditionModel ({'smoke' if args.smoke else 'VideoCrafter2'} shape): {params / 1e6:.1f}M parameters, "
          f"batch {args.batch}, {args.height}x{args.width} latents; torch {torch.__version__} on {name}")
    variants = args.cooperative_matrix
    print(f"{'frames':>6}  {'torch (s)':>10}" + "".join(
        f"  {'infinity ' + matrices + ' (s)':>19}  {'ratio':>6}" for matrices in variants))
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
        row = f"{frames:>6}  {reference:>10.3f}"
        for matrices in [] if args.skip_infinity else variants:
            output = infinity_bench(args, folder, matrices, frames, ("--iterations", str(args.iterations)))
            if output is None:
                row += f"  {'failed':>19}  {'':>6}"
                continue
            ours = float(next(line for line in output.splitlines() if line.startswith("median")).split()[1])
            row += f"  {ours:>19.3f}  {ours / reference:>5.2f}x"
        print(row)
        sys.stdout.flush()
    if args.profile and not args.skip_infinity:
        for matrices in variants:
            output = infinity_bench(args, folder, matrices, args.frames[0], ("--iterations", "1", "--profile"))
            if output is None:
                continue
            print(f"infinity per op, cooperative matrices {matrices} (a wait after every op):")
            print("\n".join(line for line in output.splitlines() if line.startswith("  ") or line.startswith("median")))
            sys.stdout.flush()


def infinity_bench(args, folder, matrices, frames, extra):
    """`infinity bench unet` on the benchmark UNet (f16 weights, one warm-up forward); its output,
    or None when it fails (reported, so that the other variants still run)."""
    try:
        return subprocess.run(
            [args.infinity, "bench", "unet", "--model", folder, "--backend", "vulkan", "--device", str(args.device),
             "--weight-precision", "f16", "--cooperative-matrix", matrices, "--warmup", "1",
             "--batch", str(args.batch), "--frames", str(frames), "--height", str(args.height),
             "--width", str(args.width), *extra],
            check=True, capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as error:
        print(f"infinity {matrices}, {frames} frames: FAILED ({error.returncode}): {error.stderr.strip()}")
        return None


def relative_error(ours, reference):
    """Largest |ours - reference| over the largest |reference|, the scale the parity tests use."""
    return float((ours - reference).abs().max() / reference.abs().max())


def infinity_forward(args, model, inputs, extra):
    """`infinity forward --backend vulkan` on `inputs` (a safetensors file); the output `sample`."""
    from safetensors.torch import load_file
    out = os.path.join(tempfile.mkdtemp(prefix="bench-gpu-out-"), "out.safetensors")
    command = [args.infinity, "forward", "--model", model, "--inputs", inputs, "--out", out,
               "--backend", "vulkan", "--device", str(args.device), *extra]
    try:
        subprocess.run(command, check=True)
    except subprocess.CalledProcessError as error:  # report it, and check and time what runs
        print(f"check: FAILED: {' '.join(command)} exited with {error.returncode}")
        return None
    return load_file(out)["sample"]


def check_fixtures(args, matrices):
    """The committed diffusers forward fixtures through the Vulkan backend."""
    from safetensors.torch import load_file
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/ModelTests/Fixtures")
    for name in sorted(n for n in os.listdir(root) if n.startswith("unet-")):
        folder = os.path.join(root, name)
        expected = load_file(os.path.join(folder, "forward-output.safetensors"))["sample"]
        ours = infinity_forward(args, os.path.join(folder, "unet"), os.path.join(folder, "forward-inputs.safetensors"),
                                ("--cooperative-matrix", matrices))
        if ours is None:
            continue
        print(f"check: fixture {name} (diffusers, CPU f32) vs vulkan, cooperative matrices {matrices}: "
              f"error {relative_error(ours, expected):.2e} of the output's scale")
        sys.stdout.flush()


def check_forward(args, folder, device, frames):
    """One forward of the benchmark UNet: infinity on Vulkan (f16 weights, f32 compute) vs PyTorch f32."""
    import torch
    from diffusers import UNet3DConditionModel
    from safetensors.torch import save_file
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "sample": torch.randn(args.batch, 4, frames, args.height, args.width, generator=generator),
        "timestep": torch.tensor([999.0 - 100 * i for i in range(args.batch)]),
        "encoder_hidden_states": torch.randn(args.batch, 77, 1024, generator=generator),
    }
    path = os.path.join(tempfile.mkdtemp(prefix="bench-gpu-in-"), "inputs.safetensors")
    save_file(inputs, path)
    reference_model = UNet3DConditionModel.from_pretrained(folder, torch_dtype=torch.float32).to(device).eval()
    with torch.inference_mode():
        expected = reference_model(inputs["sample"].to(device), inputs["timestep"].to(device),
                                   encoder_hidden_states=inputs["encoder_hidden_states"].to(device)).sample.float().cpu()
    del reference_model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    for matrices in args.cooperative_matrix:
        start = time.perf_counter()
        ours = infinity_forward(args, folder, path, ("--weight-precision", "f16", "--cooperative-matrix", matrices))
        if ours is None:
            continue
        print(f"check: benchmark UNet, {frames} frames: vulkan (f16 weights, cooperative matrices {matrices}) vs torch "
              f"f32 on {device}: error {relative_error(ours, expected):.2e} of the output's scale "
              f"({time.perf_counter() - start:.1f} s)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
