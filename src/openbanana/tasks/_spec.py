"""Small helpers shared by the task files: checking spec keywords and reading colours in a spec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from openbanana.tasks.colors import RGB, parse_color


def check_spec(task: str, spec: dict[str, Any], allowed: Sequence[str]) -> None:
    """Raise TypeError naming the unknown keys when ``spec`` has keys the task does not take."""
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise TypeError(
            f"task {task!r} got unexpected spec key(s) {unknown}; it takes: {', '.join(allowed) or '(none)'}"
        )


def as_rgb(value: Any, name: str) -> RGB:
    """A colour given as text (any notation of :func:`parse_color`) or 3 ints -> ``(r, g, b)``."""
    try:
        return parse_color(value)
    except ValueError as err:
        raise type(err)(f"{name}: {err}") from None


def as_rgb_list(values: Any, name: str) -> list[RGB]:
    """A list of colours -> list of ``(r, g, b)``; one colour alone is accepted as a list of one."""
    if isinstance(values, str) or (
        isinstance(values, Sequence | np.ndarray) and len(values) == 3 and all(np.isscalar(v) for v in values)
    ):
        values = [values]
    if not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
        raise ValueError(f"{name}: expected a non-empty list of colours, got {values!r}")
    return [as_rgb(v, f"{name}[{i}]") for i, v in enumerate(values)]


def pick(rng: np.random.Generator | None, options: Sequence[str]) -> str:
    """The first option (canonical) without an rng, a random one with it."""
    return options[0] if rng is None else options[int(rng.integers(len(options)))]
