"""Trains the tiny-shapes text-to-video model (pixel-space UNet3DConditionModel + TinyTextEncoder).

Time-budgeted (--minutes: training stops and exports when the accumulated training time reaches
the budget) and resumable (--resume continues from <work>/ckpt.pt, written every --ckpt-minutes).
Every batch, timestep, noise and caption drop is a pure function of (--seed, step), so a resumed
run follows the same data as an uninterrupted one.

    nice -n 10 .venv-ref/bin/python scripts/train_tiny/train.py --minutes 70 --resume
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from text_encoder import TinyTextEncoder, Tokenizer, write_parity  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

UNET_CONFIG = dict(
    sample_size=16, in_channels=3, out_channels=3,
    down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
    block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8,
    cross_attention_dim=32, attention_head_dim=8,
)
SCHEDULE = dict(num_train_timesteps=1000, beta_schedule="linear", beta_start=0.00085, beta_end=0.012)


def make_unet():
    from diffusers import UNet3DConditionModel
    return UNet3DConditionModel(**UNET_CONFIG)


def make_ddim_config():
    from diffusers import DDIMScheduler
    return DDIMScheduler(**SCHEDULE, clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                         timestep_spacing="leading", prediction_type="epsilon")


def write_text_encoder_folder(root: str, te: TinyTextEncoder, tok: Tokenizer) -> None:
    """root/text_encoder/{config.json, model.safetensors, parity.safetensors} + root/tokenizer/vocab.json."""
    te.save(os.path.join(root, "text_encoder"))
    tok.save(os.path.join(root, "tokenizer", "vocab.json"))
    write_parity(te, tok, os.path.join(root, "text_encoder", "parity.safetensors"))


def atomic_torch_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def lr_at(args, step: int, frac: float) -> float:
    warm = min(1.0, (step + 1) / args.warmup)
    frac = min(max(frac, 0.0), 1.0)
    return args.lr * warm * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))


@torch.no_grad()
def ema_update(ema, model, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1 - decay)


def write_status(path: str, text: str) -> None:
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def export(args, state: dict, unet, te, tok, history: list, command: str) -> None:
    out = args.out
    os.makedirs(out, exist_ok=True)
    unet.save_pretrained(os.path.join(out, "unet"), safe_serialization=True)
    make_ddim_config().save_pretrained(os.path.join(out, "scheduler"))
    write_text_encoder_folder(out, te, tok)
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump({"_class_name": "TinyShapesTextToVideo", "_note": "pixel-space (no VAE), 16x16 RGB in [-1,1]",
                   "unet": ["diffusers", "UNet3DConditionModel"], "scheduler": ["diffusers", "DDIMScheduler"],
                   "text_encoder": ["infinity", "TinyTextEncoder"], "tokenizer": ["infinity", "TinyTokenizer"]},
                  f, indent=2)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    curve = "\n".join(f"| {h['step']} | {h['minutes']:.1f} | {h['loss']:.4f} |" for h in history)
    words = ", ".join(f"`{w}`" for w in tok.tokens)
    readme = f"""# tiny-shapes

A tiny text-to-video model trained from scratch by `scripts/train_tiny/` on procedurally generated
videos of one coloured shape moving (and bouncing at the edges) over a plain or gradient dark
background. It is the repository's default model: small enough to ship (< 20 MB) and to run fast,
and steerable by prompts such as `a red circle moving right`.

- **Pixel space, no VAE**: the UNet denoises RGB frames directly, 16x16 pixels, 3 channels, values in [-1, 1].
- `unet/`: a diffusers `UNet3DConditionModel` (`save_pretrained`, float32, {sum(p.numel() for p in unet.parameters()):,} parameters),
  config: block_out_channels (32, 64), layers_per_block 1, norm_num_groups 8, cross_attention_dim 32, attention_head_dim 8.
  Trained on clips of {args.frames} frames; weights are the EMA (decay {args.ema}) of the training weights.
- `scheduler/`: DDIM config (linear betas 0.00085..0.012, 1000 steps, epsilon prediction, leading spacing, steps_offset 1).
- `text_encoder/`: `TinyTextEncoder` (token embedding + learned positions + 2 pre-LayerNorm transformer blocks of width 32,
  4 heads, MLP 128 with exact GELU, final LayerNorm); output = all 8 token states = `encoder_hidden_states` [8, 32].
  `parity.safetensors` holds `ids` (float32) and `hidden` for the prompts "a red circle moving right",
  "a blue square moving down" and "" (the unconditional prompt), computed by PyTorch.
- `tokenizer/vocab.json`: lowercase, split on whitespace, strip `,.;`; `[<bos>] + ids + [<eos>]`, padded with `<pad>` to 8.
  Vocabulary: {words}.
- Captions: `a {{colour}} {{shape}} moving {{direction}}`, colours {', '.join(data.COLOURS)}, shapes {', '.join(data.SHAPES)},
  directions {', '.join(data.DIRECTIONS)}. Captions were replaced by "" {int(args.cfg_drop * 100)}% of the time
  (classifier-free guidance; sample with guidance ~7.5, DDIM 25 steps).

## Training

    {command}

- seed {args.seed}, batch {args.batch}, AdamW lr {args.lr} (warmup {args.warmup} steps, cosine to {args.min_lr_frac}x over the time budget),
  weight decay {args.weight_decay}, DDPM epsilon-prediction MSE loss, text encoder trained jointly.
- {state['step']} steps in {state['elapsed'] / 60:.1f} minutes of training on {torch.get_num_threads()} CPU threads (budget {args.minutes} minutes).
- Total size on disk: {size / 1e6:.2f} MB.

Loss (mean over each logging window):

| step | minutes | loss |
|---:|---:|---:|
{curve}
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(readme)
    print(f"exported {out} ({size / 1e6:.2f} MB)", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=70.0, help="training time budget (accumulated over resumes)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--ema", type=float, default=0.998)
    p.add_argument("--cfg-drop", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default="/tmp/train-tiny", help="scratch: ckpt.pt, train.log")
    p.add_argument("--out", default=os.path.join(REPO, "models", "tiny-shapes"))
    p.add_argument("--resume", action="store_true", help="continue from <work>/ckpt.pt if it exists")
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--status", default="", help="markdown status file rewritten every --status-minutes")
    p.add_argument("--status-minutes", type=float, default=15.0)
    p.add_argument("--init-parity", default="", help="write the initial text encoder folder + parity here")
    p.add_argument("--sample-after", action="store_true", help="render a sample grid after export")
    p.add_argument("--export-only", action="store_true",
                   help="with --resume: export the checkpoint's EMA weights to --out without training")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    os.makedirs(args.work, exist_ok=True)
    command = "nice -n 10 .venv-ref/bin/python scripts/train_tiny/train.py " + " ".join(sys.argv[1:])
    log_path = os.path.join(args.work, "train.log")
    ckpt_path = os.path.join(args.work, "ckpt.pt")

    from diffusers import DDPMScheduler
    noise_sched = DDPMScheduler(**SCHEDULE, prediction_type="epsilon")
    alphas_cumprod = noise_sched.alphas_cumprod.to(torch.float32)

    tok = Tokenizer.from_words(data.vocabulary_words())
    torch.manual_seed(args.seed)
    unet = make_unet()
    te = TinyTextEncoder(len(tok.tokens))
    if args.init_parity:
        write_text_encoder_folder(args.init_parity, te, tok)
        print("wrote initial text encoder + parity to", args.init_parity, flush=True)
    ema_unet = copy.deepcopy(unet).requires_grad_(False)
    ema_te = copy.deepcopy(te).requires_grad_(False)
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    state = dict(step=0, elapsed=0.0)
    history: list = []

    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        unet.load_state_dict(ck["unet"]); te.load_state_dict(ck["te"])
        ema_unet.load_state_dict(ck["ema_unet"]); ema_te.load_state_dict(ck["ema_te"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]; history = ck["history"]
        print(f"resumed from {ckpt_path} at step {state['step']} ({state['elapsed'] / 60:.1f} min)", flush=True)

    if args.export_only:
        if state["step"] == 0:
            raise SystemExit(f"--export-only: no checkpoint at {ckpt_path} (pass --resume)")
        ema_unet.eval(); ema_te.eval()
        export(args, state, ema_unet, ema_te, tok, history, command)
        if args.sample_after:
            import sample
            sample.main(["--model", args.out, "--out", os.path.join(args.out, "samples.png"), "--threads", str(args.threads)])
        return

    def save_ckpt():
        atomic_torch_save(dict(unet=unet.state_dict(), te=te.state_dict(), ema_unet=ema_unet.state_dict(),
                               ema_te=ema_te.state_dict(), opt=opt.state_dict(), state=state,
                               history=history, args=vars(args)), ckpt_path)

    budget = args.minutes * 60.0
    started_wall = time.time()
    t_run0 = time.time()
    elapsed0 = state["elapsed"]
    last_ckpt = time.time()
    last_status = 0.0
    window = []
    logf = open(log_path, "a")
    logf.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} start step {state['step']} cmd: {command}\n")
    logf.flush()
    unet.train(); te.train()

    def status(final: str = ""):
        step = state["step"]
        el = state["elapsed"]
        rate = (el - elapsed0) / max(1, step - start_step) if step > start_step else float("nan")
        last = history[-1]["loss"] if history else float("nan")
        eta = time.strftime("%H:%M", time.localtime(time.time() + max(0.0, budget - el) + 30))
        curve = ", ".join(f"{h['step']}:{h['loss']:.4f}" for h in history[-1::-max(1, len(history) // 12)][::-1])
        write_status(args.status, f"""# train_tiny status

- {final or 'running'} (updated {time.strftime('%Y-%m-%d %H:%M:%S')})
- run started {time.strftime('%H:%M:%S', time.localtime(started_wall))}; command: `{command}` (cwd {REPO})
- step {step}, training time {el / 60:.1f} / {args.minutes:.0f} min, {rate:.2f} s/step; last logged loss {last:.4f}
- ETA of export: {eta if not final else 'done'}; output {args.out}
- loss curve (step:loss): {curve}
- log: {log_path}; checkpoint: {ckpt_path} (every {args.ckpt_minutes:g} min); resume with the same command (it has --resume)
- initial (untrained) text encoder + parity fixture: /tmp/te-parity-init/ (text_encoder/, tokenizer/)
""")

    start_step = state["step"]
    while state["elapsed"] < budget:
        step = state["step"]
        videos, caps = data.batch(args.seed, step, args.batch, args.frames)
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        drop = torch.rand(args.batch, generator=g) < args.cfg_drop
        caps = ["" if d else c for c, d in zip(caps, drop.tolist())]
        x0 = torch.from_numpy(videos).permute(0, 2, 1, 3, 4)  # [B, 3, T, H, W]
        t = torch.randint(0, SCHEDULE["num_train_timesteps"], (args.batch,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        ac = alphas_cumprod[t].view(-1, 1, 1, 1, 1)
        xt = ac.sqrt() * x0 + (1 - ac).sqrt() * noise

        lr = lr_at(args, step, state["elapsed"] / budget)
        for grp in opt.param_groups:
            grp["lr"] = lr
        cond = te(tok(caps))
        pred = unet(xt, t, encoder_hidden_states=cond).sample
        loss = F.mse_loss(pred, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        ema_update(ema_unet, unet, decay)
        ema_update(ema_te, te, decay)

        state["step"] = step + 1
        state["elapsed"] = elapsed0 + (time.time() - t_run0)
        window.append(loss.item())
        if state["step"] % args.log_every == 0:
            h = dict(step=state["step"], minutes=state["elapsed"] / 60, loss=float(np.mean(window)), lr=lr)
            history.append(h)
            window = []
            rate = (state["elapsed"] - elapsed0) / (state["step"] - start_step)
            line = f"step {h['step']} min {h['minutes']:.2f} loss {h['loss']:.5f} lr {lr:.2e} s/step {rate:.2f}"
            logf.write(line + "\n"); logf.flush()
            print(line, flush=True)
        if time.time() - last_ckpt >= args.ckpt_minutes * 60:
            save_ckpt(); last_ckpt = time.time()
        if args.status and time.time() - last_status >= args.status_minutes * 60:
            status(); last_status = time.time()

    save_ckpt()
    logf.write(f"# budget reached at step {state['step']}, exporting\n"); logf.flush()
    ema_unet.eval(); ema_te.eval()
    export(args, state, ema_unet, ema_te, tok, history, command)
    logf.write(f"# exported {args.out}\n"); logf.flush()
    if args.sample_after:
        import sample
        sample.main(["--model", args.out, "--out", os.path.join(args.work, "samples.png"), "--threads", str(args.threads)])
    status(final=f"FINISHED: exported {args.out} at step {state['step']}")


if __name__ == "__main__":
    main()
