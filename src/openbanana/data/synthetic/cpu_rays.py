"""Camera rays of the compiled CPU renderer (numba, cached to disk): pixel centres, then the
anti-aliasing subsamples of edge pixels, written into one sample buffer.

The same rays, bit for bit, as ``render.pixel_dirs`` and ``render.subsample_dirs`` (the same
float64 arithmetic, rounded to float32 once), in the same sample layout: the H * W pixel centres
row-major, then the subsamples of each edge pixel (``frame.AA``) in pixel order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def centre_rays(H, W, focal, dirs):
    """Write the camera-frame directions (z = -1) through the H * W pixel centres, row-major,
    into dirs[:H * W] (float32 (>= H * W, 3)); ``focal`` in pixels."""
    gx = np.empty(W, np.float32)  # a direction's x depends on the column only, its y on the row
    for x in range(W):
        gx[x] = (x + 0.5 - W / 2) / focal
    for y in range(H):
        gy = np.float32(-(y + 0.5 - H / 2) / focal)
        for x in range(W):
            i = y * W + x
            dirs[i, 0] = gx[x]
            dirs[i, 1] = gy
            dirs[i, 2] = -1.0


@njit(cache=True, nogil=True)
def edge_subsamples(part, H, W, focal, offsets, counts, dirs, owner):
    """Subsample rays of every edge pixel (its 4-neighbourhood changes part or hit / miss, as
    ``render.edge_kinds``), after the H * W centre samples.

    Args:
        part: (>= H * W,) int part index of the centre samples, -1 = miss.
        offsets, counts: a ``frame.AAPattern``'s (3, K_max, 2) subsample offsets in pixels and
            (3,) counts per edge kind.
        dirs: float32 (>= H * W * (K_max + 1), 3); receives the subsample directions from row H * W on.
        owner: int64 (>= H * W * (K_max + 1),); receives the pixel of every sample (centres included).
    Returns:
        the number of samples, H * W + the subsamples of the edge pixels.
    """
    HW = H * W
    for i in range(HW):
        owner[i] = i
    n = HW
    for y in range(H):
        for x in range(W):
            i = y * W + x
            p = part[i]
            across_x = (x > 0 and part[i - 1] != p) or (x < W - 1 and part[i + 1] != p)
            across_y = (y > 0 and part[i - W] != p) or (y < H - 1 and part[i + W] != p)
            if not (across_x or across_y):
                continue
            kind = 2 if (across_x and across_y) else (0 if across_x else 1)
            for k in range(counts[kind]):
                dirs[n, 0] = (x + 0.5 + offsets[kind, k, 0] - W / 2) / focal
                dirs[n, 1] = -(y + 0.5 + offsets[kind, k, 1] - H / 2) / focal
                dirs[n, 2] = -1.0
                owner[n] = i
                n += 1
    return n
