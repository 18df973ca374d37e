"""Scorers: turn (answer, ground truth) pairs into a benchmark's metrics, protocol applied.

A scorer owns the protocol of one task on one benchmark (depth range, alignment, class count,
primary metric), resizes each decoded answer to the ground truth's size (:mod:`.resize`), keeps a
small per-sample state keyed by the record index, and computes the split's metrics with
:mod:`openbanana.metrics`. States are plain numbers and arrays so that processes can write them to
disk and one process can merge them; merging sorts by index, so the result of N processes equals
the result of one exactly.

:data:`SCORERS` is the one registry of how each task is scored (its columns, primary metric and
direction, and its scorer with the synthetic world's protocol): the synthetic benchmarks, the
report, the demo and the model card read it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from openbanana import metrics as M
from openbanana.data.sources.base import Target
from openbanana.data.synthetic.classes import CLASSES
from openbanana.evaluation.resize import resize_bilinear, resize_masks, resize_nearest, resize_normals
from openbanana.metrics.alignment import ALIGNMENTS
from openbanana.metrics.normals import MIN_NORM, normal_metrics_from_errors
from openbanana.registry import Registry

if TYPE_CHECKING:
    from openbanana.evaluation.benchmarks import BenchmarkOptions


class Scorer(ABC):
    """Per-task scoring with a protocol. ``entries`` = list of ``(index, key, payload)``."""

    task: str
    #: the metric the report leads with, and whether higher is better
    primary: str
    higher_is_better: bool = True

    def __init__(self) -> None:
        self.entries: list[tuple[int, str, Any]] = []

    @abstractmethod
    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        """Score one answer; stores its state and returns per-sample metrics."""

    @abstractmethod
    def compute(self) -> dict[str, Any]:
        """The split's metrics from all entries, taken in index order."""

    def protocol(self) -> dict[str, Any]:
        """The protocol settings, written into the result file."""
        return {"task": self.task, "primary_metric": self.primary}

    def merge(self, others: list[Scorer]) -> None:
        for o in others:
            self.entries.extend(o.entries)
        self.entries.sort(key=lambda e: (e[0], e[1]))

    def __len__(self) -> int:
        return len(self.entries)


def _answer_array(answer: Any, name: str) -> np.ndarray:
    if hasattr(answer, "detach"):
        answer = answer.detach().cpu().numpy()
    if not isinstance(answer, np.ndarray):
        raise TypeError(f"{name}: expected the decoded answer as an array, got {type(answer).__name__}")
    return answer


class DepthScorer(Scorer):
    """Metric depth (Marigold definitions), mean over images.

    Args:
        min_depth_m, max_depth_m: the benchmark's valid range (gt outside is ignored; predictions clipped).
        align: ``"none"`` (metric, the paper's protocol) or ``"scale"`` / ``"scale_shift"`` (per image).
    """

    task = "depth"
    primary = "delta1"

    def __init__(
        self, min_depth_m: float | None = None, max_depth_m: float | None = None, align: str = "none"
    ):
        super().__init__()
        if align not in ALIGNMENTS:
            raise ValueError(f"depth protocol: align expected one of {ALIGNMENTS}, got {align!r}")
        self.min_depth_m, self.max_depth_m, self.align = min_depth_m, max_depth_m, align

    def protocol(self) -> dict[str, Any]:
        return {
            **super().protocol(),
            "alignment": self.align,
            "min_depth_m": self.min_depth_m,
            "max_depth_m": self.max_depth_m,
            "averaging": "per-image metrics, mean over images (Marigold)",
        }

    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        gt = np.asarray(target.gt, dtype=np.float64)
        pred = _answer_array(answer, "depth answer")
        if pred.ndim != 2:
            raise ValueError(f"depth answer: expected (H, W) metres, got shape {pred.shape}")
        pred = resize_bilinear(pred.astype(np.float32), gt.shape[:2]).astype(np.float64)
        m = M.depth(pred, gt, target.valid, self.align, self.min_depth_m, self.max_depth_m)
        self.entries.append((index, target.key, m))
        return m

    def compute(self) -> dict[str, Any]:
        ev = M.DepthEvaluator(self.align, self.min_depth_m, self.max_depth_m)
        ev.per_image = [e[2] for e in self.entries]
        return ev.compute()


class NormalsScorer(Scorer):
    """Surface normals (DSINE definitions), errors pooled over all pixels of the split."""

    task = "normals"
    primary = "mean"
    higher_is_better = False

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "averaging": "angular errors pooled over all valid pixels (DSINE)"}

    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        gt = np.asarray(target.gt, dtype=np.float64)
        pred = _answer_array(answer, "normals answer")
        if pred.ndim != 3 or pred.shape[-1] != 3:
            raise ValueError(f"normals answer: expected (H, W, 3) unit vectors, got shape {pred.shape}")
        pred = resize_normals(pred.astype(np.float32), gt.shape[:2]).astype(np.float64)
        m = M.normals(pred, gt, target.valid)
        mask = np.isfinite(gt).all(-1) & (np.linalg.norm(np.nan_to_num(gt), axis=-1) >= MIN_NORM)
        if target.valid is not None:
            mask &= target.valid
        self.entries.append((index, target.key, M.angular_error_deg(pred[mask], gt[mask]).astype(np.float32)))
        return m

    def compute(self) -> dict[str, Any]:
        err = np.concatenate([e[2] for e in self.entries]).astype(np.float64)
        out = normal_metrics_from_errors(err)
        out["n_images"] = len({e[0] for e in self.entries})
        return out


class SemanticScorer(Scorer):
    """Semantic segmentation: confusion matrix over the split, mIoU (= cityscapesscripts)."""

    task = "semantic"
    primary = "miou"

    def __init__(self, class_names: list[str], ignore_index: int = 255):
        super().__init__()
        self.class_names = list(class_names)
        self.ignore_index = ignore_index

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "classes": self.class_names, "ignore_index": self.ignore_index}

    def _evaluator(self) -> M.SemanticEvaluator:
        return M.SemanticEvaluator(len(self.class_names), self.ignore_index)

    def _palette_to_classes(self, labels: np.ndarray, palette: Any) -> np.ndarray:
        """Answers and ground truth index the palette of the instruction; the confusion matrix
        indexes ``class_names``. (Identity when the palette lists the classes in their order.)"""
        if not isinstance(palette, dict) or list(palette) == self.class_names[: len(palette)]:
            return labels
        unknown = [n for n in palette if n not in self.class_names]
        if unknown:
            raise ValueError(f"semantic: palette classes {unknown} are not among the benchmark's classes")
        lut = np.full(256, self.ignore_index, np.int64)
        lut[: len(palette)] = [self.class_names.index(n) for n in palette]
        return lut[np.clip(labels.astype(np.int64), 0, 255)]

    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        palette = target.spec.get("palette")
        gt = self._palette_to_classes(np.asarray(target.gt), palette)
        pred = _answer_array(answer, "semantic answer")
        if pred.ndim != 2:
            raise ValueError(f"semantic answer: expected an (H, W) label map, got shape {pred.shape}")
        pred = resize_nearest(self._palette_to_classes(pred, palette), gt.shape[:2])
        if target.valid is not None:
            gt = np.where(target.valid, gt, self.ignore_index)
        ev = self._evaluator()
        ev.update(pred.astype(np.int64), gt.astype(np.int64))
        self.entries.append((index, target.key, (ev.confusion, ev.missed)))
        res = ev.compute()
        return {"miou": res["miou"], "pixel_accuracy": res["pixel_accuracy"]}

    def compute(self) -> dict[str, Any]:
        ev = self._evaluator()
        for _, _, (conf, missed) in self.entries:
            ev.confusion += conf
            ev.missed += missed
        ev.n_images = len(self.entries)
        out = ev.compute()
        out["iou_per_class"] = dict(zip(self.class_names, out["iou"]))
        return out


class ReferringScorer(Scorer):
    """Referring / reasoning segmentation: one boolean mask per expression; cIoU and gIoU.

    Args:
        primary: ``"ciou"`` (RefCOCOg) or ``"giou"`` (ReasonSeg).
    """

    task = "referring"

    def __init__(self, primary: str = "ciou"):
        super().__init__()
        if primary not in ("ciou", "giou"):
            raise ValueError(f"referring protocol: primary expected 'ciou' or 'giou', got {primary!r}")
        self.primary = primary

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "empty_union": "a sample with empty prediction and gt has IoU 1"}

    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        gt = np.asarray(target.gt, dtype=bool)
        if gt.ndim == 2:
            gt = gt[None]
        pred = _answer_array(answer, "referring answer")
        if pred.ndim == 2:
            pred = pred[None]
        if pred.ndim != 3 or len(pred) != len(gt):
            raise ValueError(
                f"referring answer: expected {len(gt)} mask(s) (N, H, W), got shape {pred.shape}"
            )
        pred = resize_masks(pred.astype(bool), gt.shape[1:])
        if target.valid is not None:  # e.g. ReasonSeg "ignore" regions: out of both masks
            pred, gt = pred & target.valid, gt & target.valid
        ev = M.ReferringEvaluator()
        ious = ev.update(pred, gt)
        self.entries.append((index, target.key, (ev.intersections, ev.unions)))
        return {"iou": float(np.mean(ious))}

    def compute(self) -> dict[str, Any]:
        ev = M.ReferringEvaluator()
        for _, _, (inter, union) in self.entries:
            ev.intersections.extend(inter)
            ev.unions.extend(union)
        return ev.compute()


def match_instances(
    pred: np.ndarray, gt: np.ndarray, iou_threshold: float = 0.5
) -> tuple[int, int, list[float]]:
    """One-to-one matching of instance id maps (0 = none) by IoU (Hungarian on IoU).

    Returns ``(n_pred, n_gt, matched_ious)`` with matches at IoU >= ``iou_threshold`` only.
    """
    p_ids = [i for i in np.unique(pred) if i != 0]
    g_ids = [i for i in np.unique(gt) if i != 0]
    if not p_ids or not g_ids:
        return len(p_ids), len(g_ids), []
    p_idx = np.searchsorted(p_ids, pred)
    g_idx = np.searchsorted(g_ids, gt)
    pv, gv = pred != 0, gt != 0
    both = pv & gv
    inter = np.zeros((len(p_ids), len(g_ids)))
    np.add.at(inter, (p_idx[both], g_idx[both]), 1)
    p_area = np.bincount(p_idx[pv], minlength=len(p_ids)).astype(float)
    g_area = np.bincount(g_idx[gv], minlength=len(g_ids)).astype(float)
    iou = inter / (p_area[:, None] + g_area[None, :] - inter)
    rows, cols = linear_sum_assignment(-iou)
    matched = [float(iou[r, c]) for r, c in zip(rows, cols) if iou[r, c] >= iou_threshold]
    return len(p_ids), len(g_ids), matched


class InstanceScorer(Scorer):
    """Instance segmentation on id maps: precision / recall / F1 of one-to-one matches at IoU >= 0.5
    and the mean IoU of matched pairs (our synthetic protocol; the paper's SA-Co cgF1 needs SA-Co)."""

    task = "instance"
    primary = "f1"

    def __init__(self, iou_threshold: float = 0.5):
        super().__init__()
        self.iou_threshold = iou_threshold

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "iou_threshold": self.iou_threshold, "matching": "Hungarian on IoU"}

    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        gt = np.asarray(target.gt)
        pred = _answer_array(answer, "instance answer")
        if pred.ndim != 2 or not np.issubdtype(pred.dtype, np.integer):
            raise ValueError(
                f"instance answer: expected an integer (H, W) id map, got {pred.dtype} {pred.shape}"
            )
        pred = resize_nearest(pred, gt.shape[:2])
        if target.valid is not None:
            pred, gt = np.where(target.valid, pred, 0), np.where(target.valid, gt, 0)
        n_p, n_g, ious = match_instances(pred, gt, self.iou_threshold)
        self.entries.append((index, target.key, (n_p, n_g, ious)))
        return {"f1": _f1(n_p, n_g, len(ious))}

    def compute(self) -> dict[str, Any]:
        n_p = sum(e[2][0] for e in self.entries)
        n_g = sum(e[2][1] for e in self.entries)
        ious = [x for e in self.entries for x in e[2][2]]
        return {
            "f1": _f1(n_p, n_g, len(ious)),
            "precision": len(ious) / n_p if n_p else float("nan"),
            "recall": len(ious) / n_g if n_g else float("nan"),
            "matched_miou": float(np.mean(ious)) if ious else float("nan"),
            "n_pred": n_p,
            "n_gt": n_g,
            "n_images": len(self.entries),
        }


def _f1(n_pred: int, n_gt: int, n_match: int) -> float:
    if n_pred + n_gt == 0:
        return 1.0
    return 2.0 * n_match / (n_pred + n_gt)


# ============================================================================ the scorer registry
@dataclass(frozen=True)
class Column:
    """One metric as reports show it.

    Attributes:
        metric: the key in a scorer's :meth:`Scorer.compute` result.
        label: its short column heading (tables, plots).
        text: how a sentence names it (the demo's printed line); empty: the label.
    """

    metric: str
    label: str
    text: str = ""

    def say(self, value: float) -> str:
        """``"<text> <value>"`` with two decimals."""
        return f"{self.text or self.label} {value:.2f}"


@dataclass(frozen=True)
class Scoring:
    """How one task's answers are scored: one entry of :data:`SCORERS`.

    Attributes:
        name: the scorer group: the key of the result files' metrics (the task's name, or a
            variant such as ``"semantic-random"``, scored apart).
        task: the task whose answers it scores.
        columns: the metrics reports show, the primary metric first.
        higher_is_better: the primary metric's direction.
        synthetic: ``(benchmark options) -> Scorer`` with the synthetic world's protocol (used by
            the synthetic benchmarks, the demo and the model card through them).
    """

    name: str
    task: str
    columns: tuple[Column, ...]
    higher_is_better: bool
    synthetic: Callable[[BenchmarkOptions], Scorer]

    @property
    def primary(self) -> str:
        """The metric reports lead with."""
        return self.columns[0].metric


#: scorer group -> :class:`Scoring`
SCORERS: Registry[Scoring] = Registry("scorer")


def register_scoring(scoring: Scoring) -> Scoring:
    """Add a task's scoring to :data:`SCORERS` (a duplicate name is refused)."""
    SCORERS.register(scoring.name, scoring)
    return scoring


def scorings_of(task: str) -> list[Scoring]:
    """The scorer groups of ``task``: its own first, then its variants by name."""
    return sorted((s for _, s in SCORERS.items() if s.task == task), key=lambda s: (s.name != task, s.name))


#: the synthetic benchmark's depth range in metres (ground truth outside it is not scored)
SYNTHETIC_DEPTH_RANGE_M = (1e-3, 80.0)


def _synthetic_classes() -> list[str]:
    return list(CLASSES)


_SEMANTIC_COLUMNS = (Column("miou", "mIoU"), Column("pixel_accuracy", "pix acc"))
for _scoring in (
    Scoring("depth", "depth", (Column("delta1", "δ1", "delta1"), Column("abs_rel", "AbsRel"), Column("rmse", "RMSE m")),
            True, lambda o: DepthScorer(*SYNTHETIC_DEPTH_RANGE_M, align=o.align)),
    Scoring("normals", "normals",
            (Column("mean", "mean°", "mean angle"), Column("median", "median°"), Column("a11_25", "<11.25° %")),
            False, lambda o: NormalsScorer()),
    Scoring("semantic", "semantic", _SEMANTIC_COLUMNS, True, lambda o: SemanticScorer(_synthetic_classes())),
    Scoring("semantic-random", "semantic", _SEMANTIC_COLUMNS, True, lambda o: SemanticScorer(_synthetic_classes())),
    Scoring("instance", "instance", (Column("f1", "F1@0.5"), Column("matched_miou", "matched IoU")), True,
            lambda o: InstanceScorer()),
    Scoring("referring", "referring", (Column("ciou", "cIoU"), Column("giou", "gIoU")), True,
            lambda o: ReferringScorer("ciou")),
    Scoring("reasoning", "reasoning", (Column("giou", "gIoU"), Column("ciou", "cIoU")), True,
            lambda o: ReferringScorer("giou")),
):
    register_scoring(_scoring)
