"""Scene -> a task's ground truth: one registry, used by training, the benchmark and the demo.

A synthetic scene carries every answer at once (depth, normals, semantic and instance maps,
referring expressions, reasoning queries); :data:`SCENE_TARGETS` says, per task, how one scene
answers that task. Each entry (a :class:`SceneTargets`) has three protocols over the same truth:

- :meth:`~SceneTargets.train`: a random spec drawn with the sample's generator and the truth under
  it (the training mixture, :mod:`openbanana.data.mixture`); None when the scene cannot give the
  task (no referring expression, no thing class large enough);
- :meth:`~SceneTargets.benchmark`: the synthetic benchmark's fixed protocol, the targets of one
  record (:mod:`openbanana.data.sources.synthetic`);
- :meth:`~SceneTargets.truth`: the truth under a spec a pipeline has already chosen (the demo,
  :mod:`openbanana.cli.demo`); None when the scene has none for it.

Each returns :class:`TaskTarget`: the answer a perfect model gives (the task's answer kind, not yet
drawn), what the instruction states (``spec``) and what the colour code needs besides
(``encode_spec``). A new task adds one entry with :func:`register_scene_targets`; the mixture, the
benchmark and the demo read the registry and need no change.

Random draws happen in a fixed order per task (the order the mixture has always used), so every
training sample stays a pure function of ``(seed, index)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from openbanana.data.synthetic.classes import CLASS_COLORS, CLASSES, THING_CLASSES
from openbanana.registry import Registry
from openbanana.tasks import encode

#: colours for referring targets: well apart from each other and from the black background
TARGET_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (255, 255, 255),
    (255, 165, 0),
)
#: background colours for instance segmentation besides black
BACKGROUNDS: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (128, 128, 128), (0, 0, 255), (0, 128, 0))
RED = (255, 0, 0)
BLACK = (0, 0, 0)
#: benchmark: referring expressions and reasoning queries asked per scene (one sample each)
MAX_REFERRING = 2
MAX_REASONING = 1
#: benchmark: instances smaller than this (pixels, or share of the image) are not scored
MIN_INSTANCE_PX = 64
MIN_INSTANCE_SHARE = 0.002


class TrainingDraws(Protocol):
    """What a training draw reads from the mixture's config
    (:class:`openbanana.data.mixture.MixtureConfig` has these fields)."""

    colormap_prob: float
    colormaps: tuple[str, ...]
    palette_fixed_prob: float
    palette_full_prob: float
    palette_subset_prob: float
    random_palette_max_classes: int
    instance_black_prob: float
    instance_color_seeds: int
    instance_scheme: str
    instance_min_share: float
    max_referring_targets: int


@dataclass(frozen=True)
class TaskTarget:
    """One task's ground truth for one scene.

    Attributes:
        task: the task's registry name.
        answer: what a perfect model's decoded answer is (the task's answer kind: depth metres
            ``(H, W)``, unit normals ``(H, W, 3)``, labels indexing the spec's palette, instance
            ids, bool masks ``(N, H, W)``).
        spec: what the instruction states (palette, colours, category, expressions).
        encode_spec: the colour code's options for drawing ``answer``
            (``openbanana.encode(task, answer, **encode_spec)``).
        valid: bool ``(H, W)``: the pixels that are scored (None: all).
        group: the benchmark's scorer group when not the task's own (``"semantic-random"``;
            empty: the task's).
        key: the target's name within its record (several referring targets per scene).
    """

    task: str
    answer: np.ndarray
    spec: dict[str, Any] = field(default_factory=dict)
    encode_spec: dict[str, Any] = field(default_factory=dict)
    valid: np.ndarray | None = None
    group: str = ""
    key: str = ""

    def draw(self) -> np.ndarray:
        """The answer drawn in the task's colour code: uint8 ``(H, W, 3)``."""
        return encode(self.task, self.answer, **self.encode_spec)


class SceneTargets(ABC):
    """How a synthetic scene answers one task (see the module docstring)."""

    #: the task's registry name (:data:`openbanana.tasks.TASKS`)
    task: ClassVar[str]
    #: the demo (``openbanana demo``) shows this task on its sheets
    in_demo: ClassVar[bool] = True

    @abstractmethod
    def train(self, scene: Any, rng: np.random.Generator, cfg: TrainingDraws) -> TaskTarget | None:
        """A training target: a spec drawn with ``rng`` and the truth under it (None: the scene
        cannot give this task)."""

    @abstractmethod
    def benchmark(self, scene: Any, index: int, split: str) -> list[TaskTarget]:
        """The synthetic benchmark's targets of record ``index`` of ``split`` (may be empty)."""

    @abstractmethod
    def truth(self, scene: Any, spec: dict[str, Any]) -> TaskTarget | None:
        """The truth under ``spec``, a spec a pipeline chose (None: the scene has none)."""

    def default_spec(self) -> dict[str, Any]:
        """The spec a request that states none is given (the pipeline's default): the one the
        default model was trained on most. Empty: the task's own defaults."""
        return {}

    def phrases(self, scene: Any) -> list[tuple[str, Any]]:
        """``(phrase, instance ids)`` the scene can be asked about, for tasks whose request must
        name its targets (:attr:`openbanana.tasks.Task.needs_instruction`); else empty."""
        return []


#: task name -> how a synthetic scene answers it
SCENE_TARGETS: Registry[SceneTargets] = Registry("scene target")


def register_scene_targets(cls: type[SceneTargets]) -> type[SceneTargets]:
    """Class decorator: instantiate and register under ``cls.task``."""
    SCENE_TARGETS.register(cls.task, cls())
    return cls


# ============================================================================ helpers
def random_colors(rng: np.random.Generator, n: int, min_dist: float = 60.0) -> list[tuple[int, int, int]]:
    """n random colours at least ``min_dist`` apart in RGB and from black (black means void)."""
    out: list[np.ndarray] = []
    while len(out) < n:
        c = rng.integers(0, 256, 3)
        if np.linalg.norm(c) >= min_dist and all(np.linalg.norm(c - o) >= min_dist for o in out):
            out.append(c)
    return [tuple(int(v) for v in c) for c in out]


def synthetic_palette() -> dict[str, tuple[int, int, int]]:
    """Class name -> colour for every synthetic class (the fixed semantic prompt)."""
    return {name: tuple(int(v) for v in CLASS_COLORS[i]) for i, name in enumerate(CLASSES)}


def random_palette(classes: list[str], rng: np.random.Generator) -> dict[str, tuple[int, int, int]]:
    """``classes`` in a random order, each a random colour well apart from the others and from
    black, which means void (the training mixture's random palettes, drawn afresh)."""
    order = [classes[i] for i in rng.permutation(len(classes))]
    return dict(zip(order, random_colors(rng, len(order)), strict=True))


def palette_labels(semantic: np.ndarray, palette: dict[str, Any], dtype: Any = np.int64) -> np.ndarray:
    """The scene's class map as labels indexing ``palette`` (classes left out and void: 255)."""
    lut = np.full(256, 255, dtype)  # class id -> palette index, 255 void
    for j, name in enumerate(palette):
        lut[CLASSES.index(name)] = j
    return lut[semantic.astype(np.int64)]


def canonical_instance_order(instance: np.ndarray, ids: list[int]) -> np.ndarray:
    """The instances ``ids`` of an instance map renumbered 1..n from left to right (by the column of
    their centroid; ties by id), everything else 0.

    The instance code colours ids in increasing order, so this gives every picture one answer: the
    leftmost object the first colour of :func:`~openbanana.tasks.codecs.instances.instance_colors`,
    the next one the second, and so on. A model trained in the deterministic one-step mode can
    learn a rule like that; it cannot learn colours drawn at random per sample (it would paint
    their mean, a grey that the decoder reads as one object).
    """
    h, w = instance.shape
    flat = instance.ravel().astype(np.int64)
    size = max(int(flat.max()) + 1, max(ids, default=0) + 1)
    counts = np.bincount(flat, minlength=size)
    cols = np.bincount(flat, weights=np.tile(np.arange(w, dtype=np.float64), h), minlength=size)
    present = [i for i in ids if counts[i] > 0]
    order = sorted(present, key=lambda i: (cols[i] / counts[i], i))
    lut = np.zeros(size, np.int32)
    lut[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lut[flat].reshape(h, w)


def normals_valid(normals: np.ndarray) -> np.ndarray:
    """Pixels with a surface (sky has a zero normal)."""
    return np.linalg.norm(normals, axis=-1) > 0.5


# ============================================================================ the tasks
@register_scene_targets
class DepthTargets(SceneTargets):
    """Metric depth (sky = inf). Training: the paper's path, or with ``colormap_prob`` an
    augmentation colormap named in the instruction."""

    task = "depth"

    def train(self, scene: Any, rng: np.random.Generator, cfg: TrainingDraws) -> TaskTarget:
        cmap = "paper"
        if cfg.colormaps and rng.random() < cfg.colormap_prob:
            cmap = cfg.colormaps[int(rng.integers(len(cfg.colormaps)))]
        spec = {"colormap": cmap}
        return TaskTarget("depth", scene.depth_m, spec, encode_spec=spec)

    def benchmark(self, scene: Any, index: int, split: str) -> list[TaskTarget]:
        return [TaskTarget("depth", np.asarray(scene.depth_m, np.float32))]

    def truth(self, scene: Any, spec: dict[str, Any]) -> TaskTarget:
        # sky drawn as far (the code has no "no depth" colour)
        return TaskTarget("depth", np.minimum(scene.depth_m, 1e4), spec)


@register_scene_targets
class NormalsTargets(SceneTargets):
    """Normals in the paper's frame; pixels without a surface (sky) black in training."""

    task = "normals"

    def train(self, scene: Any, rng: np.random.Generator, cfg: TrainingDraws) -> TaskTarget:
        valid = normals_valid(scene.normals)
        return TaskTarget("normals", scene.normals, encode_spec={"valid": valid}, valid=valid)

    def benchmark(self, scene: Any, index: int, split: str) -> list[TaskTarget]:
        return [TaskTarget("normals", np.asarray(scene.normals, np.float32))]

    def truth(self, scene: Any, spec: dict[str, Any]) -> TaskTarget:
        return TaskTarget("normals", scene.normals, spec, valid=normals_valid(scene.normals))


def _present_classes(scene: Any) -> list[int]:
    ids = np.unique(scene.semantic)
    return [int(i) for i in ids if i != 255]


@register_scene_targets
class SemanticTargets(SceneTargets):
    """Semantic labels indexing the instruction's palette; classes left out and void are black.

    Training palettes: ``palette_full_prob`` the fixed colours over every class of the world,
    ``palette_fixed_prob`` over the classes present, ``palette_subset_prob`` over a random subset,
    the rest random distinct colours over a random subset (at most ``random_palette_max_classes``).
    Benchmark: every class in its fixed colour, and (group ``semantic-random``) the classes in view
    in a random order and random colours, seeded by the split and index.
    """

    task = "semantic"

    def train(self, scene: Any, rng: np.random.Generator, cfg: TrainingDraws) -> TaskTarget | None:
        present = _present_classes(scene)
        if not present:
            return None
        u = rng.random()
        if u < cfg.palette_full_prob:
            ids = list(range(len(CLASSES)))
        elif u < cfg.palette_full_prob + cfg.palette_fixed_prob:
            ids = present
        else:
            # subsets stay short so that a small text encoder reads the whole palette
            k = int(rng.integers(1, min(len(present), cfg.random_palette_max_classes) + 1))
            ids = sorted(int(i) for i in rng.choice(present, size=k, replace=False))
        if u < cfg.palette_full_prob + cfg.palette_fixed_prob + cfg.palette_subset_prob:
            colors = np.asarray(CLASS_COLORS)
            palette = {CLASSES[i]: tuple(int(v) for v in colors[i]) for i in ids}
        else:
            order = [ids[j] for j in rng.permutation(len(ids))]
            palette = dict(zip((CLASSES[i] for i in order), random_colors(rng, len(order)), strict=True))
        spec = {"palette": palette}
        return TaskTarget("semantic", palette_labels(scene.semantic, palette), spec, encode_spec=spec)

    def benchmark(self, scene: Any, index: int, split: str) -> list[TaskTarget]:
        palette = synthetic_palette()
        out = [TaskTarget("semantic", np.asarray(scene.semantic), {"palette": dict(palette)})]
        present = [n for i, n in enumerate(palette) if (scene.semantic == i).any()]
        if present:
            rng = np.random.default_rng([index, 1 + ("val", "shift").index(split), 0x5E3])
            random = random_palette(present, rng)
            out.append(TaskTarget("semantic", palette_labels(scene.semantic, random, np.uint8), {"palette": random},
                                  group="semantic-random", key="random"))
        return out

    def default_spec(self) -> dict[str, Any]:
        """Every class of the world in its fixed colour."""
        return {"palette": synthetic_palette()}

    def truth(self, scene: Any, spec: dict[str, Any]) -> TaskTarget:
        palette = spec.get("palette") or synthetic_palette()
        return TaskTarget("semantic", palette_labels(scene.semantic, palette), {**spec, "palette": palette},
                          encode_spec={"palette": palette})


@register_scene_targets
class InstanceTargets(SceneTargets):
    """Instances of one thing class, each its own colour. Training: a class with an instance
    covering ``instance_min_share`` of the image, numbered left to right
    (:func:`canonical_instance_order`) and coloured by ``instance_scheme``, on black or a background
    colour named in the instruction.
    Benchmark: the class with the most instances in view, on black; instances under
    :data:`MIN_INSTANCE_PX` pixels (or :data:`MIN_INSTANCE_SHARE`) are left out of the score.
    Truth without a ``category``: every instance of the scene."""

    task = "instance"

    def train(self, scene: Any, rng: np.random.Generator, cfg: TrainingDraws) -> TaskTarget | None:
        min_px = cfg.instance_min_share * scene.instance.size
        counts = np.bincount(scene.instance.ravel().astype(np.int64))
        things = sorted({o.class_name for o in scene.objects
                         if o.class_name in THING_CLASSES and o.instance_id < len(counts)
                         and counts[o.instance_id] >= max(min_px, 1)})
        if not things:
            return None
        cls = things[int(rng.integers(len(things)))]
        ids = [o.instance_id for o in scene.objects if o.class_name == cls]
        inst = canonical_instance_order(scene.instance, ids)
        bg = (0, 0, 0) if rng.random() < cfg.instance_black_prob else BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
        seed = int(rng.integers(cfg.instance_color_seeds))
        return TaskTarget("instance", inst, {"background": bg, "category": cls},
                          encode_spec={"background": bg, "seed": seed, "scheme": cfg.instance_scheme})

    def benchmark(self, scene: Any, index: int, split: str) -> list[TaskTarget]:
        inst = np.asarray(scene.instance)
        ids, areas = np.unique(inst[inst > 0], return_counts=True)
        area = dict(zip(ids.tolist(), areas.tolist()))
        min_px = max(MIN_INSTANCE_PX, MIN_INSTANCE_SHARE * inst.size)
        by_class: dict[str, list[int]] = {}
        for obj in scene.objects:
            if obj.class_name in THING_CLASSES and area.get(obj.instance_id, 0) >= min_px:
                by_class.setdefault(obj.class_name, []).append(obj.instance_id)
        if not by_class:
            return []
        cat = min(by_class, key=lambda c: (-len(by_class[c]), c))
        gt = np.where(np.isin(inst, by_class[cat]), inst, 0).astype(np.int32)
        cat_ids = [o.instance_id for o in scene.objects if o.class_name == cat]
        tiny = np.isin(inst, cat_ids) & (gt == 0)  # instances of the class too small to score
        return [TaskTarget("instance", gt, {"category": cat, "background": BLACK}, valid=~tiny, key=cat)]

    def truth(self, scene: Any, spec: dict[str, Any]) -> TaskTarget:
        """Numbered and coloured the way training draws them (:func:`canonical_instance_order`,
        ``spec``'s ``scheme``), so that its drawing is what a model trained on that scheme paints."""
        cat = spec.get("category")
        inst = np.asarray(scene.instance)
        ids = (np.unique(inst[inst > 0]).tolist() if cat is None
               else [o.instance_id for o in scene.objects if o.class_name == cat])
        encode_spec = {k: spec[k] for k in ("background", "scheme") if k in spec}
        return TaskTarget("instance", canonical_instance_order(inst, ids), spec, encode_spec=encode_spec)

    def default_spec(self) -> dict[str, Any]:
        """The colour scheme the default model was trained on (the decoder ignores colours)."""
        return {"scheme": "position"}


class _MaskTargets(SceneTargets):
    """Masks of the objects a phrase names (referring expressions, reasoning queries), each
    painted in its own colour on black."""

    #: training: most phrases per sample (None: the config's ``max_referring_targets``)
    train_max: ClassVar[int | None] = None
    #: benchmark: phrases asked per scene, one target each
    benchmark_max: ClassVar[int]
    #: benchmark: prefix of each target's key
    key_prefix: ClassVar[str]

    @staticmethod
    def pairs(scene: Any) -> list[tuple[str, Any]]:
        """``(phrase, instance ids)`` of the scene."""
        raise NotImplementedError

    def train(self, scene: Any, rng: np.random.Generator, cfg: TrainingDraws) -> TaskTarget | None:
        max_targets = self.train_max or cfg.max_referring_targets
        pairs = [(e, ids) for e, ids in self.pairs(scene) if np.isin(scene.instance, ids).any()]
        if not pairs:
            return None
        k = int(rng.integers(1, min(max_targets, len(pairs)) + 1))
        chosen = [pairs[i] for i in rng.choice(len(pairs), size=k, replace=False)]
        colors = [TARGET_COLORS[i] for i in rng.choice(len(TARGET_COLORS), size=k, replace=False)]
        masks = np.stack([np.isin(scene.instance, ids) for _, ids in chosen])  # [k, H, W]
        spec = {"colors": colors, "background": (0, 0, 0), "expressions": [e for e, _ in chosen]}
        return TaskTarget(self.task, masks, spec, encode_spec={"colors": colors, "background": (0, 0, 0)})

    def benchmark(self, scene: Any, index: int, split: str) -> list[TaskTarget]:
        out = []
        inst = np.asarray(scene.instance)
        for k, (phrase, ids) in enumerate(list(self.pairs(scene))[: self.benchmark_max]):
            mask = np.isin(inst, np.atleast_1d(ids))
            if mask.any():
                spec = {"expressions": [phrase], "colors": [RED], "background": BLACK}
                out.append(TaskTarget(self.task, mask[None], spec, key=f"{self.key_prefix}{k}"))
        return out

    def truth(self, scene: Any, spec: dict[str, Any]) -> TaskTarget | None:
        ids: dict[str, Any] = {}
        for phrase, i in self.pairs(scene):
            ids.setdefault(phrase, i)  # a phrase said twice names its first objects
        masks = [np.isin(scene.instance, np.atleast_1d(ids[e])) for e in spec.get("expressions", []) if e in ids]
        return TaskTarget(self.task, np.stack(masks), spec) if masks else None

    def phrases(self, scene: Any) -> list[tuple[str, Any]]:
        return list(self.pairs(scene))


@register_scene_targets
class ReferringTargets(_MaskTargets):
    """Referring: up to ``max_referring_targets`` expressions per training sample; the benchmark
    asks :data:`MAX_REFERRING` per scene, painted red on black."""

    task = "referring"
    benchmark_max = MAX_REFERRING
    key_prefix = "ref"

    @staticmethod
    def pairs(scene: Any) -> list[tuple[str, Any]]:
        return [(e, [i]) for e, i in scene.referring]


@register_scene_targets
class ReasoningTargets(_MaskTargets):
    """Reasoning: one query per sample; the objects answering it in a named colour on black."""

    task = "reasoning"
    #: not on the demo sheets: referring already shows a phrase -> mask answer
    in_demo = False
    train_max = 1
    benchmark_max = MAX_REASONING
    key_prefix = "q"

    @staticmethod
    def pairs(scene: Any) -> list[tuple[str, Any]]:
        return list(scene.reasoning)
