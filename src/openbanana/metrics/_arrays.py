"""Input checking shared by the metric functions: numpy or torch in, float64/bool numpy out.

Metrics run on numpy in float64 so that a split's sums are exact enough to compare against
reference implementations (cityscapesscripts, hand computations) to 1e-6.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Turn a numpy array or a torch tensor (any device) into a numpy array, else TypeError."""
    if isinstance(x, np.ndarray):
        return x
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")


def as_float(x: Any, name: str) -> np.ndarray:
    """Floating array as float64; integer or bool arrays are refused (units would be ambiguous)."""
    a = to_numpy(x, name)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name}: expected a floating-point array, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def as_mask(x: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask of ``shape``; integer arrays must hold only 0 and 1."""
    a = to_numpy(x, name)
    if a.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {a.shape}")
    if a.dtype == bool:
        return a
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ValueError(f"{name}: expected a 0/1 mask, got values in [{a.min()}, {a.max()}]")
        return a.astype(bool)
    raise TypeError(f"{name}: expected a bool (or 0/1 integer) mask, got dtype {a.dtype}")


def as_labels(x: Any, name: str) -> np.ndarray:
    """Integer label map as int64; floats and bools are refused."""
    a = to_numpy(x, name)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name}: expected an integer label map, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)
