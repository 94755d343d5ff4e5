"""Samples an exported tiny-shapes model (DDIM, classifier-free guidance) into a PNG grid.

Rows are prompts, columns are frames. This is the TextToVideoSDPipeline denoising loop without the
VAE (the model is pixel space) and with our TinyTextEncoder instead of CLIP.

    .venv-ref/bin/python scripts/train_tiny/sample.py --model models/tiny-shapes --out /tmp/samples.png
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from text_encoder import TinyTextEncoder, Tokenizer  # noqa: E402

DEFAULT_PROMPTS = ["a red circle moving right", "a blue square moving down", "a yellow triangle moving left",
                   "a green circle moving up", "a white square moving right", "a purple triangle moving down", ""]


@torch.no_grad()
def generate(model: str, prompts: list[str], frames: int = 8, steps: int = 25, guidance: float = 7.5,
             seed: int = 0) -> np.ndarray:
    """Returns uint8 videos [P, T, H, W, 3]."""
    from diffusers import DDIMScheduler, UNet3DConditionModel
    unet = UNet3DConditionModel.from_pretrained(os.path.join(model, "unet")).eval()
    sched = DDIMScheduler.from_pretrained(os.path.join(model, "scheduler"))
    te = TinyTextEncoder.load(os.path.join(model, "text_encoder")).eval()
    tok = Tokenizer.load(os.path.join(model, "tokenizer", "vocab.json"))
    cond = te(tok(prompts))
    uncond = te(tok([""] * len(prompts)))
    size = unet.config.sample_size
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((len(prompts), unet.config.in_channels, frames, size, size), generator=g)
    x = x * sched.init_noise_sigma
    sched.set_timesteps(steps)
    for t in sched.timesteps:
        inp = torch.cat([x, x])
        eps = unet(inp, t, encoder_hidden_states=torch.cat([uncond, cond])).sample
        eu, ec = eps.chunk(2)
        eps = eu + guidance * (ec - eu)
        x = sched.step(eps, t, x).prev_sample
    v = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # [P, 3, T, H, W]
    return v.permute(0, 2, 3, 4, 1).numpy()


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "..", "..", "models", "tiny-shapes"))
    p.add_argument("--out", default="/tmp/train-tiny/samples.png")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt", action="append", help="repeatable; default: a fixed list")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from PIL import Image
    prompts = a.prompt or DEFAULT_PROMPTS
    v = generate(a.model, prompts, a.frames, a.steps, a.guidance, a.seed)
    P, T, H, W, _ = v.shape
    pad = np.full((P, T, H + 1, W + 1, 3), 40, np.uint8)
    pad[:, :, :H, :W] = v
    grid = pad.transpose(0, 2, 1, 3, 4).reshape(P * (H + 1), T * (W + 1), 3)
    Image.fromarray(grid).resize((grid.shape[1] * a.scale, grid.shape[0] * a.scale), Image.NEAREST).save(a.out)
    for i, pr in enumerate(prompts):
        print(f"row {i}: {pr!r}")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
