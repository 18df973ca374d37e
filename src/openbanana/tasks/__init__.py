"""Every vision task as an instruction, an invertible RGB colour code and a decoder.

Importing this package registers the tasks in :data:`TASKS`: ``depth``, ``normals``, ``semantic``,
``instance``, ``referring`` and ``reasoning``; the generator's own tasks (``t2i``, ``edit``), which
have no answer to decode, are in :data:`~openbanana.tasks.generation.GENERATION`. :func:`encode` and
:func:`decode` are the public ``openbanana.encode`` / ``openbanana.decode``; :func:`task_names`
lists the tasks in their declared order and :func:`answer_kind` says what kind an answer is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openbanana.tasks import depth, instance, normals, referring, semantic  # noqa: F401  (register)
from openbanana.tasks.answers import ANSWER_KINDS, Answer, AnswerKind, guess_answer_kind
from openbanana.tasks.base import TASKS, Task, register_task, task_names
from openbanana.tasks.colors import parse_color, parse_palette, render_palette
from openbanana.tasks.generation import GENERATION, GENERATION_TASKS, GenerationTask, generation_task_names

__all__ = [
    "ANSWER_KINDS",
    "GENERATION",
    "GENERATION_TASKS",
    "TASKS",
    "Answer",
    "AnswerKind",
    "GenerationTask",
    "Task",
    "answer_kind",
    "decode",
    "encode",
    "generation_task_names",
    "parse_color",
    "parse_palette",
    "register_task",
    "render_palette",
    "task_names",
]


def encode(task: str, target: Any, **spec: Any) -> np.ndarray:
    """Draw a task's answer as RGB.

    Args:
        task: a key of :data:`TASKS` (``depth``, ``normals``, ``semantic``, ``instance``,
            ``referring``, ``reasoning``).
        target: the answer: depth (m) ``(H, W)``; normals ``(H, W, 3)``; labels ``(H, W)`` int;
            instance ids ``(H, W)`` int; masks ``(N, H, W)`` bool. numpy or torch, optionally
            batched with a leading ``B``.
        **spec: what the instruction specifies: ``colormap=`` (depth), ``palette=`` or
            ``instruction=`` (semantic), ``background=`` (instance, referring), ``colors=`` (referring).

    Returns:
        uint8 RGB ``(H, W, 3)`` (or ``(B, H, W, 3)``), same kind (numpy/torch) as ``target``.

    Raises:
        ValueError: unknown task (lists the valid ones) or bad input; TypeError: unknown spec key.
    """
    return TASKS.get(task).encode(target, **spec)


def decode(task: str, rgb: Any, **spec: Any) -> Answer:
    """Read a task's answer back from RGB (uint8 ``(H, W, 3)`` or ``(B, H, W, 3)``, numpy or torch).

    Args:
        task: a key of :data:`TASKS`.
        rgb: the drawing.
        **spec: as for :func:`encode`, plus the decoding options (``max_distance=``,
            ``black_is_void=`` for semantic, ``params=`` for instance).

    Returns:
        An :class:`~openbanana.tasks.answers.Answer`, the same shape of result for every task:
        ``.value`` is depth float32 metres ``(H, W)``; normals float32 unit vectors ``(H, W, 3)``;
        semantic int64 labels (palette order, 255 void); instance int32 ids (0 background);
        referring / reasoning bool masks ``(N, H, W)``, same kind (numpy/torch) as ``rgb``;
        ``.valid`` is bool ``(H, W)`` for normals (black = undefined), else None; ``.kind`` is the
        task's answer kind.

    Example:
        >>> answer = decode("depth", encode("depth", np.full((2, 2), 3.0, np.float32)))
        >>> answer.kind, answer.value.shape
        ('depth', (2, 2))
    """
    return TASKS.get(task).decode(rgb, **spec)


def answer_kind(task: str | None, answer: Any) -> AnswerKind | None:
    """The kind of a decoded answer (one of :data:`ANSWER_KINDS`), or None when there is none.

    A registered task's declared :attr:`Task.answer_kind` decides; an answer of any other task
    (``t2i``/``edit`` have None) is judged by its dtype and shape (:func:`guess_answer_kind`).
    """
    if answer is None:
        return None
    if task in TASKS:
        return TASKS.get(task).answer_kind
    return guess_answer_kind(answer)
