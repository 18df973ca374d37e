"""Generators behind one protocol (:class:`GeneratorBackend`); see :data:`BACKENDS`."""

from openbanana.backends.base import BACKENDS, Batch, GeneratorBackend

__all__ = ["BACKENDS", "Batch", "GeneratorBackend"]
