"""A pixel-space transformer on large patches: the other architecture issue 14 asked to measure.

JiT ("Back to Basics: Let Denoising Generative Models Denoise", arXiv 2511.13720) showed that a
plain Vision Transformer on large pixel patches generates well when its last layer predicts the
clean image (x-prediction) rather than the noise or the velocity. This is that design at the
default model's scale, behind the same backend protocol, objective and sampler as
:class:`~openbanana.backends.tiny.TinyBackend` (it subclasses it), so a training config only
changes ``"backend": "jit"``:

- the noisy target, the input image and the ``has_cond`` flag (7 channels) are cut into
  ``patch x patch`` patches; each patch becomes one token through a bottleneck linear embedding
  (``7 p^2 -> bottleneck -> dim``, as JiT does), plus a fixed 2-D sinusoidal position, so any
  resolution that is a multiple of the patch works;
- ``depth`` pre-norm blocks of self-attention over the patches, cross-attention to the instruction's
  tokens (:class:`~openbanana.backends.text.TextEncoder`), and an MLP; every block is modulated by
  the time / pooled-text / mode embedding (adaLN-Zero: shift, scale and a gate per sub-layer, the
  gates zero at initialisation);
- a final modulated LayerNorm and a linear layer give each token its patch of the clean image, and
  the same optional full-resolution refinement head as ``fold-*`` corrects the result from the input
  pixels; the clean image is turned into the velocity it implies.

Sizes are a registry (:data:`JIT_SIZES`). ``jit-s`` is sized against ``fold-w`` (similar parameter
count, the same text encoder); ``benchmarks/bench_architectures.py`` measures both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from openbanana.backends.base import BACKENDS
from openbanana.backends.text import TextEncoder, TextEncoderConfig, TextFeatures
from openbanana.backends.tiny import (
    _STORAGE,
    TinyBackend,
    load_backend,
    network_inputs,
    refine_head,
    sized_config,
    timestep_embedding,
    velocity_from_x,
)
from openbanana.registry import Registry
from openbanana.tasks.answer_loss import check_answer_loss_weights


# ============================================================================ config
@dataclass
class JiTConfig:
    """Architecture of :class:`JiT` (saved as ``config.json`` beside the weights).

    Attributes:
        patch: side of a square pixel patch (one token); height and width must be multiples of it.
        dim: token width. depth: number of blocks. heads: attention heads (``dim`` divisible by it).
        mlp_ratio: hidden width of each block's MLP over ``dim``.
        bottleneck: width of the patch embedding's bottleneck (``7 p^2 -> bottleneck -> dim``).
        emb_dim: width of the time / text / mode embedding that modulates every block.
        text: the text encoder's config.
        refine, refine_features: the full-resolution refinement head, as in
            :class:`~openbanana.backends.tiny.TinyConfig` (0 = none).
        time_distribution, time_shift, time_shift_share, x_min_t, answer_loss, storage_dtype: as in
            :class:`~openbanana.backends.tiny.TinyConfig`.
            The last layer always predicts the clean image (there is no ``prediction`` option).
    """

    patch: int = 8
    dim: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    bottleneck: int = 128
    emb_dim: int = 256
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    refine: int = 16
    refine_features: int = 8
    time_distribution: str = "logit_normal"
    time_shift: float = 1.0
    time_shift_share: float = 1.0
    x_min_t: float = 0.05
    answer_loss: dict[str, float] = field(default_factory=dict)
    storage_dtype: str = "bfloat16"

    def __post_init__(self) -> None:
        if isinstance(self.text, dict):
            self.text = TextEncoderConfig(**self.text)
        problems = []
        if self.patch < 1 or self.depth < 1 or self.bottleneck < 1 or self.emb_dim < 1:
            problems.append(f"patch, depth, bottleneck and emb_dim must be >= 1, got {self.patch}, {self.depth}, "
                            f"{self.bottleneck}, {self.emb_dim}")
        if self.heads < 1 or self.dim % self.heads or (self.dim // max(self.heads, 1)) % 2:
            problems.append(f"dim ({self.dim}) must split into heads ({self.heads}) of an even width")
        if self.dim % 4:
            problems.append(f"dim must be a multiple of 4 (2-D sinusoidal positions), got {self.dim}")
        if self.mlp_ratio <= 0:
            problems.append(f"mlp_ratio must be > 0, got {self.mlp_ratio}")
        if self.refine < 0 or self.refine_features < 0:
            problems.append(f"refine and refine_features must be >= 0, got {self.refine}, {self.refine_features}")
        if not 0 < self.x_min_t <= 1:
            problems.append(f"x_min_t must be in (0, 1], got {self.x_min_t}")
        if not self.time_shift > 0:
            problems.append(f"time_shift must be > 0, got {self.time_shift}")
        if not 0 <= self.time_shift_share <= 1:
            problems.append(f"time_shift_share must be in [0, 1], got {self.time_shift_share}")
        if self.storage_dtype not in _STORAGE:
            problems.append(f"storage_dtype must be one of {sorted(_STORAGE)}, got {self.storage_dtype!r}")
        try:
            check_answer_loss_weights(self.answer_loss)
        except ValueError as e:
            problems.append(str(e))
        if problems:
            raise ValueError("bad JiT config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JiTConfig:
        """Build from a dict; ``{"size": "jit-s", ...}`` starts from a registered size and overrides."""
        return sized_config(cls, JIT_SIZES, d)


#: size name -> factory of a :class:`JiTConfig`
JIT_SIZES: Registry = Registry("JiT model size")


@JIT_SIZES.register("jit-xs")
def jit_xs() -> JiTConfig:
    """~1 M parameters: tests."""
    return JiTConfig(patch=8, dim=96, depth=3, heads=2, bottleneck=48, emb_dim=96, refine=8, refine_features=4,
                     text=TextEncoderConfig(dim=64, layers=1, heads=2, max_len=320, tokenizer="words",
                                            buckets=1024))


@JIT_SIZES.register("jit-s")
def jit_s() -> JiTConfig:
    """10.0 M parameters at 8x8 patches (256 tokens at 128 px), with ``fold-w``'s text encoder: the
    transformer to measure against ``fold-w``."""
    return JiTConfig(patch=8, dim=256, depth=6, heads=4, bottleneck=128, emb_dim=256, refine=16, refine_features=8,
                     text=TextEncoderConfig(dim=128, layers=3, heads=4, max_len=320, tokenizer="words",
                                            buckets=4096))


# ============================================================================ blocks
def position_embedding(h: int, w: int, dim: int, device: torch.device) -> torch.Tensor:
    """Fixed 2-D sinusoidal positions ``[h * w, dim]``: half the channels encode the row, half the column."""
    quarter = dim // 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    rows = torch.arange(h, device=device, dtype=torch.float32)[:, None] * freqs  # [h, dim/4]
    cols = torch.arange(w, device=device, dtype=torch.float32)[:, None] * freqs  # [w, dim/4]
    r = torch.cat([rows.sin(), rows.cos()], dim=1)[:, None].expand(h, w, dim // 2)
    c = torch.cat([cols.sin(), cols.cos()], dim=1)[None].expand(h, w, dim // 2)
    return torch.cat([r, c], dim=-1).reshape(h * w, dim)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(shift[:, None], x, 1 + scale[:, None])  # x * (1 + scale) + shift, per sample


class Attention(nn.Module):
    """Multi-head attention, queries from the patches, keys and values from ``context``."""

    def __init__(self, dim: int, context_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(context_dim, 2 * dim), nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape  # [B, N, C] -> [B, heads, N, C/heads]
        return x.view(B, N, self.heads, C // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, N, C = x.shape
        q = self._split(self.q(x))
        k, v = (self._split(z) for z in self.kv(context).chunk(2, dim=-1))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask[:, None, None, :])
        return self.proj(a.transpose(1, 2).reshape(B, N, C))


class JiTBlock(nn.Module):
    """Self-attention, cross-attention to the text, MLP; each pre-norm, modulated and gated (adaLN-Zero)."""

    def __init__(self, dim: int, text_dim: int, heads: int, mlp_ratio: float, emb_dim: int) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1, self.self_attn = nn.LayerNorm(dim, elementwise_affine=False), Attention(dim, dim, heads)
        self.norm2, self.cross_attn = nn.LayerNorm(dim), Attention(dim, text_dim, heads)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ada = nn.Linear(emb_dim, 6 * dim)  # shift, scale, gate for attention and for the MLP
        self.cross_gate = nn.Parameter(torch.zeros(dim))
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        s1, c1, g1, s2, c2, g2 = self.ada(emb).chunk(6, dim=-1)  # [B, dim] each
        h = _modulate(self.norm1(x), s1, c1)
        x = x + g1[:, None] * self.self_attn(h, h)
        x = x + self.cross_gate * self.cross_attn(self.norm2(x), text, text_mask)
        return x + g2[:, None] * self.mlp(_modulate(self.norm3(x), s2, c2))


# ============================================================================ network
class JiT(nn.Module):
    """The velocity network ``(x_t, cond, has_cond, t, text, one_step) -> v`` of
    :class:`~openbanana.backends.tiny.TinyUNet`, as a transformer over pixel patches."""

    def __init__(self, cfg: JiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        D, E, P = cfg.dim, cfg.emb_dim, cfg.patch
        self.text = TextEncoder(cfg.text)
        self.time_mlp = nn.Sequential(nn.Linear(D, E), nn.SiLU(), nn.Linear(E, E))
        self.text_pool = nn.Linear(cfg.text.dim, E)
        self.mode = nn.Embedding(2, E)  # 0 = flow sampling, 1 = deterministic one-step
        self.embed = nn.Sequential(nn.Linear(7 * P * P, cfg.bottleneck), nn.Linear(cfg.bottleneck, D))
        self.blocks = nn.ModuleList(JiTBlock(D, cfg.text.dim, cfg.heads, cfg.mlp_ratio, E) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(D, elementwise_affine=False)
        self.final_ada = nn.Linear(E, 2 * D)
        out_ch = 3 + (cfg.refine_features if cfg.refine else 0)
        self.out = nn.Linear(D, out_ch * P * P)
        for lin in (self.final_ada, self.out):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.refine = refine_head(out_ch + 7, cfg.refine, 3) if cfg.refine else None

    def encode_text(self, prompts: list[str], device: torch.device | None = None) -> TextFeatures:
        """The instructions' :class:`~openbanana.backends.text.TextFeatures` (no colour-copy head)."""
        return self.text(list(prompts), device=device)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, has_cond: torch.Tensor,
                text: TextFeatures, one_step: torch.Tensor) -> torch.Tensor:
        """Velocity ``[B, 3, H, W]``; arguments as :meth:`openbanana.backends.tiny.TinyUNet.forward`."""
        P = self.cfg.patch
        B, _, H, W = x_t.shape
        if H % P or W % P:
            raise ValueError(f"height and width must be multiples of {P}, got {(H, W)}")
        h, w = H // P, W // P
        tokens, mask, pooled = text.tokens, text.mask, text.pooled
        emb = self.time_mlp(timestep_embedding(t, self.cfg.dim).to(x_t.dtype))
        emb = F.silu(emb + self.text_pool(pooled) + self.mode(one_step.long()))  # [B, E]
        inputs = network_inputs(x_t, cond, has_cond)  # [B, 7, H, W]
        patches = F.pixel_unshuffle(inputs, P).flatten(2).transpose(1, 2)  # [B, h*w, 7 P^2]
        x = self.embed(patches) + position_embedding(h, w, self.cfg.dim, x_t.device).to(x_t.dtype)
        for blk in self.blocks:
            x = blk(x, emb, tokens, mask)  # [B, h*w, D]
        shift, scale = self.final_ada(emb).chunk(2, dim=-1)
        y = self.out(_modulate(self.final_norm(x), shift, scale))  # [B, h*w, out_ch P^2]
        y = F.pixel_shuffle(y.transpose(1, 2).reshape(B, -1, h, w), P)  # [B, out_ch, H, W]
        out = y[:, :3]
        if self.refine is not None:
            out = out + self.refine(torch.cat([y, inputs], dim=1))
        return velocity_from_x(x_t, out, t, self.cfg.x_min_t)


# ============================================================================ backend
@BACKENDS.register("jit")
class JiTBackend(TinyBackend):
    """:class:`~openbanana.backends.base.GeneratorBackend` around :class:`JiT`: the training loss,
    sampling and files of :class:`~openbanana.backends.tiny.TinyBackend`, another network."""

    name = "jit"

    def __init__(self, cfg: JiTConfig | None = None) -> None:
        nn.Module.__init__(self)
        self.config = cfg or jit_xs()
        self.net = JiT(self.config)

    def pointer_loss_weight(self) -> float:
        """0: the transformer has no colour-copy head."""
        return 0.0

    @classmethod
    def from_config(cls, d: dict[str, Any] | JiTConfig) -> JiTBackend:
        """A fresh, randomly initialised backend from a config dict (``{"size": "jit-s"}``, ...)."""
        return cls(d if isinstance(d, JiTConfig) else JiTConfig.from_dict(d))

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: torch.device | str = "cpu", **kwargs: Any) -> JiTBackend:
        """Load what :meth:`save_pretrained` wrote; weights become float32 on ``device``."""
        return load_backend(cls, path, lambda d: cls(JiTConfig.from_dict(d)), device=device)
