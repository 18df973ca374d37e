"""Semantic segmentation: label map <-> RGB with a palette (class index -> colour).

* Encoding paints class ``k`` with ``colors[k]`` and void (label 255) with ``void_color``.
* Decoding gives every pixel the class whose colour is nearest in RGB (Euclidean, exact integer
  arithmetic, ties -> the lower class index). When black is not in the palette and
  ``black_is_void`` is set, black competes as an extra "no class" colour: pixels nearer to
  black than to every palette colour decode to 255 (void). With ``max_distance``, pixels
  farther than that from every palette colour decode to 255 too.
"""

from __future__ import annotations

import numpy as np

from openbanana.tasks.codecs._array import (
    Array,
    as_color,
    as_colors,
    check_map,
    check_rgb,
    first_location,
    like,
    nearest_color,
    squared_distance_limit,
    to_numpy,
)

VOID = 255


def check_palette(colors: object, name: str = "colors") -> np.ndarray:
    """Validate a palette: 1..255 distinct RGB colours -> int32 (K, 3)."""
    c = as_colors(colors, name)
    if c.shape[0] > 255:
        raise ValueError(f"{name}: expected at most 255 classes (255 means void), got {c.shape[0]}")
    _, first, counts = np.unique(c, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = c[np.sort(first[counts > 1])[0]].tolist()
        same = np.flatnonzero((c == np.array(dup)).all(1)).tolist()
        raise ValueError(f"{name}: expected distinct colours, got {tuple(dup)} for classes {same}")
    return c


def encode_labels(
    labels: Array, colors: object, *, void_color: tuple[int, int, int] = (0, 0, 0)
) -> Array:
    """Paint a label map with a palette.

    Args:
        labels: int label map (H, W) or (B, H, W); values 0..K-1, or 255 for void.
        colors: (K, 3) palette, RGB 0..255, distinct.
        void_color: colour of void pixels (default black).
    Returns:
        uint8 RGB, shape labels.shape + (3,), same kind/device.
    Raises:
        ValueError: a label that is neither < K nor 255 (names it and its first location).
    """
    check_map(labels, "labels", kind="int")
    pal = check_palette(colors)
    void = as_color(void_color, "void_color")
    lab = to_numpy(labels).astype(np.int64)
    bad = ((lab < 0) | (lab >= pal.shape[0])) & (lab != VOID)
    if bad.any():
        loc = first_location(bad)
        raise ValueError(
            f"labels: expected class indices 0..{pal.shape[0] - 1} or {VOID} (void), got "
            f"{int(bad.sum())} out-of-range label(s), the first {int(lab[loc])} at index {loc}"
        )
    table = np.concatenate([pal, np.zeros((VOID - pal.shape[0], 3), np.int32), void[None]]).astype(np.uint8)
    return like(table[lab], labels)


def decode_labels(
    rgb: Array,
    colors: object,
    *,
    black_is_void: bool = True,
    max_distance: float | None = None,
) -> Array:
    """Decode RGB into a label map by the nearest palette colour.

    Args:
        rgb: uint8 RGB (H, W, 3) or (B, H, W, 3), numpy or torch.
        colors: (K, 3) palette.
        black_is_void: when black is not in the palette, pixels nearer to black than to every
            palette colour become 255.
        max_distance: pixels farther than this RGB distance from every palette colour become 255.
    Returns:
        int64 labels, shape rgb.shape[:-1], 0..K-1 or 255, same kind/device.
    """
    check_rgb(rgb)
    pal = check_palette(colors)
    limit = squared_distance_limit(max_distance)
    if not isinstance(black_is_void, (bool, np.bool_, int, np.integer)):  # not an array: ambiguous as a flag
        raise TypeError(f"black_is_void: expected True or False, got {type(black_is_void).__name__}")
    k = pal.shape[0]
    cand = pal
    black_extra = bool(black_is_void) and not (pal == 0).all(1).any()
    if black_extra:
        cand = np.concatenate([pal, np.zeros((1, 3), np.int32)])
    idx, d2 = nearest_color(rgb, cand)
    lab = idx.astype(np.int64)
    lab[lab >= k] = VOID
    if limit is not None:
        # pixels given a palette class have d2 = squared distance to the nearest palette colour
        lab[(lab != VOID) & (d2 > limit)] = VOID
    return like(lab, rgb)


__all__ = ["VOID", "check_palette", "decode_labels", "encode_labels"]
