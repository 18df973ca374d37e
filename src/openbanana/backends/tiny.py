"""The default generator: a small conditional rectified-flow UNet, trained here from scratch.

One network serves text-to-image, editing and every vision task; the task lives only in the text.

Inputs of the network (see :meth:`TinyUNet.forward`):
- ``x_t`` ``[B, 3, H, W]``: the noisy target (flow convention of :mod:`openbanana.sampling`);
- ``cond`` ``[B, 3, H, W]``: the input image, zeros when absent, plus a constant ``has_cond``
  channel, so "no image" is an explicit input, not a black photo;
- ``t`` ``[B]``: time in [0, 1] (sinusoidal embedding -> MLP);
- the instruction: byte-level text encoder (:mod:`openbanana.backends.text`); its pooled vector
  joins the time embedding and modulates every residual block (FiLM: scale and shift after the
  second GroupNorm); its token features are attended to by cross-attention at the low-resolution
  levels and in the middle;
- ``one_step`` ``[B]`` bool: the deterministic one-step mode for dense tasks (input zeros at t = 1),
  a learned embedding added to the time embedding.

Sizes are a registry of factory configs (:data:`SIZES`): ``tiny-xs`` (~1.5 M parameters, tests and
CPU), ``tiny-s`` (~7 M), ``tiny-m`` (~20 M, GPU; bfloat16 storage, ~39 MB).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from openbanana.backends.base import BACKENDS, Batch
from openbanana.backends.color_copy import ColorCopyHead
from openbanana.backends.text import TextEncoder, TextEncoderConfig, TextFeatures
from openbanana.errors import check_config_keys
from openbanana.registry import Registry
from openbanana.sampling import (
    cfg_combine,
    euler_sample,
    initial_noise,
    interpolate,
    one_step_sample,
    sample_train_t,
    shift_some_times,
    velocity_target,
)
from openbanana.tasks.answer_loss import answer_loss, check_answer_loss_weights
from openbanana.tasks.codecs.instances import MAX_INSTANCES, instance_colors

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
_STORAGE = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# ============================================================================ config
@dataclass
class TinyConfig:
    """Architecture of :class:`TinyUNet` (saved as ``config.json`` beside the weights).

    Attributes:
        channels: width of the first level.
        channel_mults: width multiplier per level; level i works at ``H / 2**i``.
        num_res_blocks: residual blocks per level on the way down (one more on the way up).
        attn_levels: levels with self- plus cross-attention (the middle always has it).
        heads: attention heads in the UNet.
        emb_dim: width of the time/text embedding that drives FiLM.
        text: the text encoder's config.
        time_distribution: training times, ``"logit_normal"`` or ``"uniform"``.
        time_shift: the training times of ``time_distribution`` are moved toward noise by
            :func:`~openbanana.sampling.shift_times` (1 = unchanged), and the sampler's schedule
            uses the same shift unless told otherwise. A standard logit-normal puts 1.4 % of the
            times above 0.9, where a 128 px picture's layout is decided (at 128 px in pixel space
            the noise still leaves its coarse shapes readable there); a shift of 3 puts 14 % there.
        time_shift_share: share of the training times that are shifted (drawn per sample); the
            rest keep ``time_distribution`` unshifted, so the clean end is trained too (a shift of
            8 alone leaves almost no times below 0.3).
        patch: space-to-depth factor of the stem. 1 = the first level works at full resolution;
            p > 1 folds each p x p block of pixels into channels (``PixelUnshuffle``) so that no
            level runs at full resolution (the cost per image falls about p**2-fold), and unfolds
            the output with ``PixelShuffle``. Height and width must then be multiples of
            ``p * 2**(levels - 1)``.
        refine: channels of the full-resolution refinement head (0 = none): a 3x3 conv over the
            unfolded output, its ``refine_features`` extra channels and the input image, added to
            the output, so edges follow the image's pixels instead of the p x p block grid.
        refine_features: extra unfolded feature channels fed to the refinement head.
        prediction: what the network's last layer predicts, ``"v"`` (velocity ``eps - x0``) or
            ``"x"`` (the clean image ``x0``, turned into a velocity ``(x_t - x0) / t`` with ``t``
            clamped at ``x_min_t``): large-patch pixel models learn the clean image far better
            (JiT, arXiv 2511.13720). In the one-step mode (``x_t = 0, t = 1``) both read the same.
        x_min_t: the smallest ``t`` the x-prediction divides by.
        out_channels: channels of the output: 3 (an RGB image, every generator), or a task head's
            raw quantities (:mod:`openbanana.backends.task_head`; then ``prediction`` must be ``"v"``).
        color_copy: width of the colour-copy head's queries (0 = none): every output pixel may copy
            a colour the instruction names instead of regressing it
            (:mod:`openbanana.backends.color_copy`). Needs ``prediction = "x"`` (it mixes colours
            into the predicted image).
        color_copy_loss: weight of the colour-copy head's pointer loss in the training loss (0 =
            none; :func:`~openbanana.backends.color_copy.pointer_loss`): it tells the head which
            named colour each target pixel shows, which its output error alone cannot (run 5).
        color_copy_blind: the head's keys come from the instruction encoded a second time with its
            colour values left out, so that a pixel can only pick a colour by the words beside it
            (run 6's head chose colours by value and could not read a new palette).
        color_copy_window: text positions on each side of a colour token whose features reach the
            head's key for it through a learnt 1-D convolution (0 = none): the words that say what
            the colour is for, without attention the text encoder must learn first.
        color_copy_one_step: only samples in the deterministic one-step mode (the vision answers)
            may copy; generation and editing keep the network's output (run 6's head painted specks
            of named colours into edits).
        color_copy_vocab: the first N colours of the instance code on black
            (:func:`~openbanana.tasks.codecs.instances.instance_colors`) as slots the head may copy
            without the instruction naming them (0 = none): instance maps come back in exact colours
            instead of pale blends the decoder splits.
        color_copy_hard: at inference each output pixel takes the head's most probable option (keep,
            or one colour) instead of its mixture (:func:`~openbanana.backends.color_copy.hard_choice`):
            an unsure pixel comes back in one of the colours it hesitates between, not a blend.
        color_copy_exclusive: target pixels that show a colour the head may copy are trained by the
            pointer loss alone, left out of the squared error
            (:func:`~openbanana.backends.color_copy.covered_pixels`): the squared error rewards a
            blend (the instance code's grey, or black mixed in) on pixels the head is unsure of. The
            pointer loss then takes the squared error's per-pixel weights (``batch.weight``).
        answer_loss: task -> weight of a training loss in the task's own units
            (:meth:`~openbanana.tasks.base.Task.answer_loss`, e.g. ``{"depth": 0.5}``: the error of
            log depth read off the predicted colours), added for the rows answered in the one-step
            mode. Empty: the squared error alone, the paper's objective.
        storage_dtype: dtype of ``model.safetensors`` written by ``save_pretrained``
            (``float32``, ``bfloat16``, ``float16``); weights are always loaded as float32.
    """

    channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attn_levels: tuple[int, ...] = (2,)
    heads: int = 4
    emb_dim: int = 128
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    time_distribution: str = "logit_normal"
    time_shift: float = 1.0
    time_shift_share: float = 1.0
    patch: int = 1
    refine: int = 0
    refine_features: int = 0
    prediction: str = "v"
    x_min_t: float = 0.05
    out_channels: int = 3
    color_copy: int = 0
    color_copy_loss: float = 0.0
    color_copy_blind: bool = False
    color_copy_one_step: bool = False
    color_copy_window: int = 0
    color_copy_vocab: int = 0
    color_copy_hard: bool = False
    color_copy_exclusive: bool = False
    answer_loss: dict[str, float] = field(default_factory=dict)
    storage_dtype: str = "float32"

    def __post_init__(self) -> None:
        if isinstance(self.text, dict):
            self.text = TextEncoderConfig(**self.text)
        self.channel_mults = tuple(int(m) for m in self.channel_mults)
        self.attn_levels = tuple(int(a) for a in self.attn_levels)
        if not self.channel_mults:
            raise ValueError("channel_mults must name at least one level")
        bad = [a for a in self.attn_levels if not 0 <= a < len(self.channel_mults)]
        if bad:
            raise ValueError(f"attn_levels {bad} outside the {len(self.channel_mults)} levels")
        for m in self.channel_mults:
            if (self.channels * m) % 8 or (self.channels * m) % self.heads:
                raise ValueError(f"level width {self.channels * m} must be divisible by 8 and by heads")
        if self.patch < 1 or self.refine < 0 or self.refine_features < 0:
            raise ValueError(f"patch must be >= 1 and refine, refine_features >= 0, got {self.patch}, "
                             f"{self.refine}, {self.refine_features}")
        if self.prediction not in ("v", "x"):
            raise ValueError(f"prediction must be 'v' or 'x', got {self.prediction!r}")
        if self.out_channels < 1 or (self.out_channels != 3 and self.prediction != "v"):
            raise ValueError(f"out_channels must be >= 1, and 3 unless prediction is 'v' (an x-prediction is an "
                             f"image), got {self.out_channels} with prediction {self.prediction!r}")
        if self.color_copy < 0 or (self.color_copy and self.prediction != "x"):
            raise ValueError(f"color_copy must be >= 0, and needs prediction 'x' (it mixes colours into the "
                             f"predicted image), got {self.color_copy} with prediction {self.prediction!r}")
        if self.color_copy_loss < 0 or (self.color_copy_loss and not self.color_copy):
            raise ValueError(f"color_copy_loss must be >= 0, and needs a head (color_copy > 0), got "
                             f"{self.color_copy_loss} with color_copy {self.color_copy}")
        if (self.color_copy_blind or self.color_copy_one_step or self.color_copy_window
                or self.color_copy_vocab or self.color_copy_hard) and not self.color_copy:
            raise ValueError("color_copy_blind, color_copy_one_step, color_copy_window, color_copy_vocab and "
                             "color_copy_hard need a colour-copy head (color_copy > 0)")
        if self.color_copy_exclusive and not self.color_copy_loss:
            raise ValueError("color_copy_exclusive needs the pointer loss (color_copy_loss > 0): the pixels it "
                             "takes out of the squared error are trained by it alone")
        if self.color_copy_window < 0:
            raise ValueError(f"color_copy_window must be >= 0, got {self.color_copy_window}")
        if not 0 <= self.color_copy_vocab <= MAX_INSTANCES:
            raise ValueError(f"color_copy_vocab must be in 0..{MAX_INSTANCES}, got {self.color_copy_vocab}")
        check_answer_loss_weights(self.answer_loss)
        if not 0 < self.x_min_t <= 1:
            raise ValueError(f"x_min_t must be in (0, 1], got {self.x_min_t}")
        if not self.time_shift > 0:
            raise ValueError(f"time_shift must be > 0, got {self.time_shift}")
        if not 0 <= self.time_shift_share <= 1:
            raise ValueError(f"time_shift_share must be in [0, 1], got {self.time_shift_share}")
        if self.storage_dtype not in _STORAGE:
            raise ValueError(f"storage_dtype must be one of {sorted(_STORAGE)}, got {self.storage_dtype!r}")

    @property
    def downsample_factor(self) -> int:
        """Height and width must be multiples of this."""
        return self.patch * 2 ** (len(self.channel_mults) - 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TinyConfig:
        """Build from a dict; ``{"size": "tiny-s", ...}`` starts from a registered size and overrides."""
        return sized_config(cls, SIZES, d)


def sized_config(cls: type, sizes: Registry, d: dict[str, Any]) -> Any:
    """A config dataclass ``cls`` from a dict whose optional ``"size"`` names a factory in ``sizes``:
    the size's fields, then the dict's (``"text"`` merged key by key). Unknown keys are refused."""
    check_config_keys(cls, d, cls.__name__, extra=("size",))
    d = dict(d)
    base = sizes.get(d.pop("size"))().to_dict() if "size" in d else {}
    if "text" in d and isinstance(d["text"], dict):
        d["text"] = {**base.get("text", {}), **d["text"]}
    return cls(**{**base, **d})


#: size name -> factory of a :class:`TinyConfig`
SIZES: Registry = Registry("tiny model size")


@SIZES.register("tiny-xs")
def tiny_xs() -> TinyConfig:
    """~1.5 M parameters: tests and CPU training at 64x64."""
    return TinyConfig(channels=32, channel_mults=(1, 2, 2), num_res_blocks=1, attn_levels=(2,), emb_dim=128,
                      text=TextEncoderConfig(dim=96, layers=2, heads=4))


@SIZES.register("tiny-s")
def tiny_s() -> TinyConfig:
    """~7 M parameters: CPU-hours or a short GPU run."""
    return TinyConfig(channels=48, channel_mults=(1, 2, 2, 3), num_res_blocks=1, attn_levels=(2, 3), emb_dim=192,
                      text=TextEncoderConfig(dim=128, layers=3, heads=4))


@SIZES.register("fold-s")
def fold_s() -> TinyConfig:
    """7.33 M parameters, designed to learn per CPU-second at 128x128: 4x4 pixels folded into channels
    (levels at 32, 16, 8 px), attention at 16 and 8 px, a full-resolution refinement head, and
    x-prediction. The CPU recipe's model (configs/default-cpu.json)."""
    return TinyConfig(channels=64, channel_mults=(1, 2, 2), num_res_blocks=1, attn_levels=(1, 2), emb_dim=256,
                      heads=4, patch=4, refine=16, refine_features=8, prediction="x", storage_dtype="bfloat16",
                      text=TextEncoderConfig(dim=128, layers=3, heads=4, max_len=1280))


@SIZES.register("fold-w")
def fold_w() -> TinyConfig:
    """fold-s with the ``"words"`` tokenizer: hashed words, and every colour the prompt names given
    to the network as its RGB value. A 19-class palette is ~80 tokens instead of ~1,100 bytes, so text
    costs little and a palette's colours reach the output as numbers. The shipped default model
    (configs/default-cpu-words.json)."""
    cfg = fold_s()
    cfg.text = TextEncoderConfig(dim=128, layers=3, heads=4, max_len=320, tokenizer="words", buckets=4096)
    return cfg


@SIZES.register("fold-wc")
def fold_wc() -> TinyConfig:
    """fold-w with a 16-wide colour-copy head (:mod:`openbanana.backends.color_copy`): the shipped
    default model since run 5 (configs/default-cpu-copy.json)."""
    cfg = fold_w()
    cfg.color_copy = 16
    return cfg


@SIZES.register("tiny-m")
def tiny_m() -> TinyConfig:
    """~20 M parameters: the earlier GPU-trained default model at 128x128 (bf16 storage ~39 MB)."""
    return TinyConfig(channels=64, channel_mults=(1, 2, 2, 3), num_res_blocks=2, attn_levels=(2, 3), emb_dim=256,
                      heads=8, text=TextEncoderConfig(dim=192, layers=4, heads=6, max_len=512),
                      storage_dtype="bfloat16")


# ============================================================================ blocks
def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of ``t`` in [0, 1] (scaled by 1000), ``[B] -> [B, dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]  # [B, half]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, ch), ch)


def network_inputs(x_t: torch.Tensor, cond: torch.Tensor, has_cond: torch.Tensor) -> torch.Tensor:
    """``[B, 7, H, W]``: the noisy target, the input image (zeros when absent) and a ``has_cond`` channel."""
    flag = has_cond.to(x_t.dtype)[:, None, None, None].expand(-1, 1, *x_t.shape[-2:])  # [B, 1, H, W]
    return torch.cat([x_t, cond * flag, flag], dim=1)


def velocity_from_x(x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, min_t: float) -> torch.Tensor:
    """The velocity a predicted clean image implies, ``(x_t - x0) / t`` with ``t`` clamped at ``min_t``."""
    return (x_t - x0) / t.to(x0.dtype).clamp(min=min_t)[:, None, None, None]


def refine_head(cin: int, width: int, cout: int) -> nn.Sequential:
    """Full-resolution refinement: conv 3x3 -> SiLU -> conv 3x3, the last one zero-initialised (so a
    fresh head adds nothing)."""
    head = nn.Sequential(nn.Conv2d(cin, width, 3, padding=1), nn.SiLU(), nn.Conv2d(width, cout, 3, padding=1))
    nn.init.zeros_(head[2].weight)
    nn.init.zeros_(head[2].bias)
    return head


class ResBlock(nn.Module):
    """GN-SiLU-conv, FiLM from the embedding, GN-SiLU-conv, residual."""

    def __init__(self, cin: int, cout: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.conv2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # [B, cout, H, W]
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)  # [B, cout, 1, 1] each
        h = torch.addcmul(shift, self.norm2(h), 1 + scale)  # norm2(h) * (1 + scale) + shift, one pass
        return self.skip(x) + self.conv2(F.silu(h))


class AttnBlock(nn.Module):
    """Self-attention over pixels, cross-attention to the text tokens, MLP (pre-norm)."""

    def __init__(self, ch: int, text_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.qkv, self.proj1 = _norm(ch), nn.Linear(ch, 3 * ch), nn.Linear(ch, ch)
        self.norm2, self.q, self.kv = nn.LayerNorm(ch), nn.Linear(ch, ch), nn.Linear(text_dim, 2 * ch)
        self.proj2 = nn.Linear(ch, ch)
        self.norm3 = nn.LayerNorm(ch)
        self.mlp = nn.Sequential(nn.Linear(ch, 4 * ch), nn.GELU(), nn.Linear(4 * ch, ch))
        for lin in (self.proj1, self.proj2, self.mlp[2]):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape  # [B, N, C] -> [B, heads, N, C/heads]
        return x.view(B, N, self.heads, C // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape  # [B, C, H, W]
        h = self.norm1(x).flatten(2).transpose(1, 2)  # [B, HW, C]
        q, k, v = (self._split(z) for z in self.qkv(h).chunk(3, dim=-1))
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, H * W, C)
        tok = x.flatten(2).transpose(1, 2) + self.proj1(a)  # [B, HW, C]
        q = self._split(self.q(self.norm2(tok)))
        k, v = (self._split(z) for z in self.kv(text).chunk(2, dim=-1))  # [B, heads, L, C/heads]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=text_mask[:, None, None, :])
        tok = tok + self.proj2(a.transpose(1, 2).reshape(B, H * W, C))
        tok = tok + self.mlp(self.norm3(tok))
        return tok.transpose(1, 2).reshape(B, C, H, W)


# ============================================================================ network
class TinyUNet(nn.Module):
    """The velocity network ``(x_t, cond, has_cond, t, text, one_step) -> v``.

    With ``cfg.patch = P > 1`` the levels work at ``H/P, H/2P, ...``: the stem folds pixels into
    channels and the head unfolds them, then an optional full-resolution refinement corrects the
    result from the input pixels. With ``cfg.prediction = "x"`` the last layer predicts the clean
    image and ``forward`` returns the velocity it implies.
    """

    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ch, E, T = cfg.channels, cfg.emb_dim, cfg.text.dim
        widths = [ch * m for m in cfg.channel_mults]
        self.text = TextEncoder(cfg.text)
        self.time_mlp = nn.Sequential(nn.Linear(ch, E), nn.SiLU(), nn.Linear(E, E))
        self.text_pool = nn.Linear(T, E)
        self.mode = nn.Embedding(2, E)  # 0 = flow sampling, 1 = deterministic one-step
        P = cfg.patch
        # [B, 7, H, W] -> (fold) [B, 7 P^2, H/P, W/P] -> [B, ch, H/P, W/P]
        self.fold = nn.PixelUnshuffle(P) if P > 1 else nn.Identity()
        self.stem = nn.Conv2d((3 + 3 + 1) * P * P, ch, 3, padding=1)

        self.down = nn.ModuleList()
        skips, cur = [ch], ch
        for lvl, w in enumerate(widths):
            for _ in range(cfg.num_res_blocks):
                attn = AttnBlock(w, T, cfg.heads) if lvl in cfg.attn_levels else None
                self.down.append(nn.ModuleList([ResBlock(cur, w, E), attn or nn.Identity()]))
                cur = w
                skips.append(cur)
            if lvl < len(widths) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skips.append(cur)
        self.mid1, self.mid_attn, self.mid2 = ResBlock(cur, cur, E), AttnBlock(cur, T, cfg.heads), ResBlock(cur, cur, E)

        self.up = nn.ModuleList()
        for lvl in reversed(range(len(widths))):
            w = widths[lvl]
            for _ in range(cfg.num_res_blocks + 1):
                attn = AttnBlock(w, T, cfg.heads) if lvl in cfg.attn_levels else None
                self.up.append(nn.ModuleList([ResBlock(cur + skips.pop(), w, E), attn or nn.Identity()]))
                cur = w
            if lvl > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(cur, cur, 3, padding=1)))
        C = cfg.out_channels
        out_ch = C + (cfg.refine_features if cfg.refine else 0)
        self.out_norm, self.out = _norm(cur), nn.Conv2d(cur, out_ch * P * P, 3, padding=1)
        self.unfold = nn.PixelShuffle(P) if P > 1 else nn.Identity()  # [B, out_ch P^2, h, w] -> [B, out_ch, H, W]
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.refine = None
        if cfg.refine:
            # full resolution, cheap: (output, features, x_t, cond, flag) -> a correction of the output
            self.refine = refine_head(out_ch + 7, cfg.refine, C)
        self.copy = None
        if cfg.color_copy:
            vocab = instance_colors(cfg.color_copy_vocab) if cfg.color_copy_vocab else None
            self.copy = ColorCopyHead(cur, out_ch + 7, T, cfg.color_copy, P, blind=cfg.color_copy_blind,
                                      one_step_only=cfg.color_copy_one_step, window=cfg.color_copy_window,
                                      vocab=vocab, hard=cfg.color_copy_hard)

    def encode_text(self, prompts: list[str], device: torch.device | None = None) -> TextFeatures:
        """The instructions' :class:`~openbanana.backends.text.TextFeatures`, with the colour-blind
        pass when the colour-copy head reads it."""
        return self.text(list(prompts), device=device, blind=self.cfg.color_copy_blind)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, has_cond: torch.Tensor,
                text: TextFeatures, one_step: torch.Tensor) -> torch.Tensor:
        """Velocity ``[B, 3, H, W]``.

        Args:
            x_t: ``[B, 3, H, W]`` state at time t. cond: ``[B, 3, H, W]`` in [-1, 1].
            t: ``[B]`` in [0, 1]. has_cond, one_step: ``[B]`` bool.
            text: the instruction's :class:`~openbanana.backends.text.TextFeatures`.
        """
        return self.velocity_and_pointer_loss(x_t, t, cond, has_cond, text, one_step)[0]

    def velocity_and_pointer_loss(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                                  has_cond: torch.Tensor, text: TextFeatures, one_step: torch.Tensor,
                                  copy_target: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`forward`'s velocity, and with ``copy_target`` (the clean target ``[B, 3, H, W]``;
        needs a colour-copy head) the head's :func:`~openbanana.backends.color_copy.pointer_loss`
        (else None)."""
        if copy_target is not None and self.copy is None:
            raise ValueError("copy_target needs a colour-copy head (TinyConfig.color_copy > 0)")
        f = self.cfg.downsample_factor
        if x_t.shape[-1] % f or x_t.shape[-2] % f:
            raise ValueError(f"height and width must be multiples of {f}, got {tuple(x_t.shape[-2:])}")
        tokens, mask, pooled = text.tokens, text.mask, text.pooled
        emb = self.time_mlp(timestep_embedding(t, self.cfg.channels).to(x_t.dtype))
        emb = F.silu(emb + self.text_pool(pooled) + self.mode(one_step.long()))  # [B, E]
        inputs = network_inputs(x_t, cond, has_cond)  # [B, 7, H, W]
        h = self.stem(self.fold(inputs))  # [B, ch, H/P, W/P]
        hs = [h]
        for blk in self.down:
            if isinstance(blk, nn.ModuleList):
                h = blk[0](h, emb)
                h = blk[1](h, tokens, mask) if isinstance(blk[1], AttnBlock) else h
            else:
                h = blk(h)  # stride-2 conv: [B, C, H/2, W/2]
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb), tokens, mask), emb)
        for blk in self.up:
            if isinstance(blk, nn.ModuleList):
                h = blk[0](torch.cat([h, hs.pop()], dim=1), emb)
                h = blk[1](h, tokens, mask) if isinstance(blk[1], AttnBlock) else h
            else:
                h = blk(h)  # upsample: [B, C, 2H, 2W]
        y = self.unfold(self.out(F.silu(self.out_norm(h))))  # [B, C (+ features), H, W]
        out = y[:, :self.cfg.out_channels]
        if self.refine is not None or self.copy is not None:
            pixels = torch.cat([y, inputs], dim=1)  # [B, C (+ features) + 7, H, W]
        if self.refine is not None:
            out = out + self.refine(pixels)  # [B, C, H, W]
        copy_loss = None
        if self.copy is not None:
            out, copy_loss = self.copy(out, h, pixels, text, copy_target, one_step)
        return (velocity_from_x(x_t, out, t, self.cfg.x_min_t) if self.cfg.prediction == "x" else out), copy_loss


# ============================================================================ backend
@BACKENDS.register("tiny")
class TinyBackend(nn.Module):
    """:class:`~openbanana.backends.base.GeneratorBackend` around :class:`TinyUNet`."""

    name = "tiny"

    def __init__(self, cfg: TinyConfig | None = None) -> None:
        super().__init__()
        self.config = cfg or tiny_xs()
        self.net = TinyUNet(self.config)

    @classmethod
    def from_config(cls, d: dict[str, Any] | TinyConfig) -> TinyBackend:
        """A fresh, randomly initialised backend from a config dict (``{"size": "tiny-m"}``, ...)."""
        return cls(d if isinstance(d, TinyConfig) else TinyConfig.from_dict(d))

    # ---------------------------------------------------------------- training
    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.training_loss(batch, generator)

    def pointer_loss_weight(self) -> float:
        """Weight of the colour-copy head's pointer loss in :meth:`training_loss` (0: none)."""
        return self.config.color_copy_loss

    def training_loss(self, batch: Batch, generator: torch.Generator | None = None, *,
                      auxiliary: bool = True) -> torch.Tensor:
        """Mean squared velocity error; samples flagged ``batch.one_step`` use eps = 0, t = 1. With
        ``batch.weight`` each sample's error is its weighted pixel mean, then samples are averaged.
        With ``auxiliary``, plus :meth:`pointer_loss_weight` times the colour-copy head's pointer
        loss and the answer losses of ``config.answer_loss`` on the one-step rows. Held-out losses
        (``auxiliary=False``) leave both out and draw their times without ``config.time_shift``:
        they measure flow matching alone, on the same times for every model."""
        if batch.target is None:
            raise ValueError("training_loss needs batch.target, got None")
        x0 = batch.target
        B, dev = x0.shape[0], x0.device
        one = batch.one_step.to(dev) if batch.one_step is not None else torch.zeros(B, dtype=torch.bool, device=dev)
        gdev = generator.device if generator is not None else dev
        eps = initial_noise(x0.shape, generator, device=dev, dtype=x0.dtype)
        t = sample_train_t(B, distribution=self.config.time_distribution, generator=generator, device=gdev)
        if auxiliary:
            t = shift_some_times(t, self.config.time_shift, self.config.time_shift_share, generator)
        t = t.to(dev)
        eps = torch.where(one[:, None, None, None], torch.zeros_like(eps), eps)
        t = torch.where(one, torch.ones_like(t), t)
        x_t = interpolate(x0, eps, t)
        text = self.net.encode_text(batch.prompts, device=dev)
        weight = self.pointer_loss_weight() if auxiliary else 0.0
        if weight:
            v, copy_loss = self.net.velocity_and_pointer_loss(x_t, t, batch.cond, batch.has_cond.to(dev), text, one,
                                                              copy_target=x0)
        else:
            v, copy_loss = self.net(x_t, t, batch.cond, batch.has_cond.to(dev), text, one), None
        w = None if batch.weight is None else batch.weight.to(dev, torch.float32)
        pointer = None if copy_loss is None else copy_loss.value
        if copy_loss is not None and self.config.color_copy_exclusive:
            if w is not None and bool(copy_loss.rows.any()):
                # the pointer loss takes over the squared error's per-pixel weights (the foreground
                # weights of small referred objects): without them run 10b lost referring
                pw = w[:, 0][copy_loss.rows]
                pointer = (copy_loss.nll[copy_loss.rows] * pw).sum() / pw.sum().clamp_min(1e-12)
            keep = (~copy_loss.covered)[:, None].to(torch.float32)  # [B, 1, H, W]
            w = keep if w is None else w * keep
        if w is None:
            loss = F.mse_loss(v.float(), velocity_target(x0, eps).float())
        else:
            err = (v.float() - velocity_target(x0, eps).float()).pow(2).mean(1, keepdim=True)  # [B, 1, H, W]
            w = w.expand_as(err)
            # a sample whose every pixel is left out (exclusive) adds 0, and still counts in the mean
            loss = ((err * w).sum((1, 2, 3)) / w.sum((1, 2, 3)).clamp_min(1e-12)).mean()
        if pointer is not None:
            loss = loss + weight * pointer
        if auxiliary and self.config.answer_loss and batch.tasks is not None and bool(one.any()):
            rows = one.nonzero()[:, 0].tolist()
            # one-step rows: x_t = 0 and t = 1, so the predicted answer is x0 = -v
            extra = answer_loss(-v[rows], x0[rows], [batch.prompts[i] for i in rows],
                                [batch.tasks[i] for i in rows], self.config.answer_loss, batch_size=B)
            if extra is not None:
                loss = loss + extra
        return loss

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(
        self,
        cond: torch.Tensor | None,
        prompts: list[str],
        *,
        height: int,
        width: int,
        num_inference_steps: int = 1,
        guidance_text: float = 1.0,
        guidance_image: float = 1.0,
        generator: torch.Generator | None = None,
        one_step: bool = False,
        has_cond: torch.Tensor | None = None,
        shift: float | None = None,
    ) -> torch.Tensor:
        """Generate ``[B, 3, height, width]`` images in [-1, 1].

        Args:
            cond: ``[B, 3, height, width]`` in [-1, 1], or None for text-to-image.
            prompts: B instructions.
            num_inference_steps: Euler steps (ignored when ``one_step``).
            guidance_text, guidance_image: classifier-free guidance scales (1 = off); see
                :func:`openbanana.sampling.cfg_combine`. Not used in the one-step mode.
            generator: seeds the initial noise (same seed -> same image).
            one_step: the deterministic one-step mode the dense tasks were trained in.
            has_cond: ``[B]`` bool per-sample override (default: all True when ``cond`` is given).
            shift: timestep shift of :func:`openbanana.sampling.timesteps` (default: the model's
                ``time_shift``, the shift it was trained with).
        """
        B = len(prompts)
        dev = next(self.parameters()).device
        if cond is None:
            cond = torch.zeros(B, 3, height, width, device=dev)
            has_cond = torch.zeros(B, dtype=torch.bool, device=dev)
        else:
            if cond.dim() != 4 or cond.shape[0] != B or cond.shape[1] != 3:
                raise ValueError(f"cond must be [B={B}, 3, H, W], got {tuple(cond.shape)}")
            if tuple(cond.shape[-2:]) != (height, width):
                raise ValueError(f"cond is {tuple(cond.shape[-2:])} but height, width = {(height, width)}")
            cond = cond.to(dev, torch.float32)
            has_cond = torch.ones(B, dtype=torch.bool, device=dev) if has_cond is None else has_cond.to(dev)
        text = self.net.encode_text(prompts, device=dev)

        if one_step:
            flag = torch.ones(B, dtype=torch.bool, device=dev)
            x0 = one_step_sample(lambda x, t: self.net(x, t, cond, has_cond, text, flag), (B, 3, height, width),
                                 device=dev)
            return x0.clamp(-1, 1)

        flow = torch.zeros(B, dtype=torch.bool, device=dev)
        guided = guidance_text != 1.0 or guidance_image != 1.0
        if guided:
            # one pass over 3B rows: (no image, no text), (image, no text), (image, text)
            text3 = self.net.encode_text([""] * (2 * B) + list(prompts), device=dev)
            cond3 = cond.repeat(3, 1, 1, 1)
            has3 = torch.cat([torch.zeros_like(has_cond), has_cond, has_cond])
            flow3 = flow.repeat(3)

            def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                v_u, v_i, v_f = self.net(x.repeat(3, 1, 1, 1), t.repeat(3), cond3, has3, text3, flow3).chunk(3)
                return cfg_combine(v_u, v_i, v_f, guidance_text, guidance_image)
        else:
            def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                return self.net(x, t, cond, has_cond, text, flow)

        noise = initial_noise((B, 3, height, width), generator, device=dev)
        shift = self.config.time_shift if shift is None else shift
        return euler_sample(velocity, noise, num_inference_steps, shift=shift).clamp(-1, 1)

    # ---------------------------------------------------------------- files
    def save_pretrained(self, path: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` (in ``config.storage_dtype``) to ``path``."""
        save_backend(self, path, self.config.to_dict(), self.config.storage_dtype)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: torch.device | str = "cpu", **kwargs: Any) -> TinyBackend:
        """Load what :meth:`save_pretrained` wrote; weights become float32 on ``device``."""
        return load_backend(cls, path, lambda d: cls(TinyConfig.from_dict(d)), device=device)


# ============================================================================ files
def save_backend(module: nn.Module, path: str | Path, config: dict[str, Any], storage_dtype: str) -> None:
    """Write a backend to folder ``path``: ``config.json`` (``{"backend": module.name, **config}``) and
    ``model.safetensors`` with every tensor of its state in ``storage_dtype``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    (p / CONFIG_FILE).write_text(json.dumps({"backend": module.name, **config}, indent=2) + "\n")
    dtype = _STORAGE[storage_dtype]
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(p / WEIGHTS_FILE), metadata={"format": "pt", "backend": module.name})


def load_backend(cls: type, path: str | Path, build: Any, *, device: torch.device | str = "cpu") -> Any:
    """Load what :func:`save_backend` wrote for backend class ``cls``: ``build(config dict)`` makes the
    module (on the meta device, no random init), the weights are loaded as float32 on ``device``.

    Raises:
        FileNotFoundError: a file is missing. ValueError: the folder holds another backend.
    """
    p = Path(path)
    if not (p / CONFIG_FILE).is_file() or not (p / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{p} must hold {CONFIG_FILE} and {WEIGHTS_FILE} (written by save_pretrained)")
    d = json.loads((p / CONFIG_FILE).read_text())
    if d.pop("backend", cls.name) != cls.name:
        raise ValueError(f"{p / CONFIG_FILE} is not a {cls.name!r} backend config")
    with torch.device("meta"):
        model = build(d)
    state = {k: v.to(device, torch.float32) for k, v in load_file(str(p / WEIGHTS_FILE)).items()}
    model.load_state_dict(state, assign=True, strict=True)
    return model.eval()
