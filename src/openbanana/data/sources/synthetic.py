"""The synthetic benchmarks: scenes of ``openbanana.data.synthetic`` rendered on the fly.

Record ``i`` of split ``val`` or ``shift`` is ``render_scene(seed=i, split=split, size=size)``
(the split's own random stream keeps it apart from training scenes). Each record asks every task:

- ``depth``: metric depth (sky = inf, not scored); ``normals``: paper-frame normals;
- ``semantic``: all classes of the synthetic world, one fixed palette (the class colours);
- ``semantic-random``: the classes in view, in a random order, each in a random colour (a
  palette no model has seen: :func:`random_palette`, seeded by the split and index);
- ``instance``: the thing class with the most instances in view (``category=`` in the prompt);
  instances under :data:`MIN_INSTANCE_PX` pixels (or 0.2% of the image) are masked out of the
  score (at 128 px, books and cups are a few pixels: no decoder can separate them);
- ``referring``: up to :data:`MAX_REFERRING` expressions, one sample each, painted red on black;
- ``reasoning``: up to :data:`MAX_REASONING` queries, one sample each.
"""

from __future__ import annotations

import numpy as np

from openbanana.data.sources.base import SOURCES, DataSource, Record, Target
from openbanana.data.synthetic import render_scene
from openbanana.data.synthetic.targets import (  # noqa: F401  (re-exported: the protocol's constants)
    BLACK,
    MAX_REASONING,
    MAX_REFERRING,
    MIN_INSTANCE_PX,
    MIN_INSTANCE_SHARE,
    RED,
    SCENE_TARGETS,
    random_palette,
    synthetic_palette,
)
from openbanana.tasks import task_names

DEFAULT_LEN = 500


class SyntheticSource(DataSource):
    """``length`` scenes of ``split`` at ``size`` pixels (square)."""

    layout = "rendered on the fly by openbanana.data.synthetic.render_scene(seed=i, split, size)"

    def __init__(self, split: str = "val", size: int = 128, length: int = DEFAULT_LEN):
        if split not in ("val", "shift"):
            raise ValueError(f"synthetic benchmark: expected split 'val' or 'shift', got {split!r}")
        self.split, self.size, self.length = split, int(size), int(length)

    def __len__(self) -> int:
        return self.length

    def record_id(self, index: int) -> str:
        return f"{self.split}-{index:05d}"

    def __getitem__(self, index: int) -> Record:
        """Record ``index``: the scene's image and every task's benchmark targets, in task order
        (:meth:`~openbanana.data.synthetic.targets.SceneTargets.benchmark`)."""
        if not 0 <= index < self.length:
            raise IndexError(f"synthetic {self.split}: index {index} out of range 0..{self.length - 1}")
        s = render_scene(index, split=self.split, size=self.size)
        targets = [
            Target(task=t.task, gt=t.answer, valid=t.valid, spec=t.spec, group=t.group, key=t.key)
            for task in task_names() if task in SCENE_TARGETS
            for t in SCENE_TARGETS.get(task).benchmark(s, index, self.split)
        ]
        return Record(id=self.record_id(index), image=np.asarray(s.rgb, np.uint8), targets=targets)


SOURCES.register("synthetic", SyntheticSource)
