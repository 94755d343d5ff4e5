"""TinyTextEncoder: token embeddings + a tiny pre-LayerNorm transformer (the spec the Swift engine implements).

Tokenize: lowercase, split on whitespace, strip the punctuation ",.;" from each word; each word must be
in the vocabulary. Sequence = [<bos>] + ids + [<eos>], padded with <pad> to max_length (8).
Output: all max_length token states [max_length, width] = encoder_hidden_states.
"""
from __future__ import annotations

import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

SPECIALS = ["<pad>", "<bos>", "<eos>"]


class Tokenizer:
    def __init__(self, tokens: list[str], max_length: int = 8):
        self.tokens = list(tokens)
        self.max_length = max_length
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad, self.bos, self.eos = (self.index[t] for t in SPECIALS)

    @classmethod
    def from_words(cls, words: list[str], max_length: int = 8) -> "Tokenizer":
        return cls(SPECIALS + list(words), max_length)

    @classmethod
    def load(cls, path: str) -> "Tokenizer":
        with open(path) as f:
            d = json.load(f)
        return cls(d["tokens"], d["max_length"])

    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"tokens": self.tokens, "max_length": self.max_length,
                       "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"}, f, indent=2)
            f.write("\n")

    def encode(self, text: str) -> list[int]:
        words = [w.strip(",.;") for w in text.lower().split()]
        words = [w for w in words if w]
        ids = []
        for w in words:
            if w not in self.index:
                raise ValueError(f"word {w!r} in prompt {text!r} is not in the vocabulary")
            ids.append(self.index[w])
        seq = [self.bos] + ids + [self.eos]
        if len(seq) > self.max_length:
            raise ValueError(f"prompt {text!r} has {len(words)} words; at most {self.max_length - 2} fit")
        return seq + [self.pad] * (self.max_length - len(seq))

    def __call__(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([self.encode(t) for t in texts], dtype=torch.long)


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.k = nn.Linear(width, width)
        self.v = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x):
        b, n, c = x.shape
        h, d = self.heads, c // self.heads
        q = self.q(x).view(b, n, h, d).transpose(1, 2)
        k = self.k(x).view(b, n, h, d).transpose(1, 2)
        v = self.v(x).view(b, n, h, d).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        y = (w @ v).transpose(1, 2).reshape(b, n, c)
        return self.out(y)


class MLP(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Block(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: int, eps: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(width, eps=eps)
        self.attn = Attention(width, heads)
        self.ln2 = nn.LayerNorm(width, eps=eps)
        self.mlp = MLP(width, width * mlp_ratio)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyTextEncoder(nn.Module):
    def __init__(self, vocab_size: int, width: int = 32, layers: int = 2, heads: int = 4,
                 max_length: int = 8, mlp_ratio: int = 4, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.config = dict(architecture="TinyTextEncoder", vocab_size=vocab_size, width=width,
                           layers=layers, heads=heads, max_length=max_length, mlp_ratio=mlp_ratio,
                           layer_norm_eps=layer_norm_eps)
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.position_embedding = nn.Parameter(torch.randn(max_length, width) * 0.02)
        self.layers = nn.ModuleList(Block(width, heads, mlp_ratio, layer_norm_eps) for _ in range(layers))
        self.final_ln = nn.LayerNorm(width, eps=layer_norm_eps)
        nn.init.normal_(self.token_embedding.weight, std=0.5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(ids) + self.position_embedding
        for layer in self.layers:
            x = layer(x)
        return self.final_ln(x)

    def save(self, folder: str) -> None:
        from safetensors.torch import save_file
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)
            f.write("\n")
        sd = {k: v.detach().to(torch.float32).contiguous() for k, v in self.state_dict().items()}
        save_file(sd, os.path.join(folder, "model.safetensors"))

    @classmethod
    def load(cls, folder: str) -> "TinyTextEncoder":
        from safetensors.torch import load_file
        with open(os.path.join(folder, "config.json")) as f:
            cfg = dict(json.load(f))
        if cfg.pop("architecture") != "TinyTextEncoder":
            raise ValueError(f"{folder}/config.json: architecture is not TinyTextEncoder")
        m = cls(**cfg)
        m.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
        return m


PARITY_PROMPTS = ["a red circle moving right", "a blue square moving down", ""]


@torch.no_grad()
def write_parity(encoder: TinyTextEncoder, tokenizer: Tokenizer, path: str) -> None:
    """Writes `ids` [P, L] (float32) and `hidden` [P, L, width] for PARITY_PROMPTS."""
    from safetensors.torch import save_file
    ids = tokenizer(PARITY_PROMPTS)
    was = encoder.training
    encoder.eval()
    hidden = encoder(ids).to(torch.float32)
    encoder.train(was)
    save_file({"ids": ids.to(torch.float32).contiguous(), "hidden": hidden.contiguous()}, path)
