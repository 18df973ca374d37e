"""Colour copy: an output head that paints the colours an instruction names, exactly.

Semantic palettes, referring colours and instance backgrounds are answers made of colours the
instruction gives. A network that must regress those values through its convolutions learns them
slowly and blurs them (a user's new palette came back as a grey ghost of the input). This head
makes painting a named colour a choice instead of a regression: every output pixel attends over
the instruction's colour tokens (:attr:`~openbanana.backends.text.TextFeatures.has_rgb`) plus one
"keep" option, and the result is

    out' = a_keep * out + sum_k a_k * rgb_k          (a = softmax over keep and the colour tokens)

where ``out`` is the network's own clean-image prediction in [-1, 1] and ``rgb_k`` the named
colours in [-1, 1]. Queries come from the network's last feature map (one per output pixel of
each ``patch x patch`` block) plus a 1x1 map of full-resolution features; keys from the text
encoder's features of the colour tokens, which carry the words around them (``chair: (200, 10,
10)``), so a pixel picks the colour of its class by matching class to words.

Two options decide what the head may look at:

- ``blind`` keys come from :attr:`~openbanana.backends.text.TextFeatures.blind`, a second pass of
  the text encoder with the colour values left out. The head copies a colour's value exactly, so
  its keys do not need it; with it, run 6's head learnt to choose colours by value ("this red is
  a chair") and failed on every palette it had not seen (``scripts/palette_binding.py``). Blind
  keys leave the words around a colour token as the only way to match it.
- ``window`` w > 0 adds to each key a learnt 1-D convolution over the ``2w + 1`` text features
  centred on the colour token, so that the words just before and after a colour (``chair:``,
  ``the floor is``, ``"the lamp" in``) reach its key directly, each through its own projection,
  instead of only through attention the text encoder must learn.
- ``one_step_only``: rows outside the deterministic one-step mode (generation and editing, which
  are sampled from noise) keep the network's output. Run 6's head, on in every row, painted
  specks of the named colour into edits.
- ``vocab``: fixed colours that every row naming a colour may also copy, each with a learnt key:
  answers drawn in colours the instruction does not name, above all instance maps, whose code
  paints the i-th instance in the i-th colour of a fixed sequence
  (:func:`~openbanana.tasks.codecs.instances.instance_colors`). Regressed, those colours came back
  as pale blends that the instance decoder (tolerance 14 in RGB) split into fragments; chosen,
  they come back exact. A slot's logit is the keep logit plus a learnt key match, a bias and a
  per-row gate read from the instruction: choosing a vocabulary colour is a way of keeping the
  network's answer, snapped to the code. The slots start almost closed (``vocab_bias`` below
  keep) and the pointer loss opens them where the targets show their colours.
- ``hard``: at inference each pixel takes its most probable option (keep, or one colour) instead
  of the softmax's mixture, so an unsure pixel comes back in one of the colours it hesitates
  between, not in a blend that no decoder reads (:func:`hard_choice`). Training still mixes.

Its query maps start at zero and the keep logit at ``keep_bias``, so a new head changes a trained
network's output by at most ``K exp(-keep_bias)`` of the colour range (K colour tokens): it can be
added to a shipped model and trained from there. With no colour named, the output is ``out``
unchanged. The answer is an image like any other: decoders do not change. Training it needs
:func:`pointer_loss` beside the generation loss (``TinyConfig.color_copy_loss``): without it a head
added closed never opened.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from openbanana.backends.text import TextFeatures

#: the vocabulary's keys, biases and row gate are stored divided by this and used multiplied by it, so that
#: Adam moves them this many times faster than the trained weights around them: a head added to a
#: trained model is tuned at a small learning rate (4e-4), and at that rate the slots' bias moved
#: by 0.12 in 900 steps (run 9a, stopped)
VOCAB_GAIN = 100.0


class ColorCopyHead(nn.Module):
    """``(out, features, pixels, text) -> out'`` (see the module docstring).

    Args:
        feat_ch: channels of ``features`` ``[B, feat_ch, H/patch, W/patch]``.
        pixel_ch: channels of ``pixels`` ``[B, pixel_ch, H, W]`` (full-resolution features).
        text_dim: width of the text features.
        dim: width of the queries and keys.
        patch: how many output pixels per feature pixel along each side.
        keep_bias: the keep option's starting logit.
        blind: keys from the colour-blind text features (see the module docstring).
        one_step_only: only rows in the one-step mode may copy.
        window: text positions on each side of a colour token that its key reads directly (0 = none).
        vocab: uint8 ``(N, 3)`` fixed colours that every row with a named colour slot may copy
            (None: none). Rows that name no colour (depth, normals, most generation prompts) have
            always left the keep option alone, so their keep logits are untrained and the vocabulary
            stays closed to them.
        vocab_bias: the vocabulary slots' starting logit, relative to the keep option's.
        hard: in eval mode, each pixel takes its most probable option (:func:`hard_choice`).
    """

    def __init__(self, feat_ch: int, pixel_ch: int, text_dim: int, dim: int, patch: int,
                 keep_bias: float = 9.0, *, blind: bool = False, one_step_only: bool = False,
                 window: int = 0, vocab: np.ndarray | None = None, vocab_bias: float = -6.0,
                 hard: bool = False) -> None:
        super().__init__()
        self.hard = hard
        if window < 0:
            raise ValueError(f"window must be >= 0, got {window}")
        self.vocab_keys = self.vocab_bias = self.vocab_gate = None
        self.register_buffer("vocab_rgb", None)
        if vocab is not None:
            vocab = np.asarray(vocab)
            if vocab.ndim != 2 or vocab.shape[1] != 3 or not len(vocab) or ((vocab < 0) | (vocab > 255)).any():
                raise ValueError(f"vocab must be (N >= 1, 3) colours in 0-255, got shape {vocab.shape}")
            self.register_buffer("vocab_rgb", torch.tensor(vocab / 127.5 - 1, dtype=torch.float32))  # [N, 3]
            # small random keys: zero keys would leave a new head (zero queries) at a saddle where
            # only the bias learns; large ones would open the slots at random in a trained network.
            # Keys, biases and gate are stored divided by VOCAB_GAIN (see there).
            g = torch.Generator().manual_seed(0)
            keys = 0.1 * torch.randn(len(vocab), dim, generator=g, device="cpu")
            self.vocab_keys = nn.Parameter(keys / VOCAB_GAIN)
            self.vocab_bias = nn.Parameter(torch.full((len(vocab),), float(vocab_bias) / VOCAB_GAIN))
            # a per-row offset from the instruction: whether a row wants the vocabulary at all is
            # the instruction's business (an instance prompt does, a palette does not)
            self.vocab_gate = nn.Linear(text_dim, 1, bias=False)
            nn.init.zeros_(self.vocab_gate.weight)
        self.dim = dim
        self.blind = blind
        self.one_step_only = one_step_only
        self.k_window = None
        if window:
            # starts at zero: a head trained without it chooses as before
            self.k_window = nn.Conv1d(text_dim, dim, 2 * window + 1, padding=window)
            nn.init.zeros_(self.k_window.weight)
            nn.init.zeros_(self.k_window.bias)
        self.q = nn.Conv2d(feat_ch, (dim + 1) * patch * patch, 1)  # dim query + 1 keep logit per output pixel
        self.q_pixels = nn.Conv2d(pixel_ch, dim + 1, 1)
        self.unfold = nn.PixelShuffle(patch) if patch > 1 else nn.Identity()
        self.k = nn.Linear(text_dim, dim)
        self.keep_bias = nn.Parameter(torch.tensor(float(keep_bias)))
        for conv in (self.q, self.q_pixels):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def weights(self, features: torch.Tensor, pixels: torch.Tensor, text: TextFeatures,
                one_step: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attention ``[B, 1 + K, H, W]`` over (keep, colour slots), the colours ``[B, K, 3]`` in
        [-1, 1], and which of the K slots hold a colour the row may copy ``[B, K]`` (bool). Slots
        are the row's named colours first (as many as the most any row names, at least 1), then the
        N vocabulary colours, open in the rows that name a colour. With ``one_step_only``,
        ``one_step`` ``[B]`` (bool) says which rows may copy: the others have no slot open."""
        has = text.has_rgb  # [B, L]
        if self.one_step_only:
            if one_step is None:
                raise ValueError("a one-step-only colour-copy head needs the rows' one_step flags")
            has = has & one_step.to(has.device)[:, None]
        source = text.tokens
        if self.blind:
            if text.blind is None:
                raise ValueError("a blind colour-copy head needs TextFeatures.blind (TextEncoder(..., blind=True))")
            source = text.blind
        K = max(1, int(has.sum(1).max())) if has.numel() else 1
        order = torch.argsort((~has).to(torch.uint8), dim=1, stable=True)[:, :K]  # colour tokens first
        named = has.gather(1, order)  # [B, K] (K <= L: every row has its CLS token)
        tokens = source.gather(1, order[..., None].expand(-1, -1, source.shape[-1]))  # [B, K, D]
        keys = self.k(tokens)  # [B, K, dim]
        if self.k_window is not None:
            # padding features are zeros, so the window ends cleanly at both ends of the prompt
            context = self.k_window(source.transpose(1, 2)).transpose(1, 2)  # [B, L, dim]
            keys = keys + context.gather(1, order[..., None].expand(-1, -1, self.dim))
        colors = text.rgb.gather(1, order[..., None].expand(-1, -1, 3)) * 2 - 1  # [B, K, 3]
        q = self.unfold(self.q(features)) + self.q_pixels(pixels)  # [B, dim + 1, H, W]
        logits = torch.einsum("bdhw,bkd->bkhw", q[:, : self.dim], keys) / math.sqrt(self.dim)
        keep = q[:, self.dim:] + self.keep_bias  # [B, 1, H, W]
        if self.vocab_keys is not None:
            B, N = named.shape[0], self.vocab_rgb.shape[0]
            may = named.any(1)  # [B] rows that name a colour (one_step_only: and are one-step rows)
            v_logits = torch.einsum("bdhw,nd->bnhw", q[:, : self.dim], self.vocab_keys) / math.sqrt(self.dim)
            mask = text.mask[..., None].to(source.dtype)  # [B, L, 1]
            pooled = (source * mask).sum(1) / mask.sum(1).clamp_min(1)  # [B, D]
            row = self.vocab_gate(pooled)[:, :, None, None]  # [B, 1, 1, 1]
            # relative to keep: a vocabulary colour is a way of keeping the network's answer, snapped
            # to the code (a trained head keeps on instance pixels, with a logit no fixed bias reaches)
            v_logits = keep + VOCAB_GAIN * (v_logits + self.vocab_bias[:, None, None] + row)
            logits = torch.cat([logits, v_logits], dim=1)  # [B, K + N, H, W]
            # the weights file may hold the colours in bfloat16: snap them back to the 8-bit grid
            vocab = torch.round((self.vocab_rgb.float() + 1) * 127.5) / 127.5 - 1  # [N, 3]
            colors = torch.cat([colors, vocab.to(colors).expand(B, -1, -1)], dim=1)
            named = torch.cat([named, may[:, None].expand(-1, N)], dim=1)
        logits = logits.masked_fill(~named[:, :, None, None], float("-inf"))
        return torch.softmax(torch.cat([keep, logits], dim=1), dim=1), colors.to(q.dtype), named

    def forward(self, out: torch.Tensor, features: torch.Tensor, pixels: torch.Tensor, text: TextFeatures,
                target: torch.Tensor | None = None,
                one_step: torch.Tensor | None = None) -> tuple[torch.Tensor, PointerLoss | None]:
        """``out`` ``[B, 3, H, W]`` in [-1, 1] with the named colours mixed in where chosen, and with
        the clean ``target`` ``[B, 3, H, W]`` the :func:`pointer_loss` of the choice and the pixels
        it covers (else None). ``one_step``: see :meth:`weights`. With ``hard`` and in eval mode, each
        pixel takes its most probable option instead of the mixture (:func:`hard_choice`)."""
        a, colors, named = self.weights(features, pixels, text, one_step)
        n_vocab = 0 if self.vocab_rgb is None else self.vocab_rgb.shape[0]
        mix = hard_choice(a, colors, named, n_vocab) if self.hard and not self.training else a
        mixed = mix[:, :1] * out + torch.einsum("bkhw,bkc->bchw", mix[:, 1:], colors)
        if target is None:
            return mixed, None
        return mixed, PointerLoss.of(a, colors, named, target)


class PointerLoss(NamedTuple):
    """The head's :func:`pointer_loss`, the pixels it covers (:func:`covered_pixels`), its
    per-pixel terms (minus the log of the weight on each target pixel's answer) and the rows it is averaged over (``[B]``, rows that may
    copy)."""

    value: torch.Tensor
    covered: torch.Tensor
    nll: torch.Tensor
    rows: torch.Tensor

    @classmethod
    def of(cls, a: torch.Tensor, colors: torch.Tensor, named: torch.Tensor, target: torch.Tensor) -> PointerLoss:
        """All four from one match of the target against the slots (arguments: :func:`pointer_loss`)."""
        match = _matches(colors, named, target)
        nll = _nll(a, match)
        rows = named.any(1)  # [B]
        # 0 with a gradient graph when no row names a colour
        value = nll[rows].mean() if bool(rows.any()) else a.sum() * 0.0
        return cls(value, match.any(1), nll, rows)


def hard_choice(a: torch.Tensor, colors: torch.Tensor, named: torch.Tensor, n_vocab: int = 0) -> torch.Tensor:
    """One-hot ``a`` ``[B, 1 + K, H, W]`` on each pixel's most probable option: keep, or a colour,
    whose probability is the sum over the slots that hold it (a colour written twice, a colour name
    of two words). Blends of several colours (an unsure pixel between a palette's classes, or
    between an instance's colour and the background) become one of them, exactly.

    The last ``n_vocab`` slots (the vocabulary) compete as one option, with the sum of their
    weights, and the pixel takes the heaviest of them when that option wins: they are alternative
    names for "an instance of my own colour", so a pixel sure it is an instance but unsure which
    colour its instance has (a spread over 16 slots) is not lost to the background."""
    K = colors.shape[1]
    same = (colors[:, :, None] - colors[:, None]).abs().amax(-1) <= MATCH_TOLERANCE  # [B, K, K]
    same = same & named[:, :, None] & named[:, None, :]
    per_colour = torch.einsum("bjk,bkhw->bjhw", same.to(a.dtype), a[:, 1:])  # [B, K, H, W]
    per_colour = per_colour.masked_fill(~named[:, :, None, None], -1.0)
    options = torch.cat([a[:, :1], per_colour], dim=1)  # [B, 1 + K, H, W]: 0 keep, 1 + k colour k
    best = options.argmax(1)  # [B, H, W]
    if n_vocab:
        v = 1 + K - n_vocab  # the first vocabulary option
        group = a[:, v:].sum(1, keepdim=True).masked_fill(~named[:, -1:, None, None], -1.0)
        first = torch.cat([options[:, :v], group], dim=1).argmax(1)
        best = torch.where(first == v, options[:, v:].argmax(1) + v, first)
    return nn.functional.one_hot(best, 1 + K).permute(0, 3, 1, 2).to(a.dtype)


#: a target pixel shows a named colour when every channel is within one 8-bit step of it (in [-1, 1])
MATCH_TOLERANCE = 1.0 / 127.5


def _matches(colors: torch.Tensor, named: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B, K, H, W]``: the target pixel shows slot k's colour, and slot k is open."""
    diff = (target[:, None].float() - colors[:, :, :, None, None].float()).abs().amax(2)  # [B, K, H, W]
    return (diff <= MATCH_TOLERANCE) & named[:, :, None, None]


def covered_pixels(colors: torch.Tensor, named: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B, H, W]`` bool: the target pixels that show a colour the head may copy, i.e. the pixels
    whose answer :func:`pointer_loss` names as a slot. ``TinyConfig.color_copy_exclusive`` trains
    them by the pointer loss alone: a squared error there rewards painting a blend of colours when
    unsure (run 10's first 450 steps chose black and the vocabulary's grey on instance pixels)."""
    return _matches(colors, named, target).any(1)


def pointer_loss(a: torch.Tensor, colors: torch.Tensor, named: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the head's choice against the clean target: a target pixel that shows a
    named colour should pick that colour's slots (any of them: a colour written twice, or a colour
    name of two words, is several slots), any other pixel should keep the network's own output.
    Mean over the pixels of rows that name a colour; 0 (with a gradient graph) when none does.

    The head's own output error did not open it in run 5: at a keep probability of ``1 - e^-9`` the
    gradient reaching the queries is ~1e-4 of the error's, and mixing in colours before the queries
    match makes the error worse, so only the keep logit moved (up). This loss names the right slot.

    Args:
        a: ``[B, 1 + K, H, W]`` attention over (keep, colour slots). colors: ``[B, K, 3]`` in [-1, 1].
        named: ``[B, K]`` bool, slots that hold a colour. target: ``[B, 3, H, W]`` in [-1, 1].
    """
    return PointerLoss.of(a, colors, named, target).value


def _nll(a: torch.Tensor, match: torch.Tensor) -> torch.Tensor:
    """``[B, H, W]``: minus the log of the weight on the target's slots (``match`` ``[B, K, H, W]``),
    or on keep where the target shows none."""
    p_colour = (a[:, 1:] * match).sum(1)  # [B, H, W]
    p = torch.where(match.any(1), p_colour, a[:, 0])
    return -torch.log(p.float().clamp_min(1e-6))
