"""Batches and the pixel convention between the edges and the models, below ``data/`` and
``backends/`` (both import it; it imports neither).

Images are uint8 ``(H, W, 3)`` in 0..255 at the edges (files, data samples, pipeline inputs and
outputs) and float32 ``[B, 3, H, W]`` in [-1, 1] inside models. The one map between them, written
here once::

    x = u / 127.5 - 1                                  # uint8 -> [-1, 1], exact for every u
    u = round((clamp(x, -1, 1) + 1) * 127.5)           # [-1, 1] -> uint8, round half to even

so ``unit_to_u8(u8_to_unit(u)) == u`` for every uint8 ``u``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["Batch", "collate", "image_to_unit", "images_to_unit", "u8_to_unit", "unit_to_images", "unit_to_u8"]


@dataclass
class Batch:
    """One training or sampling batch.

    Attributes:
        target: ``[B, 3, H, W]`` float in [-1, 1], the image to generate (None when sampling).
        cond: ``[B, 3, H, W]`` float in [-1, 1], the input image (zeros where ``has_cond`` is False).
        has_cond: ``[B]`` bool, whether sample i has an input image.
        prompts: B instruction strings.
        tasks: B task names (``"t2i"``, ``"edit"``, ``"depth"``, ...), for logging and loss weights.
        one_step: ``[B]`` bool or None: train sample i in the deterministic one-step mode (input
            zeros at t = 1, see :mod:`openbanana.sampling`); set by the training loop.
        weight: ``[B, 1, H, W]`` float or None: per-pixel loss weights (None: every pixel counts the
            same); set by the training loop (:func:`openbanana.training.objective.foreground_weights`).
    """

    target: torch.Tensor | None
    cond: torch.Tensor
    has_cond: torch.Tensor
    prompts: list[str]
    tasks: list[str] | None = None
    one_step: torch.Tensor | None = None
    weight: torch.Tensor | None = None

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Batch:
        """The batch on ``device`` (images also cast to ``dtype`` when given)."""
        move = (lambda t: t.to(device=device, dtype=dtype)) if dtype else (lambda t: t.to(device))
        return Batch(
            target=None if self.target is None else move(self.target),
            cond=move(self.cond),
            has_cond=self.has_cond.to(device),
            prompts=self.prompts,
            tasks=self.tasks,
            one_step=None if self.one_step is None else self.one_step.to(device),
            weight=None if self.weight is None else self.weight.to(device),
        )


# ---------------------------------------------------------------------------- pixels
def u8_to_unit(u: torch.Tensor) -> torch.Tensor:
    """uint8 values (any shape, any device) -> float32 in [-1, 1], same shape and device."""
    return u.float() / 127.5 - 1.0


def unit_to_u8(x: torch.Tensor) -> torch.Tensor:
    """Values in [-1, 1] (any shape, any device; outside is clipped) -> uint8, same shape and device."""
    return ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def image_to_unit(image: np.ndarray) -> torch.Tensor:
    """One uint8 ``(H, W, 3)`` image -> float32 ``[3, H, W]`` in [-1, 1]."""
    return u8_to_unit(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))  # [3, H, W]


def images_to_unit(images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 ``(B, H, W, 3)`` images (an array or a list of ``(H, W, 3)``) -> float32
    ``[B, 3, H, W]`` in [-1, 1]."""
    return u8_to_unit(torch.from_numpy(np.array(images, dtype=np.uint8)).permute(0, 3, 1, 2))  # [B, 3, H, W]


def unit_to_images(x: torch.Tensor) -> np.ndarray:
    """float ``[B, 3, H, W]`` in [-1, 1] (any device, any float dtype) -> uint8 ``(B, H, W, 3)``
    numpy (rounded, clipped)."""
    u = unit_to_u8(x.detach().float().cpu())  # [B, 3, H, W]
    return np.ascontiguousarray(u.permute(0, 2, 3, 1).numpy())


# ---------------------------------------------------------------------------- batches
def collate(samples: list[dict[str, Any]]) -> Batch:
    """Stack samples (``{"target", "cond", "prompt", "task"}``, images uint8 ``(S, S, 3)``,
    ``cond`` None for text-to-image) into a :class:`Batch`.

    Shape:
        target, cond: float32 ``[B, 3, S, S]`` in [-1, 1] (``cond`` zeros where ``has_cond`` is
        False, i.e. text-to-image); has_cond: bool ``[B]``; prompts, tasks: B strings.
    """
    if not samples:
        raise ValueError("collate needs at least one sample")
    target = torch.stack([image_to_unit(s["target"]) for s in samples])  # [B, 3, S, S]
    cond = torch.stack([torch.zeros_like(target[0]) if s["cond"] is None else image_to_unit(s["cond"])
                        for s in samples])  # [B, 3, S, S]
    has_cond = torch.tensor([s["cond"] is not None for s in samples], dtype=torch.bool)
    return Batch(target=target, cond=cond, has_cond=has_cond, prompts=[s["prompt"] for s in samples],
                 tasks=[s["task"] for s in samples])
