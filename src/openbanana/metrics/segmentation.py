"""Segmentation metrics: semantic mIoU over a split, referring cIoU / gIoU.

Semantic: one confusion matrix summed over every image of the split, per-class IoU =
TP / (TP + FP + FN) with pixels whose ground truth is ``ignore_index`` left out entirely, mIoU =
mean over classes with a defined IoU. This is exactly what ``cityscapesscripts``
(``evalPixelLevelSemanticLabeling``) computes; a prediction of ``ignore_index`` (no class) at a
labelled pixel counts as a false negative of the true class, as a void label id does there.

Referring: cIoU = sum of intersections / sum of unions over all samples; gIoU = mean of per-sample
IoU. A sample whose prediction and ground truth are both empty (union 0) has IoU 1 by our
convention (nothing to find, nothing found); it adds 0 to both cIoU sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openbanana.metrics._arrays import as_labels, as_mask, to_numpy


class SemanticEvaluator:
    """Accumulates a ``num_classes x num_classes`` confusion matrix (rows = truth, cols = prediction).

    Args:
        num_classes: number of evaluated classes; labels are ``0 .. num_classes - 1``.
        ignore_index: ground-truth label that is not scored; in predictions it means "no class".

    Example:
        >>> ev = SemanticEvaluator(19)
        >>> ev.update(pred_labels, gt_labels)   # int (H, W) each, once per image
        >>> ev.compute()["miou"]
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"SemanticEvaluator: expected num_classes >= 1, got {num_classes!r}")
        if 0 <= ignore_index < num_classes:
            raise ValueError(
                f"SemanticEvaluator: expected ignore_index outside 0..{num_classes - 1}, got {ignore_index}"
            )
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.missed = np.zeros(num_classes, dtype=np.int64)  # labelled pixels predicted "no class"
        self.n_images = 0

    def _check(self, a: np.ndarray, name: str) -> None:
        bad = (a != self.ignore_index) & ((a < 0) | (a >= self.num_classes))
        if bad.any():
            vals = np.unique(a[bad])[:5].tolist()
            raise ValueError(
                f"{name}: expected labels in 0..{self.num_classes - 1} or {self.ignore_index}, got {vals}"
            )

    def update(self, pred: Any, gt: Any) -> None:
        """Add one image. pred, gt: integer label maps of the same shape (numpy or torch)."""
        p = as_labels(pred, "pred")
        g = as_labels(gt, "gt")
        if p.shape != g.shape:
            raise ValueError(
                f"SemanticEvaluator: expected pred and gt of the same shape, got {p.shape} and {g.shape}"
            )
        self._check(p, "pred")
        self._check(g, "gt")
        scored = g != self.ignore_index
        gs, ps = g[scored], p[scored]
        none = ps == self.ignore_index
        k = self.num_classes
        self.confusion += np.bincount(gs[~none] * k + ps[~none], minlength=k * k).reshape(k, k)
        self.missed += np.bincount(gs[none], minlength=k)
        self.n_images += 1

    def merge(self, other: SemanticEvaluator) -> None:
        """Add another evaluator's counts (gathering across processes)."""
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise ValueError("SemanticEvaluator.merge: expected the same num_classes and ignore_index")
        self.confusion += other.confusion
        self.missed += other.missed
        self.n_images += other.n_images

    def compute(self) -> dict[str, Any]:
        """Returns ``{"miou", "iou", "pixel_accuracy", "confusion", "n_images"}``.

        ``iou`` is a per-class list with NaN where a class is absent from both truth and
        prediction; ``miou`` averages the others (NaN if none). ``pixel_accuracy`` = correct /
        labelled pixels. ``confusion`` is the summed matrix as nested lists (rows = truth).
        """
        c = self.confusion.astype(np.float64)
        tp = np.diag(c)
        fn = c.sum(1) - tp + self.missed
        fp = c.sum(0) - tp
        denom = tp + fp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(denom > 0, tp / denom, np.nan)
        labelled = c.sum() + self.missed.sum()
        present = ~np.isnan(iou)
        return {
            "miou": float(iou[present].mean()) if present.any() else float("nan"),
            "iou": [float(x) for x in iou],
            "pixel_accuracy": float(tp.sum() / labelled) if labelled > 0 else float("nan"),
            "confusion": self.confusion.tolist(),
            "n_images": self.n_images,
        }


class ReferringEvaluator:
    """Accumulates per-sample intersections and unions of boolean masks.

    ``update`` takes one sample ``(H, W)`` or several ``(N, H, W)`` (one per referring expression).
    """

    def __init__(self) -> None:
        self.intersections: list[int] = []
        self.unions: list[int] = []

    def update(self, pred_mask: Any, gt_mask: Any) -> list[float]:
        """Add sample(s); returns their IoUs (1.0 where the union is empty)."""
        g = to_numpy(gt_mask, "gt_mask")
        if g.ndim not in (2, 3):
            raise ValueError(f"ReferringEvaluator: expected masks (H, W) or (N, H, W), got shape {g.shape}")
        g = as_mask(g, "gt_mask", g.shape)
        p = as_mask(pred_mask, "pred_mask", g.shape)
        if g.ndim == 2:
            g, p = g[None], p[None]
        inter = np.logical_and(p, g).reshape(len(g), -1).sum(1)
        union = np.logical_or(p, g).reshape(len(g), -1).sum(1)
        self.intersections.extend(int(x) for x in inter)
        self.unions.extend(int(x) for x in union)
        return [float(i / u) if u > 0 else 1.0 for i, u in zip(inter, union)]

    def merge(self, other: ReferringEvaluator) -> None:
        self.intersections.extend(other.intersections)
        self.unions.extend(other.unions)

    def compute(self) -> dict[str, float]:
        """Returns ``{"ciou", "giou", "n"}`` (cIoU is 1.0 if every union was empty)."""
        n = len(self.unions)
        if n == 0:
            raise ValueError("ReferringEvaluator: expected at least one update() before compute(), got none")
        inter = np.asarray(self.intersections, dtype=np.float64)
        union = np.asarray(self.unions, dtype=np.float64)
        per = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        total_u = union.sum()
        return {
            "ciou": float(inter.sum() / total_u) if total_u > 0 else 1.0,
            "giou": float(per.mean()),
            "n": n,
        }
