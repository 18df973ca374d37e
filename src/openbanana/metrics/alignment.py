"""Per-image least-squares alignment of a depth prediction to ground truth (pure numpy).

Affine-invariant depth models are scored after fitting ``gt ~ s * pred (+ t)`` over the valid
pixels of each image, in depth space (the Marigold protocol's ``least_square`` alignment).
Metric models (ours, by default) are scored with no alignment.
"""

from __future__ import annotations

import numpy as np

ALIGNMENTS = ("none", "scale", "scale_shift")


def fit_scale(pred: np.ndarray, gt: np.ndarray) -> float:
    """Least-squares ``s`` minimising ``sum (s * pred - gt)^2``.

    Args:
        pred: 1-D float array of predicted depths at valid pixels.
        gt: 1-D float array of ground-truth depths at the same pixels.

    Returns:
        The scale ``s`` (``sum(pred * gt) / sum(pred^2)``). Raises ValueError if ``pred`` is all 0.
    """
    denom = float(np.dot(pred, pred))
    if denom <= 0.0:
        raise ValueError("scale alignment: expected a prediction that is not zero everywhere, got all zeros")
    return float(np.dot(pred, gt)) / denom


def fit_scale_shift(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Least-squares ``(s, t)`` minimising ``sum (s * pred + t - gt)^2``.

    Args:
        pred: 1-D float array of predicted depths at valid pixels.
        gt: 1-D float array of ground-truth depths at the same pixels.

    Returns:
        ``(s, t)``. A constant prediction cannot determine both; it gets ``s = 0`` and
        ``t = mean(gt)`` (the minimum-norm solution's limit is not well defined, so we say it).
    """
    p_mean, g_mean = float(pred.mean()), float(gt.mean())
    p_c = pred - p_mean
    var = float(np.dot(p_c, p_c))
    if var <= 0.0:
        return 0.0, g_mean
    s = float(np.dot(p_c, gt - g_mean)) / var
    return s, g_mean - s * p_mean


def align_depth(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, mode: str) -> np.ndarray:
    """Return ``pred`` aligned to ``gt`` with the fit computed on ``valid`` pixels only.

    Args:
        pred: float prediction, any shape.
        gt: float ground truth, same shape.
        valid: bool mask, same shape, at least one True.
        mode: ``"none"``, ``"scale"`` or ``"scale_shift"``.

    Returns:
        A new float array of ``pred``'s shape (the whole image is transformed, not only valid pixels).
    """
    if mode not in ALIGNMENTS:
        raise ValueError(f"align: expected one of {ALIGNMENTS}, got {mode!r}")
    if mode == "none":
        return pred.copy()
    p, g = pred[valid], gt[valid]
    if mode == "scale":
        return pred * fit_scale(p, g)
    s, t = fit_scale_shift(p, g)
    return pred * s + t
