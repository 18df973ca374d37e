"""Backend-independent parts of the training objective, applied by the loop to every batch.

- classifier-free guidance needs the model to know "no text" and "no image": with probability
  ``p_drop_text`` the instruction becomes ``""``, with ``p_drop_image`` the input image is dropped
  (``has_cond = False``, ``cond`` zeros), independently;
- the deterministic one-step mode for dense tasks (see :mod:`openbanana.sampling`): a sample whose
  task is in ``one_step_tasks`` is flagged ``one_step`` with probability ``one_step_prob``; flagged
  samples keep their image and text (a dense answer without them is meaningless).
"""

from __future__ import annotations

import torch

from openbanana.backends.base import Batch
from openbanana.backends.text import to_device_nonblocking
from openbanana.training.config import ObjectiveConfig


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
    return Batch(target=batch.target, cond=cond, has_cond=has_cond, prompts=prompts, tasks=batch.tasks,
                 one_step=flags[1])
