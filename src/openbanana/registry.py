"""A plain registry: a dict plus a decorator that refuses duplicates.

Every extension point of openbanana (tasks, backends, benchmarks, data sources, colormaps,
model sizes) is a :class:`Registry`. The same string key is used by the CLI, the configs, the
checkpoints and the tests, and the test-suite is parametrised over the registries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A named mapping ``key -> object`` filled by a decorator.

    Example:
        >>> COLORMAPS = Registry("colormap")
        >>> @COLORMAPS.register("gray")
        ... def gray(x): return x
        >>> COLORMAPS.get("gray") is gray
        True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name`` (directly, or as a decorator when ``obj`` is None)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} name must be a non-empty str, got {name!r}")

        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> T:
        """Remove ``name`` and return what it held (a miss lists the valid keys)."""
        item = self.get(name)
        del self._items[name]
        return item

    @contextmanager
    def registered(self, name: str, obj: T) -> Iterator[T]:
        """Register ``obj`` under ``name`` for the ``with`` block only (tests, plug-ins tried out).

        Example:
            >>> COLORMAPS = Registry("colormap")
            >>> with COLORMAPS.registered("gray", str):
            ...     "gray" in COLORMAPS
            True
            >>> "gray" in COLORMAPS
            False
        """
        self.register(name, obj)
        try:
            yield obj
        finally:
            self._items.pop(name, None)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; a miss lists the valid keys."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            valid = ", ".join(sorted(self._items)) or "(none registered)"
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of: {valid}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
