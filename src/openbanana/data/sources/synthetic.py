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

DEFAULT_LEN = 500
MAX_REFERRING = 2
MAX_REASONING = 1
#: instances smaller than this (pixels, or share of the image) are not scored (neither found nor missed)
MIN_INSTANCE_PX = 64
MIN_INSTANCE_SHARE = 0.002
RED = (255, 0, 0)
BLACK = (0, 0, 0)


def synthetic_palette() -> dict[str, tuple[int, int, int]]:
    """Class name -> colour for every synthetic class (the fixed semantic prompt)."""
    from openbanana.data.synthetic import CLASS_COLORS, CLASSES

    return {name: tuple(int(v) for v in CLASS_COLORS[i]) for i, name in enumerate(CLASSES)}


def random_palette(classes: list[str], rng: np.random.Generator) -> dict[str, tuple[int, int, int]]:
    """``classes`` in a random order, each a random colour well apart from the others and from
    black, which means void (the training mixture's random palettes, drawn afresh)."""
    from openbanana.data.mixture import random_colors

    order = [classes[i] for i in rng.permutation(len(classes))]
    return dict(zip(order, random_colors(rng, len(order)), strict=True))


class SyntheticSource(DataSource):
    """``length`` scenes of ``split`` at ``size`` pixels (square)."""

    layout = "rendered on the fly by openbanana.data.synthetic.render_scene(seed=i, split, size)"

    def __init__(self, split: str = "val", size: int = 128, length: int = DEFAULT_LEN):
        if split not in ("val", "shift"):
            raise ValueError(f"synthetic benchmark: expected split 'val' or 'shift', got {split!r}")
        self.split, self.size, self.length = split, int(size), int(length)
        self._palette = synthetic_palette()

    def __len__(self) -> int:
        return self.length

    def record_id(self, index: int) -> str:
        return f"{self.split}-{index:05d}"

    def __getitem__(self, index: int) -> Record:
        from openbanana.data.synthetic import THING_CLASSES, render_scene

        if not 0 <= index < self.length:
            raise IndexError(f"synthetic {self.split}: index {index} out of range 0..{self.length - 1}")
        s = render_scene(index, split=self.split, size=self.size)
        targets = [
            Target(task="depth", gt=np.asarray(s.depth_m, np.float32)),
            Target(task="normals", gt=np.asarray(s.normals, np.float32)),
            Target(task="semantic", gt=np.asarray(s.semantic), spec={"palette": dict(self._palette)}),
        ]
        present = [n for i, n in enumerate(self._palette) if (s.semantic == i).any()]
        if present:
            rng = np.random.default_rng([index, 1 + ("val", "shift").index(self.split), 0x5E3])
            palette = random_palette(present, rng)
            lut = np.full(256, 255, np.uint8)  # class id -> index in this palette (labels index the palette)
            lut[[list(self._palette).index(n) for n in palette]] = np.arange(len(palette))
            targets.append(Target(task="semantic", gt=lut[s.semantic], group="semantic-random",
                                  spec={"palette": palette}, key="random"))
        inst = np.asarray(s.instance)
        ids, areas = np.unique(inst[inst > 0], return_counts=True)
        area = dict(zip(ids.tolist(), areas.tolist()))
        min_px = max(MIN_INSTANCE_PX, MIN_INSTANCE_SHARE * inst.size)
        by_class: dict[str, list[int]] = {}
        for obj in s.objects:
            if obj.class_name in THING_CLASSES and area.get(obj.instance_id, 0) >= min_px:
                by_class.setdefault(obj.class_name, []).append(obj.instance_id)
        if by_class:
            cat = min(by_class, key=lambda c: (-len(by_class[c]), c))
            gt = np.where(np.isin(inst, by_class[cat]), inst, 0).astype(np.int32)
            cat_ids = [o.instance_id for o in s.objects if o.class_name == cat]
            tiny = np.isin(inst, cat_ids) & (gt == 0)  # instances of the class too small to score
            targets.append(
                Target(
                    task="instance", gt=gt, valid=~tiny, spec={"category": cat, "background": BLACK}, key=cat
                )
            )
        for k, (expr, ids) in enumerate(list(s.referring)[:MAX_REFERRING]):
            mask = np.isin(inst, np.atleast_1d(ids))  # one instance id per expression
            if mask.any():
                targets.append(
                    Target(
                        task="referring",
                        gt=mask[None],
                        spec={"expressions": [expr], "colors": [RED], "background": BLACK},
                        key=f"ref{k}",
                    )
                )
        for k, (query, ids) in enumerate(list(s.reasoning)[:MAX_REASONING]):
            mask = np.isin(inst, np.atleast_1d(ids))
            if mask.any():
                targets.append(
                    Target(
                        task="reasoning",
                        gt=mask[None],
                        spec={"expressions": [query], "colors": [RED], "background": BLACK},
                        key=f"q{k}",
                    )
                )
        return Record(id=self.record_id(index), image=np.asarray(s.rgb, np.uint8), targets=targets)


SOURCES.register("synthetic", SyntheticSource)
