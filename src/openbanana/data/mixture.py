"""The training mixture: generation (text-to-image, editing) with a small share of vision tasks.

The paper's recipe instruction-tunes a generator on its own generation mixture into which a small
share of vision-task samples is mixed. :class:`MixtureConfig` states that mixture; with
``vision_share=0`` it is the generation-pretraining stage.

Every sample is made on the fly from one synthetic scene (or edit pair) rendered inside the
DataLoader worker:

- ``t2i``: no input image; the scene's caption -> the scene's RGB;
- ``edit``: an edit pair's source + instruction -> its re-rendered target;
- a vision task: the scene's RGB + an instruction (``task.instruction(rng, **spec)``, a random
  phrasing, or with probability ``canonical_prob`` the canonical one used at inference) -> the
  task's training target drawn in its colour code under the same ``spec``. What a scene gives each
  task, and how its spec is drawn (colormaps, palettes, backgrounds, target colours), is the scene
  target registry's (:data:`~openbanana.data.synthetic.targets.SCENE_TARGETS`); this config holds
  the probabilities of those draws.

Determinism and sharding: sample ``i`` of the global stream depends only on ``(seed, i)``. Rank
``r`` of ``W`` processes takes the samples ``i = j * W + r``; inside a process, DataLoader worker
``w`` of ``N`` takes the rank-stream positions ``j = start + w, start + w + N, ...``, so that the
DataLoader's round-robin returns exactly ``j = start, start + 1, ...`` and no two workers or ranks
ever draw the same scene. Scene seeds are ``seed * 2**40 + i * 4 + attempt`` (an attempt is
redrawn when a scene cannot give the chosen task, e.g. no referring expression).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import webdataset as wds
from torch.utils.data import IterableDataset, get_worker_info

import openbanana.data.synthetic as world
from openbanana.batch import collate  # noqa: F401  (re-exported: mixture batches are built with it)
from openbanana.data.photometric import color_cast, photometric_jitter
from openbanana.data.shards import sample_to_dict
from openbanana.data.synthetic.targets import (  # noqa: F401  (re-exported: the mixture's draws)
    BACKGROUNDS,
    SCENE_TARGETS,
    TARGET_COLORS,
    canonical_instance_order,
    random_colors,
)
from openbanana.data.workers import retain_freed_memory
from openbanana.errors import DataLayoutError
from openbanana.tasks import GENERATION_TASKS, TASKS, task_names
from openbanana.tasks.codecs.instances import INSTANCE_SCHEMES


def __getattr__(name: str) -> Any:
    # VISION_TASKS is read when asked for, so a task registered after import is in it
    if name == "VISION_TASKS":
        return task_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_ATTEMPTS = 4
_SEED_STRIDE = 2**40


@dataclass
class MixtureConfig:
    """What a training stage samples.

    Attributes:
        vision_share: share of vision-task samples (the paper's "small fraction"; 0 = pretraining).
        vision_weights: relative weights among the vision tasks (missing tasks get 0).
        generation_weights: relative weights of ``t2i`` and ``edit`` among the generation samples.
        colormap_prob: share of depth targets drawn with an augmentation colormap named in the
            instruction instead of the paper's path.
        colormaps: the augmentation colormaps (keys of ``tasks.codecs.colormaps.COLORMAPS``).
        palette_fixed_prob: semantic: fixed class colours over the classes present.
        palette_full_prob: semantic: fixed class colours over every class of the world.
        palette_subset_prob: semantic: fixed class colours over a random subset of those present.
            The rest (1 - the three) are random distinct colours over a random subset.
        random_palette_max_classes: most classes in a subset or random-colour palette (short
            enough for the text encoder to read whole).
        instance_black_prob: instance: share of black backgrounds (else a colour from BACKGROUNDS).
        instance_color_seeds: instance: number of distinct instance colour assignments used.
        instance_scheme: instance: how the targets colour the instances, a key of
            ``tasks.codecs.instances.INSTANCE_SCHEMES`` (``rank``: left to right in the code's
            colour order; ``position``: by the grid cell of each instance's centroid).
        instance_min_share: instance: only classes with an instance covering at least this share
            of the image are asked for (smaller ones are below what the paper's decoder keeps).
        max_referring_targets: referring: most expressions (each its own colour) per sample.
        canonical_prob: share of vision samples given the canonical instruction (``rng=None``).
        photometric_prob: share of vision samples whose input picture is shown with other contrast,
            brightness, gamma and saturation (:mod:`openbanana.data.photometric`; the target is
            unchanged). 0 draws nothing, so streams without it are those of earlier versions.
        color_cast_prob: share of vision samples whose input picture is tinted as under light of
            another colour (:func:`openbanana.data.photometric.color_cast`, after the photometric
            jitter; the target is unchanged). 0 draws nothing.
        split: ``"train"``, ``"val"`` or ``"shift"``.
        size: square side of the rendered images in pixels.
        source: ``"synthetic"`` (render on the fly) or a directory of WebDataset shards written by
            ``openbanana data synth`` (scenes read from disk; edit pairs still rendered on the fly).
        num_samples: None for an endless stream; else the global stream stops at this many samples.
    """

    vision_share: float = 0.10
    vision_weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(task_names(), 1.0))
    generation_weights: dict[str, float] = field(default_factory=lambda: {"t2i": 0.6, "edit": 0.4})
    colormap_prob: float = 0.2
    colormaps: tuple[str, ...] = ("plasma", "inferno", "viridis", "grayscale")
    palette_fixed_prob: float = 0.5
    palette_full_prob: float = 0.2
    palette_subset_prob: float = 0.15
    random_palette_max_classes: int = 4
    instance_black_prob: float = 0.7
    instance_color_seeds: int = 4
    instance_scheme: str = "rank"
    instance_min_share: float = 0.005
    max_referring_targets: int = 3
    canonical_prob: float = 0.2
    photometric_prob: float = 0.0
    color_cast_prob: float = 0.0
    split: str = "train"
    size: int = 64
    source: str = "synthetic"
    num_samples: int | None = None

    def __post_init__(self) -> None:
        self.colormaps = tuple(self.colormaps)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError listing every problem, one per line."""
        p: list[str] = []
        for k in ("vision_share", "colormap_prob", "palette_fixed_prob", "palette_full_prob", "palette_subset_prob",
                  "instance_black_prob", "canonical_prob", "instance_min_share", "photometric_prob",
                  "color_cast_prob"):
            v = getattr(self, k)
            if not 0.0 <= v <= 1.0:
                p.append(f"{k} must be in [0, 1], got {v}")
        if self.palette_fixed_prob + self.palette_full_prob + self.palette_subset_prob > 1.0 + 1e-9:
            p.append("palette_fixed_prob + palette_full_prob + palette_subset_prob must be <= 1")
        for name, w, valid in (("vision_weights", self.vision_weights, task_names()),
                               ("generation_weights", self.generation_weights, GENERATION_TASKS)):
            bad = sorted(set(w) - set(valid))
            if bad:
                p.append(f"{name}: unknown task(s) {bad}; expected some of {list(valid)}")
            if any(x < 0 for x in w.values()):
                p.append(f"{name}: weights must be >= 0, got {w}")
        if self.vision_share > 0 and sum(self.vision_weights.values()) <= 0:
            p.append("vision_weights: all zero while vision_share > 0")
        if self.vision_share < 1 and sum(self.generation_weights.values()) <= 0:
            p.append("generation_weights: all zero while vision_share < 1")
        if self.size < 8:
            p.append(f"size must be >= 8, got {self.size}")
        if self.source != "synthetic" and not Path(self.source).is_dir():
            p.append(f"source must be 'synthetic' or a directory of shards, got {self.source!r}")
        if self.random_palette_max_classes < 1 or self.max_referring_targets < 1 or self.instance_color_seeds < 1:
            p.append("random_palette_max_classes, max_referring_targets and instance_color_seeds must be >= 1")
        if self.instance_scheme not in INSTANCE_SCHEMES:
            p.append(f"instance_scheme must be one of {sorted(INSTANCE_SCHEMES)}, got {self.instance_scheme!r}")
        if self.num_samples is not None and self.num_samples < 0:
            p.append(f"num_samples must be None or >= 0, got {self.num_samples}")
        if p:
            raise ValueError("invalid MixtureConfig:\n  " + "\n  ".join(p))

    def task_probabilities(self) -> dict[str, float]:
        """Probability of each task in the stream (sums to 1)."""
        out: dict[str, float] = {}
        for share, weights in ((self.vision_share, self.vision_weights),
                               (1.0 - self.vision_share, self.generation_weights)):
            total = sum(weights.values())
            for t, w in weights.items():
                if total > 0 and share > 0 and w > 0:
                    out[t] = out.get(t, 0.0) + share * w / total
        return out


# ============================================================================ one sample
def _world() -> Any:
    return world


def _instruction(task_name: str, rng: np.random.Generator, cfg: MixtureConfig, **spec: Any) -> str:
    task = TASKS.get(task_name)
    return task.instruction(None if rng.random() < cfg.canonical_prob else rng, **spec)


def _sample(task: str, cond: np.ndarray | None, target: np.ndarray, prompt: str, spec: dict | None = None) -> dict:
    return {"cond": cond, "target": np.ascontiguousarray(target), "prompt": prompt, "task": task,
            "spec": spec or {}}


def vision_sample(task: str, scene: Any, rng: np.random.Generator, cfg: MixtureConfig) -> dict | None:
    """A vision task's sample from one scene: the task's training target
    (:data:`~openbanana.data.synthetic.targets.SCENE_TARGETS`) drawn in its colour code, with an
    instruction stating the target's spec; None when the scene cannot give the task."""
    t = SCENE_TARGETS.get(task).train(scene, rng, cfg)
    if t is None:
        return None
    target, prompt = t.draw(), _instruction(task, rng, cfg, **t.spec)
    cond = scene.rgb
    if cfg.photometric_prob > 0 and rng.random() < cfg.photometric_prob:
        cond = photometric_jitter(cond, rng)
    if cfg.color_cast_prob > 0 and rng.random() < cfg.color_cast_prob:
        cond = color_cast(cond, rng)
    return _sample(task, cond, target, prompt, t.spec)


def depth_sample(scene: Any, rng: np.random.Generator, cfg: MixtureConfig) -> dict:
    """Depth, which every scene can give (the fallback of a task no scene could give)."""
    return vision_sample("depth", scene, rng, cfg)


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of sample ``index`` (task choice first, then the sample's own choices)."""
    return np.random.default_rng([int(seed), int(index), 0x0B4A])


def choose_task(cfg: MixtureConfig, rng: np.random.Generator) -> str:
    """Draw a task with the probabilities of :meth:`MixtureConfig.task_probabilities`."""
    probs = cfg.task_probabilities()
    names = sorted(probs)
    p = np.array([probs[n] for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def make_sample(cfg: MixtureConfig, seed: int, index: int) -> dict:
    """Sample ``index`` of the global stream of ``seed`` (pure function of its arguments).

    Returns:
        ``{"cond": uint8 (S, S, 3) or None, "target": uint8 (S, S, 3), "prompt": str, "task": str,
        "spec": dict, "scene_seed": int}`` with ``S = cfg.size``; ``spec`` is what the target was
        encoded with (for decoding it back).
    """
    world = _world()
    rng = sample_rng(seed, index)
    task = choose_task(cfg, rng)
    base = seed * _SEED_STRIDE + index * _ATTEMPTS
    if task == "edit":
        e = world.make_edit(base, split=cfg.split, size=cfg.size)
        return {**_sample("edit", e.source, e.target, e.instruction), "scene_seed": base}
    for attempt in range(_ATTEMPTS):
        scene = world.render_scene(base + attempt, split=cfg.split, size=cfg.size)
        if task == "t2i":
            return {**_sample("t2i", None, scene.rgb, scene.caption), "scene_seed": base + attempt}
        s = vision_sample(task, scene, rng, cfg)
        if s is not None:
            return {**s, "scene_seed": base + attempt}
    # no scene among the attempts could give this task (rare): depth always can
    return {**depth_sample(scene, rng, cfg), "scene_seed": base + _ATTEMPTS - 1}


def sample_from_scene(cfg: MixtureConfig, scene: Any, seed: int, index: int) -> dict:
    """Sample ``index`` made from a given scene (the shard source): the task is drawn as in
    :func:`make_sample`; edits are rendered on the fly (shards hold no edit pairs); a task this
    scene cannot give falls back to depth."""
    rng = sample_rng(seed, index)
    task = choose_task(cfg, rng)
    key = {"scene_seed": int(getattr(scene, "seed", -1))}
    if task == "edit":
        base = seed * _SEED_STRIDE + index * _ATTEMPTS
        e = _world().make_edit(base, split=cfg.split, size=cfg.size)
        return {**_sample("edit", e.source, e.target, e.instruction), "scene_seed": base}
    if task == "t2i":
        return {**_sample("t2i", None, scene.rgb, scene.caption), **key}
    s = vision_sample(task, scene, rng, cfg)
    return {**(s if s is not None else depth_sample(scene, rng, cfg)), **key}


# ============================================================================ shards
def scene_from_record(d: dict) -> SimpleNamespace:
    """A shard record (:func:`openbanana.data.shards.sample_to_dict`) as a Scene-like object."""
    objects = [SimpleNamespace(**o) for o in d.get("objects", [])]
    return SimpleNamespace(
        rgb=d["rgb"], depth_m=d["depth_m"], normals=d["normals"], semantic=d["semantic"], instance=d["instance"],
        objects=objects, caption=d.get("caption", ""), seed=d.get("seed", -1), split=d.get("split", ""),
        referring=[(e, int(i)) for e, i in d.get("referring", [])],
        reasoning=[(q, [int(i) for i in ids]) for q, ids in d.get("reasoning", [])],
    )


def shard_paths(source: str | Path) -> list[Path]:
    """The ``*.tar`` shards of a directory (written by ``openbanana data synth``), sorted."""
    p = Path(source)
    if not p.is_dir():
        raise DataLayoutError(f"mixture source {source!r} is neither 'synthetic' nor a directory of shards")
    paths = sorted(p.glob("*.tar"))
    if not paths:
        raise DataLayoutError(f"no *.tar shards in {p} (write some with `openbanana data synth --out {p}`)")
    return paths


def _iter_records(paths: list[Path], stream: int, n_streams: int) -> Iterator[dict]:
    """Raw records of one stream, endlessly: whole shards when there are enough of them for every
    stream, else every ``n_streams``-th record of all shards. Only this stream's records are decoded."""
    mine = paths[stream::n_streams] if len(paths) >= n_streams else paths
    stride = 1 if len(paths) >= n_streams else n_streams
    while True:
        got = 0
        for r, raw in enumerate(wds.WebDataset([str(x) for x in mine], shardshuffle=False, empty_check=False)):
            if r % stride == (stream if stride > 1 else 0):
                got += 1
                yield sample_to_dict(raw)
        if not got:
            raise DataLayoutError(f"shards {[str(x) for x in mine]} hold no record for data stream {stream}")


# ============================================================================ dataset
class MixtureDataset(IterableDataset):
    """Endless (or ``num_samples``-long) stream of this rank's samples; see the module docstring."""

    def __init__(self, cfg: MixtureConfig, *, seed: int, rank: int = 0, world_size: int = 1, start: int = 0) -> None:
        super().__init__()
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.cfg, self.seed, self.rank, self.world_size, self.start = cfg, int(seed), rank, world_size, start

    def positions(self, worker: int = 0, num_workers: int = 1) -> Iterator[int]:
        """Global sample indices of one worker of this rank, in order."""
        j = self.start + worker
        while True:
            i = j * self.world_size + self.rank
            if self.cfg.num_samples is not None and i >= self.cfg.num_samples:
                return
            yield i
            j += num_workers

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, n = (info.id, info.num_workers) if info is not None else (0, 1)
        if info is not None:  # a DataLoader worker process: a data process (see data.workers)
            retain_freed_memory()
        if self.cfg.source == "synthetic":
            for i in self.positions(worker, n):
                yield make_sample(self.cfg, self.seed, i)
            return
        # shards: stream (rank, worker) reads its own records; sample i still seeds the task choice
        records = _iter_records(shard_paths(self.cfg.source), self.rank * n + worker, self.world_size * n)
        skip = self.start // n + (1 if worker < self.start % n else 0)  # records already consumed
        for _ in range(skip):
            next(records)
        for i in self.positions(worker, n):
            scene = scene_from_record(next(records))
            if scene.rgb.shape[:2] != (self.cfg.size, self.cfg.size):
                raise DataLayoutError(f"shards in {self.cfg.source} hold {scene.rgb.shape[:2]} images; the mixture "
                                      f"asks for size {self.cfg.size}")
            yield sample_from_scene(self.cfg, scene, self.seed, i)


def build_dataset(cfg: MixtureConfig, *, seed: int, rank: int = 0, world_size: int = 1,
                  start: int = 0) -> MixtureDataset:
    """The data stream of one training process.

    Args:
        cfg: the mixture.
        seed: the run's data seed (sample i depends only on ``(seed, i)``).
        rank, world_size: this process among ``world_size`` (each takes every W-th sample).
        start: first position in this rank's stream (exact resume).

    Returns:
        An ``IterableDataset`` yielding dicts ``{"cond", "target", "prompt", "task", "spec",
        "scene_seed"}`` (see :func:`make_sample`); use ``DataLoader(ds, batch_size=None,
        num_workers=N, collate_fn=lambda s: s)`` and :func:`collate`.
    """
    if isinstance(cfg, dict):
        cfg = MixtureConfig(**cfg)
    return MixtureDataset(cfg, seed=seed, rank=rank, world_size=world_size, start=start)


