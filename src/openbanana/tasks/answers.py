"""What a task's answer is: one vocabulary of answer kinds, and the result of every decode.

Every task declares its :data:`AnswerKind` (:attr:`openbanana.tasks.base.Task.answer_kind`); the
pipeline combines and resizes answers by it (:mod:`openbanana.pipeline_ops`), and files, views and
emptiness checks are chosen by it (:mod:`openbanana.io.export`, :mod:`openbanana.pipeline`).

=============  ===================================================  ================================
kind           value                                                resized and combined as
=============  ===================================================  ================================
``depth``      float32 ``(H, W)`` metres                            a continuous scalar map (median)
``normals``    float32 ``(H, W, 3)`` unit vectors, paper frame      unit vectors (renormalised mean)
``labels``     int ``(H, W)`` label ids, 255 = void                 labels (nearest, majority vote)
``instances``  int ``(H, W)`` instance ids, 0 = background          ids (nearest, medoid member)
``masks``      bool ``(N, H, W)``, one mask per target colour       masks (nearest, majority vote)
=============  ===================================================  ================================

The kind names are also the names of the exported files (``STEM.depth.npy``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

AnswerKind = Literal["depth", "normals", "labels", "instances", "masks"]
#: every answer kind, in the order of the table above
ANSWER_KINDS: tuple[AnswerKind, ...] = ("depth", "normals", "labels", "instances", "masks")


@dataclass(frozen=True)
class Answer:
    """A task's answer read back from an RGB drawing: what ``openbanana.decode`` returns for
    every task.

    Attributes:
        task: the task's registry name (``"depth"``, ``"normals"``, ...).
        kind: the task's answer kind, one of :data:`ANSWER_KINDS` (see the module table for the
            value's dtype, shape and unit).
        value: the answer, numpy or torch as the decoded drawing was, optionally batched with a
            leading ``B``: depth float32 metres ``(H, W)``; normals float32 unit vectors
            ``(H, W, 3)``; semantic int64 labels (palette order, 255 void); instance int32 ids
            (0 background); referring / reasoning bool masks ``(N, H, W)``.
        valid: bool ``(H, W)`` (or ``(B, H, W)``) where the code drew an answer, for the tasks
            whose code has an "undefined" colour (normals: black); None where every pixel decodes.
    """

    task: str
    kind: AnswerKind
    value: Any
    valid: Any = None


def guess_answer_kind(answer: Any) -> AnswerKind | None:
    """The kind an answer of an unregistered task looks like, from its dtype and shape (bool
    ``(N, H, W)`` masks, float ``(H, W)`` depth or ``(H, W, 3)`` normals, int ``(H, W)`` labels),
    or None. Registered tasks declare their kind; this is only for answers of unknown origin."""
    a = np.asarray(answer)
    if a.dtype == bool and a.ndim == 3:
        return "masks"
    if np.issubdtype(a.dtype, np.floating):
        return "depth" if a.ndim == 2 else "normals" if a.ndim == 3 and a.shape[2] == 3 else None
    if np.issubdtype(a.dtype, np.integer) and a.ndim == 2:
        return "labels"
    return None
