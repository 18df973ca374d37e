"""Route a free-text instruction to a task and its spec.

:func:`detect_task` tries the registered tasks in ``priority`` order; a task whose ``keywords``
match (outside quoted text, so that a quoted query or expression cannot mislead it) reads its
spec with ``spec_from_instruction``. Text that asks for no vision task is a text-to-image prompt
(``"t2i"``) or, with an input image and an editing verb, an edit (``"edit"``).

:func:`task_conflict` says when an instruction asks for another task than the one a caller named
(``"estimate the depth"`` with ``task="normals"``), so that a surface can refuse the pair instead
of decoding a depth drawing as normals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from openbanana.errors import InstructionError, quoted
from openbanana.tasks import TASKS
from openbanana.tasks.generation import GENERATION_TASKS  # the non-vision requests it can return

_QUOTED = re.compile(r'"[^"]*"|\u201c[^\u201d]*\u201d')
_EDIT_RE = re.compile(
    r"\b(?:edit|make|replace|remove|add|change|turn|convert|put|erase|delete|swap|transform|restyle|recolou?r)\b",
    re.IGNORECASE,
)
_GENERATE_RE = re.compile(
    r"\b(?:generate|draw|create|render|sketch|illustrate|imagine|design|produce|paint)\b"
    r"|\b(?:image|picture|photo|photograph|painting|illustration|drawing|portrait|poster)\s+of\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TaskRequest:
    """What an instruction asks for.

    Attributes:
        task: a key of :data:`openbanana.tasks.TASKS`, or ``"t2i"`` / ``"edit"``.
        spec: keyword arguments for the task's encode/decode/instruction (for ``t2i`` / ``edit``:
            ``{"prompt": text}``).
    """

    task: str
    spec: dict[str, Any] = field(default_factory=dict)


def detect_task(instruction: str, *, has_image: bool | None = None) -> TaskRequest:
    """Read the task and its spec from an instruction.

    Args:
        instruction: free text, e.g. ``"estimate the depth"``, ``"highlight the dog in red"``,
            ``"semantic segmentation: road (128, 64, 128), sky #4682B4"``.
        has_image: whether an input image comes with it. ``False``: vision tasks are impossible
            and any text is a ``t2i`` prompt. ``None``: unknown.

    Returns:
        :class:`TaskRequest`.

    Raises:
        InstructionError: the text names a task but lacks what it needs (the task's message), or it
            matches no task and cannot be a generation request.
    """
    if not isinstance(instruction, str):
        raise TypeError(f"expected the instruction as str, got {type(instruction).__name__}")
    text = instruction.strip()
    if not text:
        raise InstructionError("the instruction is empty; say what to do, e.g. 'estimate the depth'")
    if has_image is False:
        return TaskRequest("t2i", {"prompt": text})
    unquoted = _QUOTED.sub(" ", text)
    first_error: InstructionError | None = None
    for _, task in sorted(TASKS.items(), key=lambda kv: (getattr(kv[1], "priority", 100), kv[0])):
        if not any(re.search(k, unquoted, re.IGNORECASE) for k in getattr(task, "keywords", ())):
            continue
        try:
            return TaskRequest(task.name, task.spec_from_instruction(text))
        except InstructionError as err:
            first_error = first_error or err
    if _EDIT_RE.search(unquoted) and has_image:
        return TaskRequest("edit", {"prompt": text})
    if _GENERATE_RE.search(unquoted):
        return TaskRequest("edit" if has_image else "t2i", {"prompt": text})
    if _EDIT_RE.search(unquoted) and has_image is None:
        return TaskRequest("edit", {"prompt": text})
    if first_error is not None:
        raise first_error
    names = ", ".join(TASKS.names())
    raise InstructionError(
        f"could not tell which task {quoted(text)} asks for; name one of: {names} "
        "(e.g. 'estimate the depth', 'highlight the dog in red'), or ask to generate or edit an image"
    )


def task_conflict(instruction: str, task: str) -> str | None:
    """The task ``instruction`` asks for when it contradicts ``task``, else None.

    The instruction contradicts ``task`` when the router reads another task from it and the text
    has none of ``task``'s own keywords (outside quotes): ``"estimate the depth"`` contradicts
    ``normals``, while ``"highlight the answer to: what cuts bread?"`` fits both ``reasoning`` and
    ``referring``. Text that names no vision task (a palette alone, an edit, an unclear request)
    contradicts no task; ``task="edit"`` is contradicted by a vision instruction without an
    editing or drawing verb.

    Args:
        instruction: free text.
        task: a task name of :data:`openbanana.tasks.TASKS`, or ``"edit"`` / ``"t2i"``.

    Returns:
        The name of the task the instruction asks for, or None when it does not contradict ``task``.
    """
    try:
        asked = detect_task(instruction, has_image=True).task
    except InstructionError:
        return None  # the instruction alone names no task: the caller's task decides
    if asked == task or asked in GENERATION_TASKS:
        return None
    unquoted = _QUOTED.sub(" ", instruction)
    if task in GENERATION_TASKS:
        wants_image = _EDIT_RE.search(unquoted) or _GENERATE_RE.search(unquoted)
        return None if wants_image else asked
    keywords = getattr(TASKS.get(task), "keywords", ()) if task in TASKS else ()
    if any(re.search(k, unquoted, re.IGNORECASE) for k in keywords):
        return None
    return asked
