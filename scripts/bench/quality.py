#!/usr/bin/env python3
"""Quality benchmark of long generated videos: Video-Infinity clip parallelism against independent clips.

Generates with `infinity generate` (pixel-space models such as models/tiny-shapes: `latents` are the
RGB pixels in [-1, 1]) and measures everything from the pixels:

  (a) Video-Infinity: one multi-prompt `generate` run of --frames frames in clips of --clip-frames,
      clips exchanging context (one row per --a-args configuration);
  (b) independent clips: the same clips generated one `generate` run each (--frames = that clip's
      frames, --seed = seed + i, that clip's prompt), concatenated: the same initial noise as (a),
      no exchange;
  (c) single clips at the trained length, --c-samples per prompt (the model's own reference quality,
      no boundaries; seeds seed + 10000 + k);
  ground truth: the same prompts and clip layout rendered by scripts/train_tiny/data.py (a sanity row:
      the metrics must give ~100% fidelity and a boundary ratio near 1 there).

Metrics (pixel differences in the model's [-1, 1] units):
  - boundary smoothness: mean |f_t - f_{t-1}| for t a clip start inside one prompt's span, divided by
    the mean for t inside clips (1 = boundaries as smooth as the clips themselves). Boundaries where the
    prompt changes are reported separately (the subject is meant to change there). The same ratio on
    4x4 block means ("pooled") ignores per-pixel noise and follows the object and the background.
  - prompt fidelity: the object is segmented per frame (robust planar fit of the background per channel,
    pixels far from it, largest 8-connected component, which must be 3..80 pixels with <= 8% of the
    frame far from the background besides it, else the frame has no object: detected %); its core
    colour is classified against the 6 data.py palette colours (colour %), its coverage map against
    circle/square/triangle templates rendered like data.py (shape %); frames without an object count
    as wrong; the coverage-weighted centroid gives the motion: axis % = clips
    whose main motion axis (>= 1 px of travel) is the prompt's, start dir % = prompt spans whose first
    3 moves go >= 0.5 px the prompt's way (objects bounce at the edges, so later moves may reverse).
  - consistency inside each prompt's span (mean over spans): std over frames of the object's core colour
    and of its area (coverage, pixels), and colour/shape label flips between consecutive frames.

Run from the repository root (numpy + safetensors; the reference venv has both; not needed by CI):
    .venv-ref/bin/python scripts/bench/quality.py --model models/tiny-shapes --frames 128 --steps 25
It prints a markdown table, the timings and the exact command, and writes a contact sheet PNG
(docs/quality-contact-sheet.png by default): one row per variant, the frames around clip boundaries.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
from safetensors.numpy import load_file

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "train_tiny"))
import data  # noqa: E402  (scripts/train_tiny/data.py: palette, shapes, renderer)

DEFAULT_PROMPTS = ["a red circle moving right", "a blue square moving down",
                   "a yellow triangle moving left", "a green circle moving up"]
PALETTE_NAMES = list(data.COLOURS)
PALETTE = np.array([data.COLOURS[c] for c in PALETTE_NAMES])  # [6, 3] in [0, 1]
PROMPT_RE = re.compile(r"^a (\w+) (\w+) moving (\w+)$")

# Segmentation thresholds, on the Euclidean RGB distance from the fitted background in [0, 1] units.
# Backgrounds are dark (channels <= 0.35) and every palette colour has a channel >= 0.9, so a fully
# covered object pixel is >= 0.55 away; gradients are linear, so the planar fit leaves ~0 there.
FIT_INLIER = 0.2    # pixels closer than this to the current plane fit are background for the next fit
OBJECT_DIST = 0.3   # pixels farther than this from the background are object
MIN_PIXELS = 3      # smallest component that counts as an object
MAX_PIXELS = 80     # largest one (training objects cover <= ~45 pixels at 16x16)
MAX_STRAY = 0.08    # at most this fraction of the frame may be far from the background outside the object
RADII = np.linspace(2.6, 3.6, 6)  # data.sample_spec's radius range at 16x16


def parse_prompt(prompt: str) -> tuple[str, str, str]:
    """'a red circle moving right' -> ('red', 'circle', 'right'); anything else is an error."""
    m = PROMPT_RE.match(prompt.strip().lower())
    if not m or m.group(1) not in data.COLOURS or m.group(2) not in data.SHAPES or m.group(3) not in data.DIRECTIONS:
        raise SystemExit(f"prompt {prompt!r}: the metrics need 'a <colour> <shape> moving <direction>' with colour in "
                         f"{PALETTE_NAMES}, shape in {list(data.SHAPES)}, direction in {list(data.DIRECTIONS)}")
    return m.group(1), m.group(2), m.group(3)


def clip_plan(frames: int, clip_frames: int) -> list[int]:
    """Clip frame counts exactly as the engine cuts them (Parallel/ClipPlan.swift)."""
    n = (frames + clip_frames - 1) // clip_frames
    base, extra = divmod(frames, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def clip_prompts(n_clips: int, n_prompts: int) -> list[int]:
    """Clip i of N uses prompt floor(i * P / N) (the engine's rule)."""
    return [i * n_prompts // n_clips for i in range(n_clips)]


class Layout:
    """A video's clips and prompt spans: sizes, start frames, the prompt index of each clip."""

    def __init__(self, sizes: list[int], prompt_of_clip: list[int]):
        self.sizes = sizes
        self.starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self.prompt_of_clip = prompt_of_clip
        self.frames = sum(sizes)
        # Spans: maximal runs of clips with the same prompt -> (prompt index, first clip, end clip).
        self.spans = []
        for i, p in enumerate(prompt_of_clip):
            if self.spans and self.spans[-1][0] == p and self.spans[-1][2] == i:
                self.spans[-1][2] = i + 1
            else:
                self.spans.append([p, i, i + 1])

    def frame_prompt(self) -> np.ndarray:
        out = np.empty(self.frames, dtype=int)
        for s, n, p in zip(self.starts, self.sizes, self.prompt_of_clip):
            out[s:s + n] = p
        return out

    def span_frames(self, span) -> range:
        _, c0, c1 = span
        return range(self.starts[c0], self.starts[c1 - 1] + self.sizes[c1 - 1])


# ----------------------------------------------------------------------------------------------------
# Generation


def run_generate(args, prompts: list[str], frames: int, clip_frames: int, seed: int, out: str,
                 extra: list[str]) -> float:
    """Runs `infinity generate`; returns its wall time in seconds. With --reuse an output whose stamp
    (out + '.cmd': the command and the model weights' size and mtime) matches is kept, and the time
    recorded when it was made is returned."""
    cmd = [args.infinity, "generate", "--model", args.model]
    for p in prompts:
        cmd += ["--prompt", p]
    cmd += ["--frames", str(frames), "--clip-frames", str(clip_frames), "--height", str(args.size),
            "--width", str(args.size), "--steps", str(args.steps), "--guidance", str(args.guidance),
            "--seed", str(seed), "--workers", args.workers, "--threads", str(args.threads), "--out", out] + extra
    weights = os.path.join(args.model, "unet", "diffusion_pytorch_model.safetensors")
    st = os.stat(weights) if os.path.exists(weights) else None
    stamp = shlex.join(cmd) + (f"\n{weights} {st.st_size} {st.st_mtime_ns}" if st else "") + "\n"
    if args.reuse and os.path.exists(out) and os.path.exists(out + ".cmd"):
        with open(out + ".cmd") as f:
            text = f.read()
        if text.startswith(stamp) and text[len(stamp):].startswith("seconds "):
            return float(text[len(stamp):].split()[1])
    t0 = time.monotonic()
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dt = time.monotonic() - t0
    if res.returncode != 0:
        raise SystemExit(f"`{shlex.join(cmd)}` failed (exit {res.returncode}):\n{res.stdout[-3000:]}")
    with open(out + ".cmd", "w") as f:
        f.write(stamp + f"seconds {dt:.3f}\n")
    return dt


def load_video(path: str) -> np.ndarray:
    """latents [3, F, H, W] of an output file -> float32 [F, 3, H, W], clamped to [-1, 1] as every video
    writer (and scripts/train_tiny/sample.py) shows them."""
    t = load_file(path)
    if "latents" not in t:
        raise SystemExit(f"{path}: no 'latents' tensor (has {sorted(t)})")
    v = t["latents"]
    if v.ndim != 4 or v.shape[0] != 3:
        raise SystemExit(f"{path}: 'latents' has shape {list(v.shape)}, expected [3, F, H, W] (a pixel-space model)")
    return np.clip(v.transpose(1, 0, 2, 3), -1.0, 1.0).astype(np.float32)


def ground_truth(prompts: list[str], layout: Layout, seed: int, size: int) -> np.ndarray:
    """data.py renderings: one continuous video per prompt span, concatenated -> [F, 3, H, W]."""
    rng = np.random.default_rng([seed, 4242])
    parts = []
    for span in layout.spans:
        colour, shape, direction = parse_prompt(prompts[span[0]])
        while True:  # start positions depend on the direction: draw until it matches
            spec = data.sample_spec(rng, size)
            if spec["direction"] == direction:
                break
        spec.update(colour=colour, shape=shape, caption=data.caption(colour, shape, direction))
        parts.append(data.render(spec, len(layout.span_frames(span)), size))
    return np.concatenate(parts)


# ----------------------------------------------------------------------------------------------------
# Per-frame analysis


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """8-connected components of a boolean [H, W] mask, as lists of flat indices."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    comps = []
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        stack, comp = [start], []
        seen[start] = True
        while stack:
            y, x = stack.pop()
            comp.append(y * w + x)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not seen[yy, xx]:
                        seen[yy, xx] = True
                        stack.append((yy, xx))
        comps.append(np.array(comp))
    return comps


def _coverage(shape: str, cx: np.ndarray, cy: np.ndarray, r: np.ndarray, size: int) -> np.ndarray:
    """data.render's supersampled coverage for shapes at (cx, cy) with radius r (arrays [K]) -> [K, H, W]."""
    s = data.SUPERSAMPLE
    coords = (np.arange(size * s) + 0.5) / s
    px = coords[None, None, :] - cx[:, None, None]
    py = coords[None, :, None] - cy[:, None, None]
    r = r[:, None, None]
    if shape == "circle":
        m = px * px + py * py <= r * r
    elif shape == "square":
        m = (np.abs(px) <= 0.85 * r) & (np.abs(py) <= 0.85 * r)
    else:
        top, base, half = -r, 0.8 * r, 1.05 * r
        m = (py >= top) & (py <= base) & (np.abs(px) <= half * (py - top) / (base - top))
    return m.reshape(len(cx), size, s, size, s).mean(axis=(2, 4))


# Offset of each shape's area centroid from its position (data.py's triangle: apex -r, base 0.8r,
# centroid 2/3 of the way down = +0.2r); circles and squares are centred.
CENTROID_DY = {"circle": 0.0, "square": 0.0, "triangle": 0.2}


def analyse_frame(img: np.ndarray) -> dict | None:
    """Segments the object of one frame [3, H, W] in [-1, 1]; None if there is no single object on a
    background (the frame counts as wrong for every fidelity figure)."""
    _, h, w = img.shape
    u = ((img + 1.0) * 0.5).reshape(3, -1).T  # [HW, 3] in [0, 1]
    ys, xs = np.divmod(np.arange(h * w), w)
    design = np.stack([np.ones(h * w), (xs + 0.5) / w, (ys + 0.5) / h], axis=1)
    inl = np.ones(h * w, dtype=bool)
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(design[inl], u[inl], rcond=None)
        bg = design @ coef
        dist = np.linalg.norm(u - bg, axis=1)
        new = dist < FIT_INLIER
        if new.sum() < h * w // 4 or np.array_equal(new, inl):
            break
        inl = new
    mask = (dist > OBJECT_DIST).reshape(h, w)
    comps = _components(mask)
    if not comps:
        return None
    comp = max(comps, key=len)
    if not MIN_PIXELS <= len(comp) <= MAX_PIXELS or mask.sum() - len(comp) > MAX_STRAY * h * w:
        return None  # nothing, or no single object on a background (noise, several blobs, a flat fill)
    # Core colour: the component's pixels at least 70% as far from the background as the farthest.
    d = dist[comp]
    core = comp[d >= 0.7 * d.max()]
    colour = u[core].mean(axis=0)
    cls = int(np.argmin(np.linalg.norm(PALETTE - colour, axis=1)))
    # Coverage (alpha) over the component dilated by one pixel: pixel = bg + alpha (colour - bg).
    region = np.zeros((h, w), dtype=bool)
    cy_, cx_ = np.divmod(comp, w)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            region[np.clip(cy_ + dy, 0, h - 1), np.clip(cx_ + dx, 0, w - 1)] = True
    idx = np.flatnonzero(region)
    diff = colour[None] - bg[idx]
    alpha_r = np.clip(((u[idx] - bg[idx]) * diff).sum(1) / np.maximum((diff * diff).sum(1), 1e-6), 0.0, 1.0)
    alpha = np.zeros(h * w)
    alpha[idx] = alpha_r
    area = float(alpha.sum())
    cx = float((alpha * (xs + 0.5)).sum() / max(area, 1e-6))
    cy = float((alpha * (ys + 0.5)).sum() / max(area, 1e-6))
    # Shape: the template (data.py's renderer, radii over the training range, centroid on the measured
    # one) closest to the coverage map.
    amap = alpha.reshape(h, w)
    best, best_err = None, np.inf
    for shape in data.SHAPES:
        cyy = cy - CENTROID_DY[shape] * RADII
        cov = _coverage(shape, np.full(len(RADII), cx), cyy, RADII, w)
        err = ((cov - amap[None]) ** 2).sum(axis=(1, 2)).min()
        if err < best_err:
            best, best_err = shape, err
    return dict(colour=colour * 2.0 - 1.0, colour_name=PALETTE_NAMES[cls], shape=best, area=area, cx=cx, cy=cy)


# ----------------------------------------------------------------------------------------------------
# Metrics


def smoothness(video: np.ndarray, layout: Layout, pool: int = 4) -> dict:
    """Mean |f_t - f_{t-1}| at clip starts inside a prompt's span, at prompt changes and inside clips;
    `ratio` on the pixels, `pooled_ratio` on pool x pool block means (insensitive to per-pixel noise,
    it follows the object and the background)."""
    f, c, h, w = video.shape
    pool = pool if h % pool == 0 and w % pool == 0 else 1
    pooled = video.reshape(f, c, h // pool, pool, w // pool, pool).mean(axis=(3, 5))
    fp = layout.frame_prompt()
    starts = set(layout.starts[1:])
    inside_t = [t for t in range(1, layout.frames) if t not in starts]
    same_t = [t for t in sorted(starts) if fp[t] == fp[t - 1]]
    change_t = [t for t in sorted(starts) if fp[t] != fp[t - 1]]
    out = dict(n_boundary=len(same_t), n_change=len(change_t))
    for prefix, v in (("", video), ("pooled_", pooled)):
        d = np.abs(v[1:] - v[:-1]).mean(axis=(1, 2, 3))  # d[t-1] = mean |f_t - f_{t-1}|
        mean = lambda ts: float(np.mean([d[t - 1] for t in ts])) if ts else float("nan")  # noqa: E731
        out.update({prefix + "inside": mean(inside_t), prefix + "boundary": mean(same_t),
                    prefix + "change": mean(change_t),
                    prefix + "ratio": mean(same_t) / mean(inside_t) if same_t and inside_t else float("nan")})
    return out


def fidelity(frames: list[dict | None], layout: Layout, prompts: list[str]) -> dict:
    fp = layout.frame_prompt()
    parsed = [parse_prompt(p) for p in prompts]
    detected = sum(f is not None for f in frames)
    colour_ok = sum(f is not None and f["colour_name"] == parsed[fp[t]][0] for t, f in enumerate(frames))
    shape_ok = sum(f is not None and f["shape"] == parsed[fp[t]][1] for t, f in enumerate(frames))

    def moves(rng_frames):
        """Centroid moves (dx, dy) between consecutive frames of rng_frames with an object in both."""
        out = []
        for t in list(rng_frames)[1:]:
            a, b = frames[t - 1], frames[t]
            if a is not None and b is not None:
                out.append((b["cx"] - a["cx"], b["cy"] - a["cy"]))
        return np.array(out).reshape(-1, 2)

    axis_ok = 0
    for ci, (s, n) in enumerate(zip(layout.starts, layout.sizes)):
        dx, dy = data.DIRECTIONS[parsed[layout.prompt_of_clip[ci]][2]]
        m = np.abs(moves(range(s, s + n))).sum(axis=0)  # travel along x, along y
        along, across = (m[0], m[1]) if dx != 0 else (m[1], m[0])
        axis_ok += bool(along >= 1.0 and along > across)
    dir_ok = 0
    for span in layout.spans:
        r = layout.span_frames(span)
        dx, dy = data.DIRECTIONS[parsed[span[0]][2]]
        m = moves(range(r.start, min(r.start + 4, r.stop)))
        dir_ok += bool(len(m) and (m[:, 0] * dx + m[:, 1] * dy).sum() >= 0.5)

    # Consistency inside each prompt span.
    c_std, a_std, c_flips, s_flips = [], [], 0, 0
    for span in layout.spans:
        fs = [frames[t] for t in layout.span_frames(span) if frames[t] is not None]
        if len(fs) >= 2:
            c_std.append(float(np.std([f["colour"] for f in fs], axis=0).mean()))
            a_std.append(float(np.std([f["area"] for f in fs])))
        for a, b in zip(fs[:-1], fs[1:]):
            c_flips += a["colour_name"] != b["colour_name"]
            s_flips += a["shape"] != b["shape"]
    n = len(frames)
    return dict(detect=100.0 * detected / n, colour=100.0 * colour_ok / n, shape=100.0 * shape_ok / n,
                axis=100.0 * axis_ok / len(layout.sizes), dir=100.0 * dir_ok / len(layout.spans),
                n_clips=len(layout.sizes), n_spans=len(layout.spans),
                colour_std=float(np.mean(c_std)) if c_std else float("nan"),
                area_std=float(np.mean(a_std)) if a_std else float("nan"), colour_flips=c_flips,
                shape_flips=s_flips)


def evaluate(video: np.ndarray, layout: Layout, prompts: list[str]) -> dict:
    frames = [analyse_frame(f) for f in video]
    return dict(smooth=smoothness(video, layout), fid=fidelity(frames, layout, prompts))


# ----------------------------------------------------------------------------------------------------
# Contact sheet (stdlib PNG)

FONT = {  # 3x5 glyphs, rows top to bottom
    "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"],
    "2": ["111", "001", "111", "100", "111"], "3": ["111", "001", "111", "001", "111"],
    "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
    "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "010", "010", "010"],
    "8": ["111", "101", "111", "101", "111"], "9": ["111", "101", "111", "001", "111"],
    "A": ["010", "101", "111", "101", "101"], "B": ["110", "101", "110", "101", "110"],
    "C": ["011", "100", "100", "100", "011"], "G": ["011", "100", "101", "101", "011"],
    "T": ["111", "010", "010", "010", "010"], "|": ["010", "010", "010", "010", "010"],
    " ": ["000", "000", "000", "000", "000"],
}


def draw_text(img: np.ndarray, text: str, x: int, y: int, scale: int, colour=(230, 230, 230)) -> None:
    for ch in text:
        for r, row in enumerate(FONT[ch]):
            for c, bit in enumerate(row):
                if bit == "1":
                    img[y + r * scale:y + (r + 1) * scale, x + c * scale:x + (c + 1) * scale] = colour
        x += 4 * scale


def write_png(path: str, img: np.ndarray) -> None:
    """uint8 [H, W, 3] -> PNG (zlib + struct only)."""
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(png)


def contact_sheet(path: str, rows: list[tuple[str, np.ndarray, list[int], set[int]]], groups: list[list[int]],
                  scale: int = 4) -> None:
    """rows: (label, video [F, 3, H, W], the frame index shown per slot, the frames that start a clip);
    groups: the slots of each group. Frames are upscaled `scale`x nearest; the first row's frame numbers
    are written above; a separator in front of a clip's first frame is orange."""
    h, w = rows[0][1].shape[2:]
    fw, fh, sep, gsep, label_w, top = w * scale, h * scale, 2, 10, 28, 16
    n_slots = sum(len(g) for g in groups)
    width = label_w + n_slots * fw + (n_slots - len(groups)) * sep + (len(groups) - 1) * gsep
    height = top + len(rows) * fh + (len(rows) - 1) * sep * 2
    img = np.full((height, width, 3), 24, np.uint8)
    for ri, (label, video, frame_idx, starts) in enumerate(rows):
        y = top + ri * (fh + 2 * sep)
        draw_text(img, label, 3, y + fh // 2 - 5, 2)
        x = label_w
        slot = 0
        for g in groups:
            for k in range(len(g)):
                t = frame_idx[slot]
                if k > 0 and t in starts:
                    img[y:y + fh, x - sep:x] = (240, 150, 30)
                pix = ((video[t].transpose(1, 2, 0) + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
                img[y:y + fh, x:x + fw] = pix.repeat(scale, 0).repeat(scale, 1)
                if ri == 0:
                    draw_text(img, str(t), x + 2, 3, 2, (170, 170, 170))
                slot += 1
                x += fw + (sep if k < len(g) - 1 else gsep)
    write_png(path, img)


# ----------------------------------------------------------------------------------------------------


def fmt(v: float, digits: int = 3) -> str:
    return "–" if v != v else f"{v:.{digits}f}"


def table(rows: list[tuple[str, dict, float | None]]) -> str:
    head = ("| variant | boundary / inside (ratio) | ratio, 4x4 pooled | prompt-change jump | colour % | shape % "
            "| axis % | start dir % | detected % | colour std | area std (px) | colour / shape flips | time (s) |")
    out = [head, "|:--|" + "--:|" * (head.count("|") - 2)]
    for name, r, secs in rows:
        s, f = r["smooth"], r["fid"]
        if s["n_boundary"]:
            ratio = f"{fmt(s['boundary'])} / {fmt(s['inside'])} (**{fmt(s['ratio'], 2)}**)"
            pooled = fmt(s["pooled_ratio"], 2)
        else:
            ratio, pooled = f"– / {fmt(s['inside'])}", "–"
        out.append(f"| {name} | {ratio} | {pooled} | {fmt(s['change'])} | {f['colour']:.0f} | {f['shape']:.0f} "
                   f"| {f['axis']:.0f} ({f['n_clips']} clips) | {f['dir']:.0f} ({f['n_spans']}) | {f['detect']:.0f} "
                   f"| {fmt(f['colour_std'])} | {fmt(f['area_std'], 2)} | {f['colour_flips']} / {f['shape_flips']} "
                   f"| {'–' if secs is None else f'{secs:.1f}'} |")
    return "\n".join(out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/tiny-shapes")
    p.add_argument("--infinity", default=os.path.join(REPO, ".build", "release", "infinity"))
    p.add_argument("--prompts", nargs="+", default=DEFAULT_PROMPTS, help="'a <colour> <shape> moving <direction>'")
    p.add_argument("--frames", type=int, default=128)
    p.add_argument("--clip-frames", type=int, default=8, help="clip length (the model's trained length)")
    p.add_argument("--size", type=int, default=16, help="height = width")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--c-samples", type=int, default=2, help="(c): single clips per prompt")
    p.add_argument("--a-args", action="append", default=None,
                   help="Video-Infinity flags for (a), repeatable (one row each; '' = the engine's defaults); "
                        "default '--local-frames 2 --global-frames 4'")
    p.add_argument("--workers", default="in-process:1")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out-dir", default="/tmp/infinity-quality", help="generated videos (.safetensors)")
    p.add_argument("--sheet", default=os.path.join(REPO, "docs", "quality-contact-sheet.png"))
    p.add_argument("--reuse", action="store_true",
                   help="keep outputs in --out-dir made by the same command from the same weights")
    a = p.parse_args(argv)
    a.a_args = a.a_args or ["--local-frames 2 --global-frames 4"]
    if a.c_samples < 1:
        raise SystemExit(f"--c-samples must be at least 1, got {a.c_samples}")
    for pr in a.prompts:
        parse_prompt(pr)
    if not os.path.isfile(a.infinity):
        raise SystemExit(f"{a.infinity}: no infinity binary (swift build -c release, or pass --infinity)")
    os.makedirs(a.out_dir, exist_ok=True)

    sizes = clip_plan(a.frames, a.clip_frames)
    layout = Layout(sizes, clip_prompts(len(sizes), len(a.prompts)))
    results: list[tuple[str, dict, float | None]] = []
    videos: dict[str, np.ndarray] = {}

    gt = ground_truth(a.prompts, layout, a.seed, a.size)
    results.append(("ground truth (data.py)", evaluate(gt, layout, a.prompts), None))
    videos["GT"] = gt

    for k, extra in enumerate(a.a_args):
        path = os.path.join(a.out_dir, f"a{k}.safetensors")
        secs = run_generate(a, a.prompts, a.frames, a.clip_frames, a.seed, path, shlex.split(extra))
        v = load_video(path)
        tag = "A" if len(a.a_args) == 1 else f"A{k + 1}"
        name = f"`{extra}`" if extra.strip() else "(engine defaults)"
        results.append((f"(a) Video-Infinity {name}", evaluate(v, layout, a.prompts), secs))
        videos[tag] = v
        print(f"(a) {name}: {secs:.1f} s", file=sys.stderr, flush=True)

    parts, total = [], 0.0
    for i, n in enumerate(sizes):
        path = os.path.join(a.out_dir, f"b{i:03d}.safetensors")
        pr = a.prompts[layout.prompt_of_clip[i]]
        secs = run_generate(a, [pr], n, n, a.seed + i, path, [])
        total += secs
        parts.append(load_video(path))
    videos["B"] = np.concatenate(parts)
    results.append(("(b) independent clips", evaluate(videos["B"], layout, a.prompts), total))
    print(f"(b): {total:.1f} s", file=sys.stderr, flush=True)

    parts, total, c_prompt = [], 0.0, []
    for pi, pr in enumerate(a.prompts):
        for k in range(a.c_samples):
            path = os.path.join(a.out_dir, f"c{pi:02d}_{k}.safetensors")
            secs = run_generate(a, [pr], a.clip_frames, a.clip_frames, a.seed + 10000 + pi * a.c_samples + k,
                                path, [])
            total += secs
            parts.append(load_video(path))
            c_prompt.append(pi)
    c_layout = Layout([a.clip_frames] * len(parts), c_prompt)
    # Every (c) clip is its own span: give consecutive clips of one prompt distinct span entries.
    c_layout.spans = [[pi, i, i + 1] for i, pi in enumerate(c_prompt)]
    videos["C"] = np.concatenate(parts)
    c_res = evaluate(videos["C"], c_layout, a.prompts)
    c_res["smooth"].update(n_boundary=0, change=float("nan"))  # (c) has no boundaries
    results.append((f"(c) single {a.clip_frames}-frame clips", c_res, total))
    print(f"(c): {total:.1f} s", file=sys.stderr, flush=True)

    # Contact sheet: the 4 frames around up to 3 clip boundaries (two inside a prompt's span, one at a
    # prompt change when there is one); (c) shows frames 2..5 of the first sample of that group's prompt.
    # The ground truth's spans are continuous videos, so its row shows a clip boundary as an ordinary frame.
    fp = layout.frame_prompt()
    same = [s for s in layout.starts[1:] if fp[s] == fp[s - 1]]
    change = [s for s in layout.starts[1:] if fp[s] != fp[s - 1]]
    chosen = sorted(set(same[:1] + change[:1] + same[-1:]))[:3] or [layout.starts[0] + 2]
    groups, frame_idx, c_idx = [], [], []
    for b in chosen:
        g = [t for t in range(b - 2, b + 2) if 0 <= t < layout.frames]
        groups.append(g)
        frame_idx += g
        first_c = c_prompt.index(fp[b]) * a.clip_frames
        c_idx += [first_c + 2 + j for j in range(len(g))]
    starts = set(layout.starts)
    rows = [("GT", videos["GT"], frame_idx, starts)]
    rows += [(tag, videos[tag], frame_idx, starts) for tag in videos if tag.startswith("A")]
    rows += [("B", videos["B"], frame_idx, starts), ("C", videos["C"], c_idx, set())]
    contact_sheet(a.sheet, rows, groups)

    print(table(results))
    print()
    print(f"{a.frames} frames = {len(sizes)} clips of {a.clip_frames} at {a.size}x{a.size}, prompts "
          + "; ".join(f"{pr!r} (clips {sp[1]}-{sp[2] - 1})" for sp in layout.spans for pr in [a.prompts[sp[0]]])
          + f"; {a.steps} DDIM steps, guidance {a.guidance}, seed {a.seed}, {a.workers}, {a.threads} threads; "
          f"(c): {a.c_samples} clip(s) per prompt. Pixel figures in [-1, 1] units. "
          f"Contact sheet: {os.path.relpath(a.sheet, REPO)} (frames {groups}; rows "
          + ", ".join(r[0] for r in rows) + ").")
    print("Columns: boundary / inside = mean |f_t - f_(t-1)| at clip starts inside a prompt's span / inside "
          "clips (ratio: 1 = seamless; pooled: the same on 4x4 block means, blind to per-pixel noise); "
          "prompt-change jump = the same at clip starts where the prompt changes; colour %, shape % = frames "
          "whose object has the prompt's colour, shape (frames without a single clean object count as wrong; "
          "detected % = frames with one); axis % = clips moving >= 1 px, mostly along the prompt's axis; start "
          "dir % = prompt spans whose first 3 moves go >= 0.5 px the prompt's way; colour std, area std = std over "
          "the frames of a prompt's span of the object's core colour and coverage area (mean over spans); flips = "
          "frame-to-frame changes of the detected colour / shape inside spans; time = wall time of the generate "
          "run(s) ((b), (c): the sum over their runs, each loading the model).")
    print()
    print("command: " + shlex.join([os.path.relpath(sys.executable, REPO) if sys.executable.startswith(REPO)
                                    else sys.executable, os.path.relpath(os.path.abspath(__file__), REPO)]
                                   + (sys.argv[1:] if argv is None else list(argv))))


if __name__ == "__main__":
    main()
