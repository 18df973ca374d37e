"""What a task is: an instruction, an invertible RGB colour code and a metric.

Adding a task means adding one file under ``openbanana/tasks/`` that subclasses :class:`Task`
and registers it in :data:`TASKS`; training, the pipeline, the CLI and the server iterate the
registry and need no change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from openbanana.registry import Registry


class Task(ABC):
    """One vision task drawn as an RGB image.

    Subclasses set ``name`` and implement :meth:`encode`, :meth:`decode` and :meth:`instruction`.
    ``spec`` keyword arguments carry what the instruction specifies (a palette, target colours,
    a background colour, a depth colormap) and are the same for encode, decode and instruction.
    """

    #: registry key, also used in configs, checkpoints and CLI flags
    name: ClassVar[str]
    #: one-line human description
    description: ClassVar[str] = ""
    #: regular expressions (case-insensitive) whose match in an instruction suggests this task;
    #: read by :func:`openbanana.tasks.router.detect_task`
    keywords: ClassVar[tuple[str, ...]] = ()
    #: order in which the router tries tasks whose keywords match (lower first)
    priority: ClassVar[int] = 100

    @abstractmethod
    def encode(self, target: Any, **spec: Any) -> np.ndarray:
        """Draw the task's answer as an RGB image: uint8 ``(H, W, 3)`` (or ``(B, H, W, 3)``)."""

    @abstractmethod
    def decode(self, rgb: Any, **spec: Any) -> Any:
        """Read the task's answer back from an RGB image (numpy uint8 or torch tensor)."""

    @abstractmethod
    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        """An instruction asking for this task. With ``rng=None`` the fixed, canonical phrasing
        (used for evaluation and as the default at inference); with an rng, a random phrasing
        from the task's templates (used for training)."""

    def spec_from_instruction(self, text: str) -> dict[str, Any]:
        """Read this task's spec (palette, colours, background, colormap, ...) out of an
        instruction; the inverse of :meth:`instruction`. Raises InstructionError if the text
        lacks something the task needs."""
        return {}


#: task name -> Task instance
TASKS: Registry[Task] = Registry("task")


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: instantiate and register a task under ``cls.name``."""
    TASKS.register(cls.name, cls())
    return cls
