"""Generators behind one protocol (:class:`GeneratorBackend`); see :data:`BACKENDS`."""

from openbanana.backends import flux2_klein as _flux2_klein  # noqa: F401  (registers "flux2-klein"; diffusers loads lazily)
from openbanana.backends import jit as _jit  # noqa: F401  (registers "jit")
from openbanana.backends import task_head as _task_head  # noqa: F401  (registers "task-head")
from openbanana.backends import tiny as _tiny  # noqa: F401  (registers "tiny")
from openbanana.backends.base import BACKENDS, Batch, GeneratorBackend

__all__ = ["BACKENDS", "Batch", "GeneratorBackend"]
