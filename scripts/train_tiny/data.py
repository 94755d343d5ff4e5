"""Procedural captioned videos of coloured shapes moving and bouncing (deterministic from a seed).

Frames are RGB float32 in [-1, 1], shape [T, 3, H, W]. Shapes are rendered at `SUPERSAMPLE`x
resolution and box-filtered down, so a 3-4 pixel object still looks like a circle, square or
triangle at 16x16. The renderer draws any number of frames (long videos for the quality
benchmark); training uses 8-frame clips.
"""
from __future__ import annotations

import numpy as np

COLOURS = {
    "red": (0.95, 0.15, 0.15),
    "green": (0.15, 0.85, 0.20),
    "blue": (0.20, 0.35, 1.00),
    "yellow": (0.98, 0.90, 0.15),
    "white": (0.97, 0.97, 0.97),
    "purple": (0.70, 0.20, 0.90),
}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
SUPERSAMPLE = 4


def vocabulary_words() -> list[str]:
    """All caption words, in a fixed order (the tokenizer vocabulary after the special tokens)."""
    return ["a", "moving"] + list(COLOURS) + list(SHAPES) + list(DIRECTIONS)


def caption(colour: str, shape: str, direction: str) -> str:
    return f"a {colour} {shape} moving {direction}"


def sample_spec(rng: np.random.Generator, size: int = 16) -> dict:
    """Draws one video description: object, motion and background."""
    colour = list(COLOURS)[rng.integers(len(COLOURS))]
    shape = SHAPES[rng.integers(len(SHAPES))]
    direction = list(DIRECTIONS)[rng.integers(len(DIRECTIONS))]
    radius = float(rng.uniform(2.6, 3.6)) * size / 16.0
    speed = float(rng.uniform(0.8, 1.3)) * size / 16.0
    lo, hi = radius, size - radius
    dx, dy = DIRECTIONS[direction]
    # Along the motion axis start in the first 60% of the track so the caption's direction
    # dominates the first clip; the other axis is uniform.
    along = float(rng.uniform(0.0, 0.6))
    across = float(rng.uniform(lo, hi))
    if dx != 0:
        x = lo + along * (hi - lo) if dx > 0 else hi - along * (hi - lo)
        y = across
    else:
        y = lo + along * (hi - lo) if dy > 0 else hi - along * (hi - lo)
        x = across
    # Background: 0 = plain dark, 1 = vertical gradient, 2 = horizontal gradient.
    kind = int(rng.integers(3))
    c0 = rng.uniform(0.0, 0.25, size=3)
    c1 = rng.uniform(0.0, 0.35, size=3)
    return dict(colour=colour, shape=shape, direction=direction, radius=radius, speed=speed,
                x0=x, y0=y, bg_kind=kind, bg0=c0.tolist(), bg1=c1.tolist(),
                caption=caption(colour, shape, direction))


def _bounce(p0: float, v: float, lo: float, hi: float, n: int) -> np.ndarray:
    """Positions p0 + v*t reflected into [lo, hi] (bouncing at the edges)."""
    span = hi - lo
    t = np.arange(n, dtype=np.float64)
    q = (p0 - lo + v * t) % (2 * span)
    return lo + np.where(q > span, 2 * span - q, q)


def trajectory(spec: dict, frames: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    r = spec["radius"]
    dx, dy = DIRECTIONS[spec["direction"]]
    xs = _bounce(spec["x0"], dx * spec["speed"], r, size - r, frames)
    ys = _bounce(spec["y0"], dy * spec["speed"], r, size - r, frames)
    return xs, ys


def render(spec: dict, frames: int, size: int = 16) -> np.ndarray:
    """Renders `frames` frames of the video described by `spec` -> float32 [T, 3, size, size] in [-1, 1]."""
    s = SUPERSAMPLE
    big = size * s
    coords = (np.arange(big, dtype=np.float64) + 0.5) / s
    gx, gy = np.meshgrid(coords, coords)  # [big, big], pixel units
    xs, ys = trajectory(spec, frames, size)
    px = gx[None] - xs[:, None, None]
    py = gy[None] - ys[:, None, None]
    r = spec["radius"]
    shape = spec["shape"]
    if shape == "circle":
        mask = px * px + py * py <= r * r
    elif shape == "square":
        h = r * 0.85
        mask = (np.abs(px) <= h) & (np.abs(py) <= h)
    elif shape == "triangle":
        # Upward-pointing triangle inscribed-ish in the radius: apex (0,-r), base at y = 0.8 r.
        top, base, half = -r, 0.8 * r, 1.05 * r
        inside_y = (py >= top) & (py <= base)
        frac = (py - top) / (base - top)
        mask = inside_y & (np.abs(px) <= half * frac)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    cover = mask.reshape(frames, size, s, size, s).mean(axis=(2, 4))  # [T, H, W]

    b0 = np.asarray(spec["bg0"])[:, None, None]
    b1 = np.asarray(spec["bg1"])[:, None, None]
    ramp = (np.arange(size) + 0.5) / size
    if spec["bg_kind"] == 0:
        bg = np.broadcast_to(b0, (3, size, size))
    elif spec["bg_kind"] == 1:
        bg = b0 + (b1 - b0) * ramp[None, :, None]
    else:
        bg = b0 + (b1 - b0) * ramp[None, None, :]
    col = np.asarray(COLOURS[spec["colour"]])[:, None, None]
    img = bg[None] * (1 - cover[:, None]) + col[None] * cover[:, None]  # [T, 3, H, W] in [0, 1]
    return (img * 2.0 - 1.0).astype(np.float32)


def batch(seed: int, step: int, batch_size: int, frames: int = 8, size: int = 16):
    """The deterministic training batch number `step` for `seed`: (videos [B,T,3,H,W], captions)."""
    rng = np.random.default_rng([seed, step])
    specs = [sample_spec(rng, size) for _ in range(batch_size)]
    videos = np.stack([render(sp, frames, size) for sp in specs])
    return videos, [sp["caption"] for sp in specs]


if __name__ == "__main__":
    import sys
    from PIL import Image
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/train-tiny/data-grid.png"
    v, caps = batch(0, 0, 8, frames=16)
    grid = ((v.transpose(0, 3, 1, 4, 2).reshape(8 * 16, 16 * 16, 3) + 1) * 127.5).clip(0, 255).astype(np.uint8)
    Image.fromarray(grid).resize((16 * 16 * 4, 8 * 16 * 4), Image.NEAREST).save(out)
    print("\n".join(caps))
    print("wrote", out)
