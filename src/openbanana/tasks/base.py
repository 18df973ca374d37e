"""What a task is: an instruction, an invertible RGB colour code and a metric.

Adding a task means adding one file under ``openbanana/tasks/`` that subclasses :class:`Task`
and registers it in :data:`TASKS`. A task declares what the rest of the code asks of it (its
answer kind, whether its answer is dense, its place in task lists); every list of task names
(:func:`task_names`) is derived from the registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from openbanana.registry import Registry
from openbanana.tasks.answers import ANSWER_KINDS, Answer, AnswerKind


class Task(ABC):
    """One vision task drawn as an RGB image.

    Subclasses set ``name``, ``answer_kind`` and ``order`` and implement :meth:`encode`,
    :meth:`decode` and :meth:`instruction`.
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
    #: what :meth:`decode` returns (:mod:`openbanana.tasks.answers`): decides how the pipeline
    #: combines and resizes the answer and how it is exported and shown
    answer_kind: ClassVar[AnswerKind]
    #: a dense per-pixel answer, sampled in the deterministic one-step mode by default
    #: (:data:`openbanana.pipeline_config.DENSE_TASKS`)
    dense: ClassVar[bool] = True
    #: place in every list of task names (configs, the training mixture, sheets); lower first
    order: ClassVar[int] = 100
    #: the task has no canonical instruction: a request must name its targets (referring, reasoning)
    needs_instruction: ClassVar[bool] = False
    #: for such a task, what the user's instruction must do, with an example (usage errors)
    instruction_hint: ClassVar[str] = "saying what to do"
    #: the left-right mirror of an input asks the same question, and :meth:`unmirror` turns its
    #: answer into the input's own (the pipeline's ``mirror`` option). Not so where an answer's
    #: colours follow positions (instances) or an instruction may say "left" (referring)
    mirrorable: ClassVar[bool] = False

    @abstractmethod
    def encode(self, target: Any, **spec: Any) -> np.ndarray:
        """Draw the task's answer as an RGB image: uint8 ``(H, W, 3)`` (or ``(B, H, W, 3)``)."""

    @abstractmethod
    def decode(self, rgb: Any, **spec: Any) -> Answer:
        """Read the task's answer back from an RGB image (numpy uint8 or torch tensor) as an
        :class:`~openbanana.tasks.answers.Answer` of this task's :attr:`answer_kind`."""

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

    def spec_complete(self, spec: dict[str, Any]) -> bool:
        """Whether an explicit ``spec`` already says everything an instruction would (then a free
        instruction is not parsed for more)."""
        return bool(spec)

    def class_names(self, spec: dict[str, Any]) -> list[str] | None:
        """The class names an answer's labels stand for under ``spec`` (label ``i`` is class
        ``i``), or None where the answer has no classes."""
        return None

    def encodable(self, target: Any) -> np.ndarray:
        """Ground truth made drawable: pixels without ground truth get a neutral value the code
        can draw (they are never scored). The oracle of :mod:`openbanana.evaluation` draws this."""
        return np.asarray(target)

    def answer_loss(self, pred: Any, target: Any, **spec: Any) -> tuple[Any, Any] | None:
        """A differentiable per-pixel error in the answer's own units, for training (None: the
        task has none under ``spec``; then only the image's squared error trains it).

        Args:
            pred: predicted answer images, float torch ``[N, 3, H, W]`` in [-1, 1], with gradients.
            target: their target images, the same shape (exact colours of the code).
        Returns:
            ``(loss, valid)``: ``[N, H, W]`` float and ``[N, H, W]`` bool (pixels the loss counts).
        """
        return None

    def unmirror(self, rgb: np.ndarray, **spec: Any) -> np.ndarray:
        """The answer image drawn for the left-right mirror of an input, as the input's own answer:
        uint8 ``(H, W, 3)`` in, the same out (mirrored back; a task whose code holds directions
        also turns them). Only for :attr:`mirrorable` tasks."""
        if not self.mirrorable:
            raise ValueError(f"task {self.name!r} is not mirrorable: a mirrored input does not ask the same question")
        return np.ascontiguousarray(np.asarray(rgb)[:, ::-1])

    def answer(self, value: Any, valid: Any = None) -> Answer:
        """A decoded ``value`` (and where it is ``valid``) as this task's :class:`Answer`."""
        return Answer(task=self.name, kind=self.answer_kind, value=value, valid=valid)


#: task name -> Task instance
TASKS: Registry[Task] = Registry("task")


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: instantiate and register a task under ``cls.name``; refuses a task that
    does not declare its :attr:`Task.answer_kind`."""
    kind = getattr(cls, "answer_kind", None)
    if kind not in ANSWER_KINDS:
        raise TypeError(f"task {cls.name!r}: answer_kind must be one of {ANSWER_KINDS}, got {kind!r}")
    TASKS.register(cls.name, cls())
    return cls


def task_names(*, dense: bool | None = None) -> tuple[str, ...]:
    """The registered tasks' names in their declared :attr:`Task.order` (then by name); with
    ``dense`` only the tasks whose :attr:`Task.dense` is that."""
    tasks = sorted(TASKS.items(), key=lambda kv: (kv[1].order, kv[0]))
    return tuple(name for name, task in tasks if dense is None or task.dense == dense)
