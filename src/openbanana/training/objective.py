"""Backend-independent parts of the training objective, applied by the loop to every batch.

- classifier-free guidance needs the model to know "no text" and "no image": with probability
  ``p_drop_text`` the instruction becomes ``""``, with ``p_drop_image`` the input image is dropped
  (``has_cond = False``, ``cond`` zeros), independently;
- the deterministic one-step mode for dense tasks (see :mod:`openbanana.sampling`): a sample whose
  task is in ``one_step_tasks`` is flagged ``one_step`` with probability ``one_step_prob``; flagged
  samples keep their image and text (a dense answer without them is meaningless);
- with ``foreground_weight > 0``, targets drawn as regions on a background colour (instance,
  referring, reasoning; or only those in ``foreground_tasks``) weigh their few foreground pixels up
  (:func:`foreground_weights`);
- with ``class_balance_weight > 0``, targets drawn as class colours (semantic) weigh each class's
  pixels by how rare its colour is in the target (:func:`class_balance_weights`).
"""

from __future__ import annotations

from collections.abc import Collection

import torch

from openbanana.backends.text import to_device_nonblocking
from openbanana.batch import Batch, unit_to_u8
from openbanana.tasks import TASKS
from openbanana.training.config import ObjectiveConfig

#: answer kinds drawn as regions on one background colour: their foreground pixels are weighed up
REGION_KINDS = ("instances", "masks")
#: answer kinds drawn as one colour per class: each colour's pixels are weighed by its rarity
CLASS_KINDS = ("labels",)


def region_task(task: str) -> bool:
    """Whether ``task``'s target is drawn as regions on a background colour (its answer kind)."""
    return task in TASKS and TASKS.get(task).answer_kind in REGION_KINDS


def class_task(task: str) -> bool:
    """Whether ``task``'s target is drawn as one colour per class (its answer kind)."""
    return task in TASKS and TASKS.get(task).answer_kind in CLASS_KINDS


def _colour_codes(target: torch.Tensor) -> torch.Tensor:
    """One int per pixel colour, ``[R, H*W]``, of targets ``[R, 3, H, W]`` in [-1, 1]."""
    u8 = unit_to_u8(target).long()  # [R, 3, H, W]
    return (u8[:, 0] * 65536 + u8[:, 1] * 256 + u8[:, 2]).flatten(1)


def class_balance_weights(target: torch.Tensor, tasks: list[str], max_weight: float) -> torch.Tensor | None:
    """Per-pixel loss weights ``[B, 1, H, W]`` that let a target's rare classes count.

    For each sample of a class task (:func:`class_task`), every pixel weighs
    ``sqrt(n_most / n_colour)``, clipped to ``[1, max_weight]``: ``n_colour`` is the number of
    pixels of its own colour in the target and ``n_most`` that of the most frequent colour. Walls,
    floors and roads weigh 1; a cup of 40 pixels in a room whose floor has 4,000 weighs 10 (before
    the clip). Other samples weigh 1. None when no sample needs it.

    Args:
        target: ``[B, 3, H, W]`` in [-1, 1].
        tasks: B task names.
        max_weight: the clip (>= 1).
    """
    rows = [i for i, t in enumerate(tasks) if class_task(t)]
    if not rows or max_weight < 1:
        return None
    B, _, H, W = target.shape
    weight = torch.ones(B, 1, H, W, device=target.device, dtype=torch.float32)
    codes = _colour_codes(target[rows])  # [R, H*W]
    for r, row in enumerate(rows):
        _, inverse, counts = torch.unique(codes[r], return_inverse=True, return_counts=True)
        w = (counts.max() / counts.float()).sqrt().clamp(1.0, max_weight)  # [colours]
        weight[row, 0] = w[inverse].view(H, W)
    return weight


def foreground_weights(target: torch.Tensor, tasks: list[str], max_weight: float,
                       only: Collection[str] | None = None) -> torch.Tensor | None:
    """Per-pixel loss weights ``[B, 1, H, W]`` that balance foreground against background.

    For each sample of a region task (:func:`region_task`), the background is the target's most
    frequent colour and every other pixel weighs ``sqrt(n_background / n_foreground)`` clipped to
    ``[1, max_weight]``; the background and every other sample weigh 1. None when no sample needs it.

    Args:
        target: ``[B, 3, H, W]`` in [-1, 1].
        tasks: B task names.
        max_weight: the clip (>= 1).
        only: weigh only samples of these tasks (None: every region task).
    """
    rows = [i for i, t in enumerate(tasks) if region_task(t) and (only is None or t in only)]
    if not rows or max_weight < 1:
        return None
    B, _, H, W = target.shape
    weight = torch.ones(B, 1, H, W, device=target.device, dtype=torch.float32)
    codes = _colour_codes(target[rows])  # [R, H*W]
    background = codes.mode(dim=1).values  # [R]
    fg = codes != background[:, None]  # [R, H*W]
    n_fg = fg.sum(1).float()
    w = ((H * W - n_fg) / n_fg.clamp(min=1)).sqrt().clamp(1.0, max_weight)  # [R]
    weight[rows] = torch.where(fg, w[:, None], torch.ones_like(w)[:, None]).view(len(rows), 1, H, W)
    return weight


def prepare_batch(batch: Batch, cfg: ObjectiveConfig, generator: torch.Generator,
                  one_step_prob: float | None = None) -> Batch:
    """Return a new :class:`Batch` with condition dropout and one-step flags applied.

    Args:
        batch: collated batch on any device (``tasks`` may be None: then no sample is one-step).
        cfg: dropout probabilities and one-step tasks.
        generator: CPU generator; its state is part of the checkpoint, so resume is exact.
        one_step_prob: overrides ``cfg.one_step_prob`` (per stage).
    """
    B = len(batch.prompts)
    p_one = cfg.one_step_prob if one_step_prob is None else one_step_prob
    u = torch.rand(B, 3, generator=generator)  # [B, (one-step, text drop, image drop)]
    tasks = batch.tasks or [""] * B
    eligible = torch.tensor([t in cfg.one_step_tasks for t in tasks], dtype=torch.bool)
    one_step = eligible & (u[:, 0] < p_one)
    drop_text = (u[:, 1] < cfg.p_drop_text) & ~one_step
    drop_image = (u[:, 2] < cfg.p_drop_image) & ~one_step
    prompts = ["" if d else p for d, p in zip(drop_text.tolist(), batch.prompts)]
    dev = batch.cond.device
    # the two CPU flag vectors travel in one non-blocking copy (no wait for the device's queue)
    flags = to_device_nonblocking(torch.stack([drop_image, one_step]), dev)  # [2, B] bool
    has_cond = batch.has_cond.to(dev) & ~flags[0]
    cond = batch.cond * has_cond.to(batch.cond.dtype)[:, None, None, None]
    weight = None
    if batch.target is not None:
        fg = (foreground_weights(batch.target, tasks, cfg.foreground_weight, cfg.foreground_tasks)
              if cfg.foreground_weight else None)
        cb = class_balance_weights(batch.target, tasks, cfg.class_balance_weight) if cfg.class_balance_weight else None
        # the two touch different samples (regions on a background, class colours): their product
        weight = cb if fg is None else fg if cb is None else fg * cb
    return Batch(target=batch.target, cond=cond, has_cond=has_cond, prompts=prompts, tasks=batch.tasks,
                 one_step=flags[1], weight=weight)
