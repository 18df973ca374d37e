"""Bring a decoded answer to the ground truth's size (pure; numpy in, numpy out).

Predictions are decoded at generation resolution and resized to the ground truth: nearest
neighbour for labels, instance ids and masks; bilinear (half-pixel centres) for depth and normals,
normals renormalised afterwards. Non-finite depth is never interpolated into its neighbours: the
resize is done on finite values and a pixel whose nearest source pixel was non-finite keeps it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def nearest_indices(src: int, dst: int) -> np.ndarray:
    """Source index of each destination pixel centre (half-pixel convention)."""
    return np.minimum(((np.arange(dst) + 0.5) * src / dst).astype(np.int64), src - 1)


def resize_nearest(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the first two axes ``(H, W, ...)`` (or the last two of ``(N, H, W)``
    when ``a.ndim == 3`` and ``a.shape[0]`` is a stack: use :func:`resize_masks`)."""
    h, w = size
    if a.shape[:2] == (h, w):
        return a
    return a[nearest_indices(a.shape[0], h)][:, nearest_indices(a.shape[1], w)]


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest resize of a stack ``(N, H, W)``."""
    if masks.shape[1:] == tuple(size):
        return masks
    h, w = size
    return masks[:, nearest_indices(masks.shape[1], h)][:, :, nearest_indices(masks.shape[2], w)]


def resize_bilinear(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``(H, W)`` or ``(H, W, C)`` float arrays; non-finite values stay nearest."""
    if a.shape[:2] == tuple(size):
        return a
    x = np.asarray(a, dtype=np.float32)
    finite = np.isfinite(x)
    t = torch.from_numpy(np.where(finite, x, 0.0).astype(np.float32))
    t = t[None, None] if x.ndim == 2 else t.permute(2, 0, 1)[None]
    out = F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0]
    out = out[0].numpy() if x.ndim == 2 else out.permute(1, 2, 0).numpy()
    if not finite.all():
        near_x = resize_nearest(x, size)
        near_finite = np.isfinite(near_x)
        out = np.where(near_finite, out, near_x)
    return out


def resize_normals(n: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of unit normals ``(H, W, 3)`` followed by renormalisation (zero stays zero)."""
    out = resize_bilinear(n, size)
    if out is n:
        return n
    norm = np.linalg.norm(out, axis=-1, keepdims=True)
    return np.where(norm > 1e-6, out / np.maximum(norm, 1e-12), 0.0).astype(np.float32)
