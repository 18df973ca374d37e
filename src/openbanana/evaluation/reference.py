"""Published numbers the report puts beside ours, as data, each with its source.

Sources (all copied into the project's reference notes, ``shared/reference/``):

- ``VB``: "Image Generators are Generalist Vision Learners" (Vision Banana, arXiv 2604.20329),
  zero-shot, as summarised in ``vision-banana.md`` ("Benchmarks and the paper's numbers").
- ``OPEN``: the best published numbers of open systems, from ``peers.md``
  ("Best open numbers to measure against").

Fractions are written as the papers write them: depth delta1 / AbsRel and mIoU / cIoU / gIoU as
fractions in [0, 1], normal angles in degrees. ``None`` = not published.
"""

from __future__ import annotations

from dataclasses import dataclass

VB_SOURCE = "Vision Banana, arXiv 2604.20329 (shared/reference/vision-banana.md)"
OPEN_SOURCE = "best open numbers (shared/reference/peers.md)"


@dataclass(frozen=True)
class Reference:
    """One published number: ``value`` of ``metric`` on ``benchmark`` by ``system``."""

    benchmark: str
    task: str
    metric: str
    value: float
    system: str
    source: str
    note: str = ""

    @property
    def is_open(self) -> bool:
        """Open weights a user can run (the paper's model and closed-MLLM agents are not)."""
        return self.system != "Vision Banana" and "not open" not in self.note


REFERENCES: tuple[Reference, ...] = (
    # ---- segmentation (zero-shot)
    Reference("cityscapes", "semantic", "miou", 0.699, "Vision Banana", VB_SOURCE),
    Reference("cityscapes", "semantic", "miou", 0.652, "SAM 3", OPEN_SOURCE, "best rival in the paper"),
    Reference("refcocog", "referring", "ciou", 0.738, "Vision Banana", VB_SOURCE),
    Reference(
        "refcocog", "referring", "ciou", 0.734, "SAM 3 + Gemini 2.5 Pro", VB_SOURCE, "best rival, not open"
    ),
    Reference("refcocog", "referring", "ciou", 0.677, "best fully open", OPEN_SOURCE),
    Reference("reasonseg", "reasoning", "giou", 0.793, "Vision Banana", VB_SOURCE),
    Reference(
        "reasonseg", "reasoning", "giou", 0.770, "SAM 3 Agent", VB_SOURCE, "best rival, not open (MLLM agent)"
    ),
    Reference("reasonseg", "reasoning", "giou", 0.626, "best fully open", OPEN_SOURCE),
    # ---- metric depth, no alignment
    Reference("nyuv2", "depth", "delta1", 0.948, "Vision Banana", VB_SOURCE),
    Reference("nyuv2", "depth", "abs_rel", 0.081, "Vision Banana", VB_SOURCE),
    Reference("ibims1", "depth", "delta1", 0.934, "Vision Banana", VB_SOURCE),
    Reference("ibims1", "depth", "abs_rel", 0.078, "Vision Banana", VB_SOURCE),
    Reference("eth3d", "depth", "delta1", 0.935, "Vision Banana", VB_SOURCE),
    Reference("eth3d", "depth", "abs_rel", 0.103, "Vision Banana", VB_SOURCE),
    Reference("diode-indoor", "depth", "delta1", 0.917, "Vision Banana", VB_SOURCE),
    Reference("diode-indoor", "depth", "abs_rel", 0.108, "Vision Banana", VB_SOURCE),
    Reference("kitti", "depth", "delta1", 0.915, "Vision Banana", VB_SOURCE),
    Reference("kitti", "depth", "abs_rel", 0.107, "Vision Banana", VB_SOURCE),
    Reference(
        "nyuv2", "depth", "delta1", 0.963, "Depth Anything 3 (metric)", OPEN_SOURCE, "uses the focal length"
    ),
    Reference("nyuv2", "depth", "delta1", 0.965, "UniK3D", OPEN_SOURCE),
    Reference(
        "kitti", "depth", "delta1", 0.953, "Depth Anything 3 (metric)", OPEN_SOURCE, "uses the focal length"
    ),
    # ---- affine-invariant depth (least-squares scale and shift), as fractions
    Reference("nyuv2", "depth-affine", "abs_rel", 0.041, "Lotus-2", OPEN_SOURCE),
    Reference("nyuv2", "depth-affine", "delta1", 0.976, "Lotus-2", OPEN_SOURCE),
    Reference("kitti", "depth-affine", "abs_rel", 0.067, "Lotus-2", OPEN_SOURCE),
    Reference("kitti", "depth-affine", "delta1", 0.945, "Lotus-2", OPEN_SOURCE),
    Reference("nyuv2", "depth-affine", "abs_rel", 0.052, "E2E-FT", OPEN_SOURCE),
    Reference("nyuv2", "depth-affine", "delta1", 0.966, "E2E-FT", OPEN_SOURCE),
    Reference("kitti", "depth-affine", "abs_rel", 0.096, "E2E-FT", OPEN_SOURCE),
    Reference("kitti", "depth-affine", "delta1", 0.919, "E2E-FT", OPEN_SOURCE),
    # ---- normals, DSINE protocol, degrees
    Reference("dsine-nyuv2", "normals", "mean", 17.78, "Vision Banana", VB_SOURCE),
    Reference("dsine-nyuv2", "normals", "median", 8.88, "Vision Banana", VB_SOURCE),
    Reference("dsine-scannet", "normals", "mean", 15.05, "Vision Banana", VB_SOURCE),
    Reference("dsine-scannet", "normals", "median", 7.47, "Vision Banana", VB_SOURCE),
    Reference("diode-indoor", "normals", "mean", 13.82, "Vision Banana", VB_SOURCE),
    Reference("diode-indoor", "normals", "median", 11.56, "Vision Banana", VB_SOURCE),
    Reference("dsine-nyuv2", "normals", "mean", 14.7, "MoGe-2", OPEN_SOURCE),
    Reference("dsine-scannet", "normals", "mean", 12.8, "MoGe-2", OPEN_SOURCE),
    Reference("dsine-ibims1", "normals", "mean", 14.7, "MoGe-2", OPEN_SOURCE),
    Reference("dsine-scannet", "normals", "mean", 14.2, "Lotus-2", OPEN_SOURCE, "generator-based"),
    Reference("dsine-ibims1", "normals", "mean", 15.4, "Lotus-2", OPEN_SOURCE, "generator-based"),
    Reference("dsine-scannet", "normals", "mean", 14.1, "Marigold V2", OPEN_SOURCE, "generator-based"),
)

#: the paper's aggregate rows: (name, benchmarks averaged, metric, Vision Banana's value)
PAPER_AGGREGATES: tuple[tuple[str, tuple[str, ...], str, float], ...] = (
    (
        "mean delta1, NYU + ETH3D + DIODE-indoor + KITTI",
        ("nyuv2", "eth3d", "diode-indoor", "kitti"),
        "delta1",
        0.929,
    ),
)

#: the paper's normals aggregate: (name, benchmarks averaged, Vision Banana's mean angle in degrees)
PAPER_NORMAL_AGGREGATE: tuple[str, tuple[str, ...], float] = (
    "mean angle, NYUv2 + DIODE-indoor + ScanNet",
    ("dsine-nyuv2", "diode-indoor", "dsine-scannet"),
    15.55,
)


def paper_value(benchmark: str, task: str, metric: str) -> float | None:
    """Vision Banana's number, or None."""
    for r in REFERENCES:
        if (r.benchmark, r.task, r.metric, r.system) == (benchmark, task, metric, "Vision Banana"):
            return r.value
    return None


def best_open(benchmark: str, task: str, metric: str, higher_is_better: bool = True) -> Reference | None:
    """The best open system's number, or None."""
    cands = [r for r in references_for(benchmark, task, metric) if r.is_open]
    if not cands:
        return None
    return max(cands, key=lambda r: r.value if higher_is_better else -r.value)


def references_for(benchmark: str, task: str, metric: str) -> list[Reference]:
    """All published numbers for one (benchmark, task, metric), paper first."""
    out = [r for r in REFERENCES if (r.benchmark, r.task, r.metric) == (benchmark, task, metric)]
    return sorted(out, key=lambda r: r.system != "Vision Banana")
