"""Referring / reasoning segmentation: one or several target colours on a background <-> masks.

Encoding paints mask ``i`` with ``colors[i]`` on ``background``; later masks are painted over
earlier ones. Decoding gives each pixel the nearest of ``colors + [background]`` (Euclidean RGB,
exact, ties -> the earlier entry, background last); with ``max_distance``, pixels farther than
that from their nearest target colour count as background.
"""

from __future__ import annotations

import numpy as np

from openbanana.tasks.codecs._array import (
    Array,
    as_color,
    as_colors,
    check_array,
    check_rgb,
    describe,
    like,
    nearest_color,
    squared_distance_limit,
    to_numpy,
)


def _check_targets(colors: object, background: object) -> tuple[np.ndarray, np.ndarray]:
    c = as_colors(colors, "colors")
    bg = as_color(background, "background")
    allc = np.concatenate([c, bg[None]])
    uniq = np.unique(allc, axis=0)
    if uniq.shape[0] != allc.shape[0]:
        raise ValueError(
            f"colors/background: expected distinct colours, got colors={c.tolist()} "
            f"and background={tuple(bg.tolist())}"
        )
    return c, bg


def encode_masks(masks: Array, colors: object, background: tuple[int, int, int] = (0, 0, 0)) -> Array:
    """Paint boolean masks with target colours.

    Args:
        masks: bool (N, H, W) or batched (B, N, H, W), numpy or torch.
        colors: (N, 3) RGB, distinct from each other and from ``background``.
        background: colour of pixels in no mask.
    Returns:
        uint8 RGB (H, W, 3) or (B, H, W, 3), same kind/device.
    """
    check_array(masks, "masks")
    if str(masks.dtype) not in ("bool", "torch.bool"):
        raise TypeError(f"masks: expected a boolean array (N, H, W), got {describe(masks)}")
    if masks.ndim not in (3, 4):
        raise ValueError(f"masks: expected shape (N, H, W) or (B, N, H, W), got {describe(masks)}")
    c, bg = _check_targets(colors, background)
    m = to_numpy(masks)
    if m.shape[-3] != c.shape[0]:
        raise ValueError(f"masks: expected {c.shape[0]} masks (one per colour), got {m.shape[-3]} in {describe(masks)}")
    # index of the last mask covering each pixel, background = N
    n = c.shape[0]
    order = np.arange(1, n + 1).reshape((n, 1, 1))
    top = (m * order).max(axis=-3) if n else np.zeros(m.shape[:-3] + m.shape[-2:], np.int64)
    table = np.concatenate([bg[None], c]).astype(np.uint8)
    return like(table[top], masks)


def decode_masks(
    rgb: Array,
    colors: object,
    background: tuple[int, int, int] = (0, 0, 0),
    max_distance: float | None = None,
) -> Array:
    """Decode RGB into one boolean mask per target colour.

    Args:
        rgb: uint8 RGB (H, W, 3) or (B, H, W, 3), numpy or torch.
        colors: (N, 3) target colours.
        background: background colour.
        max_distance: optional RGB distance limit to a target colour.
    Returns:
        bool masks (N, H, W) or (B, N, H, W), same kind/device.
    """
    check_rgb(rgb)
    c, bg = _check_targets(colors, background)
    limit = squared_distance_limit(max_distance)
    idx, d2 = nearest_color(rgb, np.concatenate([c, bg[None]]))
    if limit is not None:
        idx = np.where(d2 > limit, c.shape[0], idx)
    masks = idx[..., None, :, :] == np.arange(c.shape[0]).reshape((c.shape[0], 1, 1))
    return like(masks, rgb)


__all__ = ["decode_masks", "encode_masks"]
