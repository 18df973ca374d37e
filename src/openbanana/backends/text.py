"""A small byte-level text encoder, trained together with the generator.

Instructions carry exact numbers (palettes such as ``"(128, 64, 128)"``, hex ``"#80C000"``), so the
tokenizer is the identity on UTF-8 bytes: every digit is its own token and nothing is out of
vocabulary. A few pre-norm transformer layers turn the bytes into token features (for
cross-attention) and a pooled vector (for FiLM).

Tokens: ids 0..255 are bytes, ``PAD = 256``, ``CLS = 257`` (always first, so an empty prompt -- the
"no text" condition of classifier-free guidance -- is the single token ``[CLS]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

PAD = 256
CLS = 257
VOCAB = 258


def tokenize(prompts: list[str], max_len: int = 160) -> tuple[torch.Tensor, torch.Tensor]:
    """UTF-8 bytes of each prompt, prefixed by ``CLS``, truncated and padded to a common length.

    Args:
        prompts: B strings (may be empty).
        max_len: longest sequence including ``CLS``; longer prompts are cut (bytes at the end lost).

    Returns:
        ids: ``[B, L]`` int64 token ids, ``L = min(max_len, longest + 1)``.
        mask: ``[B, L]`` bool, True on real tokens, False on padding.
    """
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError(f"prompts must be a list of str, got {type(prompts).__name__}")
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2, got {max_len}")
    raw = [p.encode("utf-8")[: max_len - 1] for p in prompts]
    length = 1 + max((len(b) for b in raw), default=0)
    # one buffer for the whole batch (a uint8 view of the joined bytes), no per-prompt tensors
    ids = torch.full((len(raw), length), PAD, dtype=torch.long)
    ids[:, 0] = CLS
    lens = torch.tensor([len(b) for b in raw], dtype=torch.long)
    if int(lens.sum()):
        flat = torch.frombuffer(bytearray(b"".join(raw)), dtype=torch.uint8).long()
        rows = torch.repeat_interleave(torch.arange(len(raw)), lens)
        cols = torch.arange(len(flat)) - torch.repeat_interleave(lens.cumsum(0) - lens, lens) + 1
        ids[rows, cols] = flat
    return ids, ids != PAD


def to_device_nonblocking(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host -> device copy that does not wait for the device's queue (pinned + non_blocking on CUDA)."""
    device = torch.device(device)
    if device.type == "cuda" and x.device.type == "cpu":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


@dataclass
class TextEncoderConfig:
    dim: int = 128
    layers: int = 3
    heads: int = 4
    max_len: int = 160


class _Block(nn.Module):
    """Pre-norm self-attention + MLP."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape  # [B, L, D]
        q, k, v = self.qkv(self.norm1(x)).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        # q, k, v: [B, heads, L, D/heads]; padding keys are masked out
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        x = x + self.proj(attn.transpose(1, 2).reshape(B, L, D))  # [B, L, D]
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    """Bytes -> token features ``[B, L, dim]`` + pooled ``[B, dim]``."""

    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        if cfg.dim % cfg.heads:
            raise ValueError(f"text dim {cfg.dim} must be divisible by heads {cfg.heads}")
        self.cfg = cfg
        self.tok = nn.Embedding(VOCAB, cfg.dim)
        self.pos = nn.Parameter(torch.randn(cfg.max_len, cfg.dim) / math.sqrt(cfg.dim))
        self.blocks = nn.ModuleList(_Block(cfg.dim, cfg.heads) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.dim)

    def forward(self, prompts: list[str], device: torch.device | None = None) -> tuple[torch.Tensor, ...]:
        """Encode prompts.

        Returns:
            tokens: ``[B, L, dim]`` features (padding positions are zeros).
            mask: ``[B, L]`` bool, True on real tokens.
            pooled: ``[B, dim]`` masked mean of the token features.
        """
        device = device or self.tok.weight.device
        ids, mask = tokenize(prompts, self.cfg.max_len)
        ids = to_device_nonblocking(ids, device)
        mask = ids != PAD  # built on the device: no second copy
        lens = mask.sum(1)
        if ids.shape[0] > 1 and int(lens.min()) * 2 < ids.shape[1]:
            x = self._encode_by_length(ids, mask, lens)
        else:
            x = self._encode(ids, mask)
        x = self.norm(x) * mask[..., None]  # [B, L, dim]
        pooled = x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)  # [B, dim]
        return x, mask, pooled

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids) + self.pos[: ids.shape[1]]  # [B, L, dim]
        for blk in self.blocks:
            x = blk(x, mask)
        return x

    def _encode_by_length(self, ids: torch.Tensor, mask: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """The same features as :meth:`_encode`, with prompts encoded in groups of similar length,
        each cut to its own longest prompt: a batch mixing one ~1000-byte palette with 40-byte
        instructions would otherwise pay self-attention and MLPs over 1000 positions for every row
        (real tokens never see padding, so the features of real tokens do not change)."""
        B, L = ids.shape
        order = torch.argsort(lens, stable=True)
        x = torch.zeros(B, L, self.cfg.dim, device=ids.device, dtype=self.tok.weight.dtype)
        start = 0
        while start < B:
            # grow the group while its longest prompt is at most twice its shortest
            first = int(lens[order[start]])
            end = start + 1
            while end < B and int(lens[order[end]]) <= 2 * max(first, 8):
                end += 1
            rows = order[start:end]
            n = int(lens[rows].max())
            x[rows, :n] = self._encode(ids[rows, :n], mask[rows, :n])
            start = end
        return x
