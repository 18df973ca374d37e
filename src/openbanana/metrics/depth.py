"""Depth metrics with the Marigold depth evaluation definitions.

The definitions follow the Marigold evaluation code (Ke et al., CVPR 2024, ``metric.py``), which
the field uses for both metric and affine-invariant depth:

- ``abs_rel``  = mean(|d - d*| / d*)
- ``sq_rel``   = mean((d - d*)^2 / d*)
- ``rmse``     = sqrt(mean((d - d*)^2))                       [metres]
- ``rmse_log`` = sqrt(mean((ln d - ln d*)^2))
- ``log10``    = mean(|log10 d - log10 d*|)
- ``silog``    = 100 * sqrt(mean(g^2) - mean(g)^2), g = ln d - ln d*
- ``delta_k``  = share of pixels with max(d / d*, d* / d) < 1.25^k, k = 1, 2, 3   [fraction 0..1]

Means are over the valid pixels of ONE image; a benchmark averages the per-image values
(as Marigold does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openbanana.metrics._arrays import as_float, as_mask
from openbanana.metrics.alignment import ALIGNMENTS, align_depth

#: predictions are clipped below at this depth (metres) so that logarithms stay finite (Marigold's rule)
MIN_PRED_DEPTH_M = 1e-6

DEPTH_METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "delta1", "delta2", "delta3")


def depth_valid_mask(
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    min_depth_m: float | None = None,
    max_depth_m: float | None = None,
) -> np.ndarray:
    """The pixels a depth metric is computed on: gt finite, gt > 0, min < gt < max, and ``valid``.

    The range test is strict on both ends, as in Marigold's ``get_valid_mask``.
    """
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(gt) & (gt > 0)
        if min_depth_m is not None:
            mask &= gt > min_depth_m
        if max_depth_m is not None:
            mask &= gt < max_depth_m
    if valid is not None:
        mask &= valid
    return mask


def depth(
    pred: Any,
    gt: Any,
    valid: Any = None,
    align: str = "none",
    min_depth_m: float | None = None,
    max_depth_m: float | None = None,
) -> dict[str, float]:
    """Depth metrics of one image (Marigold evaluation definitions, see the module docstring).

    Args:
        pred: predicted depth in metres, float, numpy or torch. NaN at a valid pixel is an error;
            ``+inf`` is allowed only when ``max_depth_m`` is given (it is then clipped).
        gt: ground-truth depth in metres, same shape. Non-finite or <= 0 pixels are invalid.
        valid: optional bool mask (same shape) of pixels with ground truth.
        align: ``"none"`` (metric depth, the paper's protocol), ``"scale"`` or ``"scale_shift"``
            (per-image least squares in depth space over the valid pixels, Marigold's protocol).
        min_depth_m, max_depth_m: the benchmark's depth range. Ground truth outside
            ``(min_depth_m, max_depth_m)`` is invalid.

    Clipping rule: ``+inf`` predictions become ``max_depth_m`` first; after alignment the prediction is clipped to ``[min_depth_m, max_depth_m]``
    (each end only when given), then below at ``1e-6`` m, over the whole image.

    Returns:
        ``{"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "delta1", "delta2",
        "delta3", "n_pixels"}``; deltas are fractions in [0, 1], rmse in metres, silog x100.

    Shape:
        pred, gt, valid: ``(H, W)`` (any identical shape is accepted).

    Raises:
        TypeError: non-float depth, non-bool mask, or neither numpy nor torch.
        ValueError: shape mismatch, unknown ``align``, NaN prediction, or no valid pixel.
    """
    p = as_float(pred, "pred")
    g = as_float(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"depth: expected pred and gt of the same shape, got {p.shape} and {g.shape}")
    if align not in ALIGNMENTS:
        raise ValueError(f"depth: align expected one of {ALIGNMENTS}, got {align!r}")
    if min_depth_m is not None and max_depth_m is not None and not min_depth_m < max_depth_m:
        raise ValueError(f"depth: expected min_depth_m < max_depth_m, got {min_depth_m} and {max_depth_m}")
    v = None if valid is None else as_mask(valid, "valid", g.shape)
    mask = depth_valid_mask(g, v, min_depth_m, max_depth_m)
    n = int(mask.sum())
    if n == 0:
        raise ValueError(
            "depth: expected at least one valid pixel (gt finite, > 0, inside the depth range and valid), got none"
        )
    if np.isnan(p[mask]).any():
        raise ValueError(
            f"depth: expected a prediction without NaN at valid pixels, got {int(np.isnan(p[mask]).sum())} NaN"
        )
    if np.isneginf(p[mask]).any() or (max_depth_m is None and np.isinf(p[mask]).any()):
        raise ValueError(
            "depth: prediction has inf at valid pixels; only +inf with max_depth_m given is clipped"
        )
    if max_depth_m is not None:
        p = np.where(np.isposinf(p), max_depth_m, p)

    p = align_depth(p, g, mask, align)
    lo = MIN_PRED_DEPTH_M if min_depth_m is None else max(min_depth_m, MIN_PRED_DEPTH_M)
    p = np.clip(p, lo, max_depth_m)
    return depth_from_pixels(p[mask], g[mask])


def depth_from_pixels(d: np.ndarray, d_gt: np.ndarray) -> dict[str, float]:
    """The metric formulas on 1-D arrays of positive predicted and true depths (no checks)."""
    diff = d - d_gt
    log_diff = np.log(d) - np.log(d_gt)
    ratio = np.maximum(d / d_gt, d_gt / d)
    silog_sq = max(float(np.mean(log_diff**2) - np.mean(log_diff) ** 2), 0.0)
    return {
        "abs_rel": float(np.mean(np.abs(diff) / d_gt)),
        "sq_rel": float(np.mean(diff**2 / d_gt)),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "rmse_log": float(np.sqrt(np.mean(log_diff**2))),
        "log10": float(np.mean(np.abs(np.log10(d) - np.log10(d_gt)))),
        "silog": 100.0 * float(np.sqrt(silog_sq)),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
        "n_pixels": int(d.size),
    }


class DepthEvaluator:
    """Averages per-image depth metrics over a split (Marigold averages images, not pixels).

    Args:
        align, min_depth_m, max_depth_m: as in :func:`depth`, fixed for the whole split.
    """

    def __init__(
        self, align: str = "none", min_depth_m: float | None = None, max_depth_m: float | None = None
    ):
        if align not in ALIGNMENTS:
            raise ValueError(f"DepthEvaluator: align expected one of {ALIGNMENTS}, got {align!r}")
        self.align, self.min_depth_m, self.max_depth_m = align, min_depth_m, max_depth_m
        self.per_image: list[dict[str, float]] = []

    def update(self, pred: Any, gt: Any, valid: Any = None) -> dict[str, float]:
        """Add one image; returns its metrics."""
        m = depth(pred, gt, valid, self.align, self.min_depth_m, self.max_depth_m)
        self.per_image.append(m)
        return m

    def merge(self, other: DepthEvaluator) -> None:
        self.per_image.extend(other.per_image)

    def compute(self) -> dict[str, float]:
        """Mean of each metric over images, plus ``n_images`` and total ``n_pixels``."""
        if not self.per_image:
            raise ValueError("DepthEvaluator: expected at least one update() before compute(), got none")
        out = {k: float(np.mean([m[k] for m in self.per_image])) for k in DEPTH_METRICS}
        out["n_images"] = len(self.per_image)
        out["n_pixels"] = int(sum(m["n_pixels"] for m in self.per_image))
        return out
