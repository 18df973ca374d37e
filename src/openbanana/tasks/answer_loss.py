"""Training losses in the answers' own units (:meth:`Task.answer_loss`), summed over a batch.

A backend that predicts answer images calls :func:`answer_loss` with its predictions for the rows
that answer a task; each task with a weight contributes its weighted per-pixel error, averaged over
the row's valid pixels, and the rows' terms are summed and divided by the batch size, so a task's
term grows with its share of the batch as the squared error's does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openbanana.tasks.base import TASKS, Task


def check_answer_loss_weights(weights: Mapping[str, float]) -> None:
    """Refuse weights for unknown tasks, tasks without an answer loss, and negative weights."""
    if not isinstance(weights, Mapping):  # a config error, so ValueError like the rest
        raise ValueError(f"answer_loss: expected a mapping task -> weight such as "  # noqa: TRY004
                         f"{{\"depth\": 0.5}}, got {weights!r}")
    for task, w in weights.items():
        if task not in TASKS:
            raise ValueError(f"answer_loss: unknown task {task!r}; tasks: {', '.join(TASKS.names())}")
        if type(TASKS.get(task)).answer_loss is Task.answer_loss:
            raise ValueError(f"answer_loss: task {task!r} has no answer loss (only tasks that define "
                             f"Task.answer_loss can be weighted)")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
            raise ValueError(f"answer_loss: weight of {task!r} must be a number >= 0, got {w!r}")


def answer_loss(pred: Any, target: Any, prompts: Sequence[str], tasks: Sequence[str],
                weights: Mapping[str, float], *, batch_size: int) -> Any | None:
    """Weighted answer-space loss of a batch's answer rows.

    Args:
        pred: predicted answer images ``[N, 3, H, W]`` in [-1, 1] (with gradients).
        target: target images, the same shape.
        prompts, tasks: the N rows' instructions (each row's spec is read from it) and task names.
        weights: task -> weight; rows of other tasks (and weight 0) add nothing.
        batch_size: the divisor (the whole batch's size, also counting rows not passed here).
    Returns:
        a scalar tensor, or None when no row has a weighted answer loss.
    """
    terms = []
    for i, (prompt, name) in enumerate(zip(prompts, tasks)):
        w = float(weights.get(name, 0.0))
        if not w:
            continue
        task = TASKS.get(name)
        out = task.answer_loss(pred[i:i + 1], target[i:i + 1], **task.spec_from_instruction(prompt))
        if out is None:
            continue
        loss, valid = out
        n = valid.sum()
        if int(n) == 0:
            continue
        terms.append(w * (loss * valid).sum() / n)
    if not terms:
        return None
    return sum(terms) / batch_size
