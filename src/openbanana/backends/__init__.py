"""Generators behind one protocol (:class:`GeneratorBackend`); see :data:`BACKENDS`."""

from openbanana.backends.base import BACKENDS, Batch, GeneratorBackend
from openbanana.backends import tiny as _tiny  # noqa: F401  (registers "tiny")

__all__ = ["BACKENDS", "Batch", "GeneratorBackend"]
