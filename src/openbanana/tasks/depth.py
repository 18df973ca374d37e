"""Metric depth: the paper's 7-edge colour path, or an augmentation colormap named in the prompt.

Spec: ``colormap`` = ``"paper"`` (default) or a key of
:data:`openbanana.tasks.codecs.colormaps.COLORMAPS` (``plasma``, ``inferno``, ``viridis``,
``grayscale``); the instruction names the colormap when it is not the paper's.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from openbanana.tasks._spec import check_spec, pick
from openbanana.tasks.answers import Answer, AnswerKind
from openbanana.tasks.base import Task, register_task
from openbanana.tasks.codecs.colormaps import COLORMAPS, decode_depth_colormap, encode_depth_colormap
from openbanana.tasks.codecs.depth import (
    STEPS,
    decode_depth,
    encode_depth,
    path_unit_soft,
    unit_to_depth_soft,
)

_TEMPLATES = (
    "Estimate the metric depth of this image.",
    "Predict the depth of every pixel in metres.",
    "Draw the depth map of this scene.",
    "How far is each pixel from the camera? Render the depth map.",
    "Metric depth estimation.",
    "Show the distance from the camera of every pixel as a depth map.",
    "Paint a metric depth map for this photo.",
    "Give me the depth of this picture.",
    "depth",
)
_COLORMAP_SUFFIXES = (
    " Use the {cmap} colormap.",
    " Render it with the {cmap} colormap.",
    " Colour it with {cmap}.",
    " ({cmap} colormap)",
)
#: metres added to both depths before the log of :meth:`DepthTask.answer_loss` (a floor for 0 m)
LOG_FLOOR_M = 0.05
#: the answer loss leaves out target pixels nearer than this (black: no depth) ...
LOSS_MIN_DEPTH_M = 0.01
#: ... and pixels at or beyond the last path step before white (the sky, "infinitely" far);
#: predictions are clamped there too, so the log stays finite
LOSS_MAX_UNIT = 1.0 - 1.0 / STEPS
_SYNONYMS = {"grayscale": ("grayscale", "greyscale", "gray scale", "grey scale", "gray-scale")}


def _colormap_names() -> list[str]:
    return [n for n in COLORMAPS.names() if n != "paper"]


@register_task
class DepthTask(Task):
    """Metric depth (m) <-> RGB."""

    name: ClassVar[str] = "depth"
    description: ClassVar[str] = "metric depth in metres, drawn along the paper's 7-edge colour path"
    keywords: ClassVar[tuple[str, ...]] = (r"\bdepths?\b", r"\bhow far\b", r"\bdistances?\b.*\bcamera\b")
    priority: ClassVar[int] = 20
    answer_kind: ClassVar[AnswerKind] = "depth"
    order: ClassVar[int] = 0
    mirrorable: ClassVar[bool] = True
    spec_keys: ClassVar[tuple[str, ...]] = ("colormap",)

    def _colormap(self, spec: dict[str, Any]) -> str:
        check_spec(self.name, spec, self.spec_keys)
        cmap = spec.get("colormap", "paper")
        COLORMAPS.get(cmap)  # a miss lists the valid names
        return cmap

    def encode(self, target: Any, **spec: Any) -> np.ndarray:
        """Args: target: depth (m), (H, W) or (B, H, W), numpy or torch. Returns uint8 RGB (..., 3)."""
        cmap = self._colormap(spec)
        return encode_depth(target) if cmap == "paper" else encode_depth_colormap(target, cmap)

    def decode(self, rgb: Any, **spec: Any) -> Answer:
        """Args: rgb: uint8 (H, W, 3) or (B, H, W, 3). Returns depth (m), float32 (H, W) / (B, H, W)."""
        cmap = self._colormap(spec)
        return self.answer(decode_depth(rgb) if cmap == "paper" else decode_depth_colormap(rgb, cmap))

    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        cmap = self._colormap(spec)
        text = pick(rng, _TEMPLATES)
        if cmap != "paper":
            shown = pick(rng, _SYNONYMS.get(cmap, (cmap,)))
            text += pick(rng, _COLORMAP_SUFFIXES).format(cmap=shown)
        return text

    def answer_loss(self, pred: Any, target: Any, **spec: Any) -> tuple[Any, Any] | None:
        """``|log(d + 0.05) - log(d* + 0.05)|`` per pixel, depths read off the paper's path by the
        differentiable projection :func:`~openbanana.tasks.codecs.depth.path_unit_soft`.

        Why: the squared error in colour space weighs a depth error by where it falls on the path
        (one colour step is 4 mm at 1 m and 35 cm at 40 m), while the scores (delta1, AbsRel) are
        ratios. Only for the paper's code (None for the other colormaps); target pixels without a
        depth (black) or at infinity (white) are left out.
        """
        if self._colormap(spec) != "paper":
            return None
        import torch

        def path_units(image: torch.Tensor) -> torch.Tensor:
            return path_unit_soft((image.float() + 1.0) / 2.0).clamp(max=LOSS_MAX_UNIT)

        with torch.no_grad():
            f_true = path_units(target)
            d_true = unit_to_depth_soft(f_true)
        valid = (d_true >= LOSS_MIN_DEPTH_M) & (f_true < LOSS_MAX_UNIT)
        d_pred = unit_to_depth_soft(path_units(pred))
        loss = (torch.log(d_pred + LOG_FLOOR_M) - torch.log(d_true + LOG_FLOOR_M)).abs()
        return loss, valid

    def encodable(self, target: Any) -> np.ndarray:
        """Pixels without a depth (NaN, negative) drawn at 0 m."""
        gt = np.asarray(target)
        return np.where(np.isnan(gt) | (gt < 0), 0.0, gt).astype(np.float32)

    def spec_from_instruction(self, text: str) -> dict[str, Any]:
        for cmap in _colormap_names():
            for word in _SYNONYMS.get(cmap, (cmap,)):
                if re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE):
                    return {"colormap": cmap}
        return {"colormap": "paper"}
