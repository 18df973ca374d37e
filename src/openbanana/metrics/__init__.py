"""Metrics, as the field computes them (pure numpy; inputs may be numpy arrays or torch tensors).

- :func:`depth` -- Marigold depth evaluation (AbsRel, SqRel, RMSE, RMSE-log, log10, SILog, delta1-3),
  optional per-image least-squares ``scale`` / ``scale_shift`` alignment (:mod:`.alignment`).
- :func:`normals` -- DSINE normal evaluation (mean / median / RMSE angle, shares under 5..30 deg).
- :class:`SemanticEvaluator` -- mIoU over a split, identical to ``cityscapesscripts``.
- :class:`ReferringEvaluator` -- cIoU and gIoU for referring / reasoning segmentation.

Split-level accumulators (:class:`DepthEvaluator`, :class:`NormalsEvaluator`) follow the same
protocols and have ``merge`` for gathering across processes.
"""

from openbanana.metrics.alignment import align_depth, fit_scale, fit_scale_shift
from openbanana.metrics.depth import DEPTH_METRICS, DepthEvaluator, depth, depth_valid_mask
from openbanana.metrics.normals import NORMAL_METRICS, NormalsEvaluator, angular_error_deg, normals
from openbanana.metrics.segmentation import ReferringEvaluator, SemanticEvaluator

__all__ = [
    "DEPTH_METRICS",
    "NORMAL_METRICS",
    "DepthEvaluator",
    "NormalsEvaluator",
    "ReferringEvaluator",
    "SemanticEvaluator",
    "align_depth",
    "angular_error_deg",
    "depth",
    "depth_valid_mask",
    "fit_scale",
    "fit_scale_shift",
    "normals",
]
