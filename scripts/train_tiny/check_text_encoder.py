"""Independent NumPy implementation of the TinyTextEncoder spec, checked against a folder's parity.safetensors.

    .venv-ref/bin/python scripts/train_tiny/check_text_encoder.py models/tiny-shapes
"""
import json, math, sys
import numpy as np
from safetensors.numpy import load_file
root = sys.argv[1]
w = load_file(f"{root}/text_encoder/model.safetensors")
par = load_file(f"{root}/text_encoder/parity.safetensors")
voc = json.load(open(f"{root}/tokenizer/vocab.json"))
cfg = json.load(open(f"{root}/text_encoder/config.json"))
idx = {t: i for i, t in enumerate(voc["tokens"])}
def tok(s):
    ws = [x.strip(",.;") for x in s.lower().split()]
    seq = [idx["<bos>"]] + [idx[x] for x in ws if x] + [idx["<eos>"]]
    return seq + [idx["<pad>"]] * (8 - len(seq))
from math import erf
verf = np.vectorize(erf)
def ln(x, p): m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True); return (x - m) / np.sqrt(v + 1e-5) * w[p + ".weight"] + w[p + ".bias"]
def lin(x, p): return x @ w[p + ".weight"].T + w[p + ".bias"]
def enc(ids):
    x = w["token_embedding.weight"][ids] + w["position_embedding"]
    for i in range(cfg["layers"]):
        p = f"layers.{i}."
        h = ln(x, p + "ln1")
        q, k, v = (lin(h, p + "attn." + n).reshape(8, 4, 8).transpose(1, 0, 2) for n in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(8); s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        x = x + lin((s @ v).transpose(1, 0, 2).reshape(8, 32), p + "attn.out")
        h = lin(ln(x, p + "ln2"), p + "mlp.fc1"); h = 0.5 * h * (1 + verf(h / math.sqrt(2)))
        x = x + lin(h, p + "mlp.fc2")
    return ln(x, "final_ln")
prompts = ["a red circle moving right", "a blue square moving down", ""]
for i, pr in enumerate(prompts):
    ids = tok(pr); assert ids == par["ids"][i].astype(int).tolist(), (ids, par["ids"][i])
    d = np.abs(enc(np.array(ids)) - par["hidden"][i]).max(); print(repr(pr), ids, "max abs diff", d)
print(sorted(w), par["hidden"].shape)
