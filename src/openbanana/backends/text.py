"""A small text encoder, trained together with the generator.

Instructions carry exact numbers (palettes such as ``"(128, 64, 128)"``, hex ``"#80C000"``). The
tokenizer (:mod:`openbanana.backends.text_tokens`, named by ``TextEncoderConfig.tokenizer``) either
reads UTF-8 bytes, where every digit is its own token and nothing is out of vocabulary, or hashed
words with every named colour's RGB value beside its token. A few pre-norm transformer layers turn
the tokens into features (for cross-attention) and a pooled vector (for FiLM).

Byte tokens: ids 0..255 are bytes, ``PAD = 256``, ``CLS = 257`` (always first, so an empty prompt --
the "no text" condition of classifier-free guidance -- is the single token ``[CLS]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from openbanana.backends.text_tokens import BYTE_CLS, BYTE_PAD, TOKENIZERS, byte_tokens, vocab_size

PAD = BYTE_PAD
CLS = BYTE_CLS
VOCAB = BYTE_CLS + 1


def tokenize(prompts: list[str], max_len: int = 160) -> tuple[torch.Tensor, torch.Tensor]:
    """UTF-8 bytes of each prompt, prefixed by ``CLS``, truncated and padded to a common length.

    Args:
        prompts: B strings (may be empty).
        max_len: longest sequence including ``CLS``; longer prompts are cut (bytes at the end lost).

    Returns:
        ids: ``[B, L]`` int64 token ids, ``L = min(max_len, longest + 1)``.
        mask: ``[B, L]`` bool, True on real tokens, False on padding.
    """
    tokens = byte_tokens(prompts, max_len)
    return tokens.ids, tokens.mask


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
    tokenizer: str = "bytes"
    buckets: int = 4096

    def __post_init__(self) -> None:
        TOKENIZERS.get(self.tokenizer)  # a clear error for an unknown name
        if self.buckets < 1:
            raise ValueError(f"text buckets must be >= 1, got {self.buckets}")


class TextFeatures(NamedTuple):
    """What :class:`TextEncoder` gives the image network.

    Attributes:
        tokens: ``[B, L, dim]`` token features (padding positions are zeros).
        mask: ``[B, L]`` bool, True on real tokens.
        pooled: ``[B, dim]`` masked mean of the token features.
        rgb: ``[B, L, 3]`` the colour each token names, in [0, 1] (0 where none).
        has_rgb: ``[B, L]`` bool, True on tokens that name a colour (never with byte tokens).
        blind: ``[B, L, dim]`` token features of the same prompts encoded with every colour value
            left out (a colour token is then only its word and the words around it), or None when
            not asked for (``TextEncoder(..., blind=True)``).
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    rgb: torch.Tensor
    has_rgb: torch.Tensor
    blind: torch.Tensor | None = None


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
    """Prompts -> token features ``[B, L, dim]`` + pooled ``[B, dim]``.

    With a tokenizer that reads colours (``"words"``), a token that names a colour gets
    ``color(rgb)`` added to its embedding (a linear map of its RGB in [-1, 1])."""

    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        if cfg.dim % cfg.heads:
            raise ValueError(f"text dim {cfg.dim} must be divisible by heads {cfg.heads}")
        self.cfg = cfg
        self.tok = nn.Embedding(vocab_size(cfg.tokenizer, cfg.buckets), cfg.dim)
        self.color = nn.Linear(3, cfg.dim) if cfg.tokenizer != "bytes" else None
        self.pos = nn.Parameter(torch.randn(cfg.max_len, cfg.dim) / math.sqrt(cfg.dim))
        self.blocks = nn.ModuleList(_Block(cfg.dim, cfg.heads) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.dim)

    def forward(self, prompts: list[str], device: torch.device | None = None, *,
                blind: bool = False) -> TextFeatures:
        """Encode prompts into :class:`TextFeatures` on ``device``; with ``blind``, a second pass
        with the colour values left out fills :attr:`TextFeatures.blind`."""
        device = device or self.tok.weight.device
        tokens = TOKENIZERS.get(self.cfg.tokenizer)(prompts, self.cfg.max_len, self.cfg.buckets)
        mask = to_device_nonblocking(tokens.mask, device)
        rgb = to_device_nonblocking(tokens.rgb, device).to(self.pos.dtype)  # [B, L, 3] in [0, 1]
        has_rgb = to_device_nonblocking(tokens.has_rgb, device)
        ids = to_device_nonblocking(tokens.ids, device)
        x = self._features(self.embed(ids, rgb, has_rgb), mask)  # [B, L, dim]
        pooled = x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)  # [B, dim]
        names = self._blind_features(x, ids, rgb, has_rgb, mask) if blind else None
        return TextFeatures(x, mask, pooled, rgb, has_rgb, names)

    def _blind_features(self, x: torch.Tensor, ids: torch.Tensor, rgb: torch.Tensor, has_rgb: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
        """:attr:`TextFeatures.blind`: only rows that name a colour are encoded again (without the
        values); the others already are what a blind pass would give (``x``)."""
        rows = has_rgb.any(1)  # [B]
        if not bool(rows.any()):
            return x
        out = x.clone()
        out[rows] = self._features(self.embed(ids[rows], rgb[rows], torch.zeros_like(has_rgb[rows])), mask[rows])
        return out

    def _features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised token features ``[B, L, dim]`` (zeros on padding) of embeddings ``x``."""
        lens = mask.sum(1)
        if mask.shape[0] > 1 and int(lens.min()) * 2 < mask.shape[1]:
            x = self._encode_by_length(x, mask, lens)
        else:
            x = self._encode(x, mask)
        return self.norm(x) * mask[..., None]

    def embed(self, ids: torch.Tensor, rgb: torch.Tensor, has_rgb: torch.Tensor) -> torch.Tensor:
        """Token (+ colour) + position embeddings ``[B, L, dim]`` of ids ``[B, L]``, colours ``rgb``
        ``[B, L, 3]`` in [0, 1] where ``has_rgb`` ``[B, L]``."""
        x = self.tok(ids) + self.pos[: ids.shape[1]]  # [B, L, dim]
        if self.color is not None and bool(has_rgb.any()):
            x = x + self.color(rgb * 2 - 1) * has_rgb[..., None].to(x.dtype)  # colour in [-1, 1]
        return x

    def _encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x, mask)
        return x

    def _encode_by_length(self, x0: torch.Tensor, mask: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """The same features as :meth:`_encode`, with prompts encoded in groups of similar length,
        each cut to its own longest prompt: a batch mixing one ~1000-byte palette with 40-byte
        instructions would otherwise pay self-attention and MLPs over 1000 positions for every row
        (real tokens never see padding, so the features of real tokens do not change)."""
        B = mask.shape[0]
        order = torch.argsort(lens, stable=True)
        x = torch.zeros_like(x0)
        start = 0
        while start < B:
            # grow the group while its longest prompt is at most twice its shortest
            first = int(lens[order[start]])
            end = start + 1
            while end < B and int(lens[order[end]]) <= 2 * max(first, 8):
                end += 1
            rows = order[start:end]
            n = int(lens[rows].max())
            x[rows, :n] = self._encode(x0[rows, :n], mask[rows, :n])
            start = end
        return x
