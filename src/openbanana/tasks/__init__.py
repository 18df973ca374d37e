"""Every vision task as an instruction, an invertible RGB colour code and a decoder.

Importing this package registers the tasks in :data:`TASKS`: ``depth``, ``normals``, ``semantic``,
``instance``, ``referring`` and ``reasoning``. :func:`encode` and :func:`decode` are the public
``openbanana.encode`` / ``openbanana.decode``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openbanana.tasks import depth, instance, normals, referring, semantic  # noqa: F401  (register)
from openbanana.tasks.base import TASKS, Task, register_task
from openbanana.tasks.colors import parse_color, parse_palette, render_palette

__all__ = ["TASKS", "Task", "decode", "encode", "parse_color", "parse_palette", "register_task", "render_palette"]


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


def decode(task: str, rgb: Any, **spec: Any) -> Any:
    """Read a task's answer back from RGB (uint8 ``(H, W, 3)`` or ``(B, H, W, 3)``, numpy or torch).

    Returns:
        depth: float32 metres ``(H, W)``; normals: ``(unit normals (H, W, 3), valid (H, W))``;
        semantic: int64 labels (palette order, 255 void); instance: int32 ids (0 background);
        referring / reasoning: bool masks ``(N, H, W)``. Same kind as ``rgb``.
    """
    return TASKS.get(task).decode(rgb, **spec)
