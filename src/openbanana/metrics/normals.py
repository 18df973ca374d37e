"""Surface-normal metrics with the DSINE evaluation definitions.

Following the DSINE evaluation (Bae & Davison, CVPR 2024, ``compute_normal_error`` and
``compute_normal_metrics``): the per-pixel error is the angle between the predicted and true unit
normals, ``e = degrees(arccos(clip(<n, n*>, -1, 1)))``, over the valid ground-truth pixels, and

- ``mean``, ``median``, ``rmse`` = sqrt(mean(e^2))         [degrees]
- ``a5``, ``a7_5``, ``a11_25``, ``a22_5``, ``a30`` = share of pixels with e < t   [PERCENT, 0..100]

Both inputs are renormalised to unit length first, so the frame must match (ours: +x right,
+y up, +z toward the viewer) but the length need not. The angle does not depend on the frame as
long as both inputs use the same one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openbanana.metrics._arrays import as_float, as_mask

#: vectors shorter than this are "no normal" (zero GT is DSINE's invalid marker)
MIN_NORM = 1e-6
#: a zero-length prediction at a valid pixel scores this error (it says nothing about the direction)
ZERO_PRED_ERROR_DEG = 90.0
NORMAL_THRESHOLDS_DEG = {"a5": 5.0, "a7_5": 7.5, "a11_25": 11.25, "a22_5": 22.5, "a30": 30.0}
NORMAL_METRICS = ("mean", "median", "rmse", *NORMAL_THRESHOLDS_DEG)


def angular_error_deg(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Angle in degrees between two arrays of vectors ``(..., 3)`` (renormalised; pure)."""
    pn = np.linalg.norm(pred, axis=-1)
    gn = np.linalg.norm(gt, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(pred * gt, axis=-1) / (pn * gn)
    err = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return np.where(pn < MIN_NORM, ZERO_PRED_ERROR_DEG, err)


def normals(pred: Any, gt: Any, valid: Any = None) -> dict[str, float]:
    """Normal metrics of one image (DSINE evaluation definitions, see the module docstring).

    Args:
        pred: predicted normals, float, numpy or torch, same frame as ``gt``. NaN at a valid pixel
            is an error; a zero vector scores 90 degrees.
        gt: true normals. Pixels with a non-finite or near-zero (< 1e-6) vector are invalid.
        valid: optional bool mask ``(H, W)``.

    Returns:
        ``{"mean", "median", "rmse"}`` in degrees and ``{"a5", "a7_5", "a11_25", "a22_5", "a30"}``
        in percent of valid pixels, plus ``"n_pixels"``.

    Shape:
        pred, gt: ``(H, W, 3)``; valid: ``(H, W)``.

    Raises:
        TypeError: non-float input or non-bool mask. ValueError: wrong shapes, NaN prediction,
        or no valid pixel.
    """
    p = as_float(pred, "pred")
    g = as_float(gt, "gt")
    if g.ndim < 1 or g.shape[-1] != 3:
        raise ValueError(f"normals: expected gt of shape (H, W, 3), got {g.shape}")
    if p.shape != g.shape:
        raise ValueError(f"normals: expected pred and gt of the same shape, got {p.shape} and {g.shape}")
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(g).all(-1) & (np.linalg.norm(np.nan_to_num(g), axis=-1) >= MIN_NORM)
    if valid is not None:
        mask &= as_mask(valid, "valid", g.shape[:-1])
    n = int(mask.sum())
    if n == 0:
        raise ValueError(
            "normals: expected at least one valid pixel (finite, non-zero gt and valid), got none"
        )
    if not np.isfinite(p[mask]).all():
        raise ValueError("normals: expected a finite prediction at valid pixels, got NaN or inf")
    return normal_metrics_from_errors(angular_error_deg(p[mask], g[mask]))


def normal_metrics_from_errors(err_deg: np.ndarray) -> dict[str, float]:
    """DSINE's summary of a 1-D array of angular errors in degrees."""
    out = {
        "mean": float(np.mean(err_deg)),
        "median": float(np.median(err_deg)),
        "rmse": float(np.sqrt(np.mean(err_deg**2))),
    }
    for key, t in NORMAL_THRESHOLDS_DEG.items():
        out[key] = 100.0 * float(np.mean(err_deg < t))
    out["n_pixels"] = int(err_deg.size)
    return out


class NormalsEvaluator:
    """Pools per-pixel angular errors over a whole split, as DSINE does, then summarises once.

    DSINE concatenates the errors of every valid pixel of every image before taking the mean,
    median and shares, so large images weigh more; this class does the same.
    """

    def __init__(self) -> None:
        self._errors: list[np.ndarray] = []
        self.n_images = 0

    def update(self, pred: Any, gt: Any, valid: Any = None) -> dict[str, float]:
        """Add one image; returns that image's own metrics."""
        p = as_float(pred, "pred")
        g = as_float(gt, "gt")
        per_image = normals(p, g, valid)  # validates everything
        mask = np.isfinite(g).all(-1) & (np.linalg.norm(np.nan_to_num(g), axis=-1) >= MIN_NORM)
        if valid is not None:
            mask &= as_mask(valid, "valid", g.shape[:-1])
        self._errors.append(angular_error_deg(p[mask], g[mask]).astype(np.float32))
        self.n_images += 1
        return per_image

    def errors(self) -> np.ndarray:
        """All pooled errors in degrees, float32 1-D (in update order)."""
        return np.concatenate(self._errors) if self._errors else np.zeros(0, np.float32)

    def merge(self, other: NormalsEvaluator) -> None:
        """Append another evaluator's pixels (used to gather results across processes)."""
        self._errors.extend(other._errors)
        self.n_images += other.n_images

    def compute(self) -> dict[str, float]:
        if not self._errors:
            raise ValueError("NormalsEvaluator: expected at least one update() before compute(), got none")
        out = normal_metrics_from_errors(self.errors().astype(np.float64))
        out["n_images"] = self.n_images
        return out
