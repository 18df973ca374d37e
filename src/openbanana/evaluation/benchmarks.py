"""The benchmark registry: which data, which protocol, where users get the data.

A :class:`Benchmark` ties a data source (``openbanana.data.sources``) to the scorers that define
its protocol. Every benchmark is registered in :data:`BENCHMARKS` under the name the CLI uses
(``openbanana eval --benchmark NAME``). Real data sets are read from
``<data-root>/<data_dir>`` in their official layout (see ``docs/evaluation.md``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openbanana.data.sources.base import DataSource
from openbanana.data.sources.cityscapes import CityscapesSource
from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource
from openbanana.data.sources.synthetic import SyntheticSource
from openbanana.errors import DataLayoutError
from openbanana.evaluation.cityscapes_official import CityscapesScorer
from openbanana.evaluation.scoring import (
    SCORERS,
    DepthScorer,
    NormalsScorer,
    ReferringScorer,
    Scorer,
    scorings_of,
)
from openbanana.registry import Registry
from openbanana.tasks import task_names


@dataclass
class BenchmarkOptions:
    """Protocol options that the command line can change.

    Attributes:
        align: depth alignment, ``"none"`` (metric, default) or ``"scale"`` / ``"scale_shift"``.
        synthetic_size: side in pixels of synthetic scenes.
        workdir: a directory the scorers may write to (official-tool inputs); None = temporary.
    """

    align: str = "none"
    synthetic_size: int = 128
    workdir: Path | None = None


@dataclass
class Benchmark:
    """One evaluation: a split of a data set and the protocol it is scored with.

    Attributes:
        name: registry key.
        split: the split's name as the data set calls it.
        scorer_groups: scorer keys this benchmark reports (``depth``, ``reasoning``, ...), or a
            function giving them when asked (derived from the registries: a task registered later
            is in it); read them as :attr:`tasks`.
        make_source: ``(root or None, options) -> DataSource``.
        make_scorers: ``(options) -> {scorer key: Scorer}``.
        data_dir: folder name under ``--data-root`` (None: needs no files, e.g. synthetic).
        get_data: where users obtain the data.
        reference: key into :mod:`openbanana.evaluation.reference` for the report.
    """

    name: str
    split: str
    description: str
    scorer_groups: tuple[str, ...] | Callable[[], tuple[str, ...]]
    make_source: Callable[[Path | None, BenchmarkOptions], DataSource]
    make_scorers: Callable[[BenchmarkOptions], dict[str, Scorer]]
    data_dir: str | None = None
    get_data: str = ""
    reference: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> tuple[str, ...]:
        """The scorer keys this benchmark reports, in report order."""
        groups = self.scorer_groups
        return tuple(groups() if callable(groups) else groups)

    def resolve_root(self, data_root: Path | str | None) -> Path | None:
        """``<data_root>/<data_dir>``, or ``data_root`` itself when its name is the data set's folder
        name (so a mistyped root never makes an adapter search an unrelated tree)."""
        if self.data_dir is None:
            return None
        if data_root is None:
            raise DataLayoutError(
                f"benchmark {self.name!r} reads files: pass --data-root DIR with DIR/{self.data_dir} "
                f"in the official layout ({self.get_data})"
            )
        root = Path(data_root)
        sub = root / self.data_dir
        if sub.is_dir():
            return sub
        if root.is_dir() and root.name == Path(self.data_dir).name:  # --data-root is the data set itself
            return root
        raise DataLayoutError(
            f"{sub}: expected benchmark {self.name!r}'s data here (or --data-root pointing at a folder named "
            f"{Path(self.data_dir).name!r}), but it does not exist; get it from {self.get_data}"
        )

    def source(self, data_root: Path | str | None, options: BenchmarkOptions | None = None) -> DataSource:
        return self.make_source(self.resolve_root(data_root), options or BenchmarkOptions())

    def scorers(self, options: BenchmarkOptions | None = None) -> dict[str, Scorer]:
        return self.make_scorers(options or BenchmarkOptions())


#: benchmark name -> Benchmark
BENCHMARKS: Registry[Benchmark] = Registry("benchmark")


def register_benchmark(b: Benchmark) -> Benchmark:
    BENCHMARKS.register(b.name, b)
    return b


# ---------------------------------------------------------------- synthetic (every task)


def _synthetic_groups() -> tuple[str, ...]:
    """Every registered task's scorer groups (:data:`~openbanana.evaluation.scoring.SCORERS`), in
    task order, each task's variants after it (``semantic``, ``semantic-random``)."""
    return tuple(s.name for task in task_names() for s in scorings_of(task))


def _rendered(name: str, split: str, description: str, groups: tuple[str, ...] | Callable[[], tuple[str, ...]],
              make_source: Callable[[int], DataSource]) -> Benchmark:
    """A benchmark drawn on the fly at ``--synthetic-size`` (``make_source(size)``), scored with each
    group's synthetic-world protocol."""

    def make_scorers(o: BenchmarkOptions) -> dict[str, Scorer]:
        return {g: SCORERS.get(g).synthetic(o) for g in (groups() if callable(groups) else groups)}

    return Benchmark(
        name=name,
        split=split,
        description=description,
        scorer_groups=groups,
        make_source=lambda root, o: make_source(o.synthetic_size),
        make_scorers=make_scorers,
        get_data="rendered on the fly; nothing to download",
    )


for _split in ("val", "shift"):
    register_benchmark(_rendered(
        f"synthetic-{_split}", _split,
        f"procedural scenes of openbanana.data.synthetic, split {_split!r} (rendered on the fly)",
        _synthetic_groups, lambda size, split=_split: SyntheticSource(split=split, size=size)))
register_benchmark(_rendered(
    "primitive-rooms", "all",
    "rooms of boxes, balls and cylinders from a second, analytic renderer (openbanana.data.primitive_rooms; "
    "drawn on the fly): depth and normals",
    ("depth", "normals"), lambda size: PrimitiveRoomsSource(size=size)))


# ---------------------------------------------------------------- real data sets (official layouts)


def _cityscapes() -> Benchmark:
    def make_source(root: Path | None, o: BenchmarkOptions) -> DataSource:
        return CityscapesSource(root, split="val")

    def make_scorers(o: BenchmarkOptions) -> dict[str, Scorer]:
        return {"semantic": CityscapesScorer(o.workdir)}

    return Benchmark(
        name="cityscapes",
        split="val",
        description="Cityscapes val (500 images, gtFine), 19 classes, one fixed prompt, scored with cityscapesscripts",
        scorer_groups=("semantic",),
        make_source=make_source,
        make_scorers=make_scorers,
        data_dir="cityscapes",
        get_data="https://www.cityscapes-dataset.com (leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip)",
        reference="cityscapes",
    )


def _depth_benchmark(
    name: str,
    source_path: str,
    min_m: float | None,
    max_m: float | None,
    description: str,
    get_data: str,
    data_dir: str | None = None,
    source_kwargs: dict[str, Any] | None = None,
) -> Benchmark:
    module, cls = source_path.rsplit(".", 1)

    def make_source(root: Path | None, o: BenchmarkOptions) -> DataSource:
        return getattr(importlib.import_module(module), cls)(root, **(source_kwargs or {}))

    def make_scorers(o: BenchmarkOptions) -> dict[str, Scorer]:
        return {"depth": DepthScorer(min_depth_m=min_m, max_depth_m=max_m, align=o.align)}

    return Benchmark(
        name=name,
        split="test",
        description=description,
        scorer_groups=("depth",),
        make_source=make_source,
        make_scorers=make_scorers,
        data_dir=data_dir or name,
        get_data=get_data,
        reference=name,
    )


register_benchmark(_cityscapes())
register_benchmark(
    _depth_benchmark(
        "nyuv2",
        "openbanana.data.sources.nyuv2.NYUv2Source",
        1e-3,
        10.0,
        "NYUv2 Eigen test split (654 images), Eigen crop, 1e-3..10 m",
        "the official nyu_depth_v2_labeled.mat (cs.nyu.edu/~silberman) extracted to the layout in docs/evaluation.md",
    )
)


def _mask_benchmark(name: str, source_path: str, task: str, metric: str, description: str, get_data: str,
                    data_dir: str, split: str = "val") -> Benchmark:
    """A referring / reasoning benchmark: masks from a source, scored with cIoU or gIoU."""
    module, cls = source_path.rsplit(".", 1)

    def make_source(root: Path | None, o: BenchmarkOptions) -> DataSource:
        return getattr(importlib.import_module(module), cls)(root, split="val")

    return Benchmark(
        name=name,
        split=split,
        description=description,
        scorer_groups=(task,),
        make_source=make_source,
        make_scorers=lambda o: {task: ReferringScorer(metric)},
        data_dir=data_dir,
        get_data=get_data,
        reference=name,
    )


register_benchmark(
    _mask_benchmark(
        "refcocog",
        "openbanana.data.sources.refcocog.RefCOCOgSource",
        "referring",
        "ciou",
        "RefCOCOg UMD val, one sample per sentence, cIoU",
        "refer toolkit data (refcocog: refs(umd).p, instances.json) + COCO train2014 images (cocodataset.org)",
        "refcoco",
        split="val (UMD)",
    )
)

register_benchmark(
    _depth_benchmark(
        "kitti",
        "openbanana.data.sources.kitti.KITTISource",
        1e-3,
        80.0,
        "KITTI Eigen test split with annotated ground truth (652 images), Garg crop, up to 80 m",
        "KITTI raw (cvlibs.net/datasets/kitti/raw_data.php) + annotated depth (KITTI depth benchmark)",
    )
)
register_benchmark(
    _depth_benchmark(
        "diode-indoor",
        "openbanana.data.sources.diode.DIODESource",
        0.6,
        350.0,
        "DIODE val, indoor scans (325 images), 0.6..350 m",
        "diode-dataset.org (val.tar.gz)",
        data_dir="diode",
    )
)
register_benchmark(
    _depth_benchmark(
        "eth3d",
        "openbanana.data.sources.eth3d.ETH3DSource",
        1e-5,
        None,
        "ETH3D high-res multi-view training DSLR images (454), single-image depth, > 1e-5 m",
        "eth3d.net (multi_view_training_dslr_undistorted.7z + multi_view_training_dslr_depth.7z)",
    )
)
register_benchmark(
    _depth_benchmark(
        "ibims1",
        "openbanana.data.sources.ibims1.IBims1Source",
        1e-3,
        10.0,
        "iBims-1 core (100 images), 1e-3..10 m",
        "iBims-1 (ibims1_core_mat.zip, www.asg.ed.tum.de/lmf/ibims1)",
    )
)


def _normals_benchmark(
    name: str,
    source_path: str,
    kwargs: dict[str, Any],
    description: str,
    get_data: str,
    data_dir: str,
    reference: str,
) -> Benchmark:
    module, cls = source_path.rsplit(".", 1)

    def make_source(root: Path | None, o: BenchmarkOptions) -> DataSource:
        return getattr(importlib.import_module(module), cls)(root, **kwargs)

    return Benchmark(
        name=name,
        split="test",
        description=description,
        scorer_groups=("normals",),
        make_source=make_source,
        make_scorers=lambda o: {"normals": NormalsScorer()},
        data_dir=data_dir,
        get_data=get_data,
        reference=reference,
    )


_DSINE_GET = "DSINE evaluation archive dsine_eval.zip (github.com/baegwangbin/DSINE)"
for _ds, _ref, _desc in (
    ("nyuv2", "dsine-nyuv2", "NYUv2 test (654) normals, DSINE protocol"),
    ("scannet", "dsine-scannet", "ScanNet (300) normals, DSINE protocol"),
    ("ibims", "dsine-ibims1", "iBims-1 (100) normals, DSINE protocol"),
):
    register_benchmark(
        _normals_benchmark(
            _ref,
            "openbanana.data.sources.dsine.DSINESource",
            {"name": _ds},
            _desc,
            _DSINE_GET,
            f"dsine_eval/{_ds}",
            _ref,
        )
    )
register_benchmark(
    _normals_benchmark(
        "diode-indoor-normals",
        "openbanana.data.sources.diode.DIODESource",
        {"task": "normals"},
        "DIODE val indoor normals (325), DSINE protocol",
        "diode-dataset.org (val.tar.gz + val_normals.tar.gz)",
        "diode",
        "diode-indoor",
    )
)


register_benchmark(
    _mask_benchmark(
        "reasonseg",
        "openbanana.data.sources.reasonseg.ReasonSegSource",
        "reasoning",
        "giou",
        "ReasonSeg val (200 images), first query per image, gIoU; optional query rewriter",
        "ReasonSeg release of the LISA project (github.com/dvlab-research/LISA)",
        "reasonseg",
    )
)
