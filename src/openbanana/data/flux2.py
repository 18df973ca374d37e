"""One weighted training stream for the frontier backend: synthetic world + replay + real data.

Components, each with a weight (normalised to probabilities):

- ``"synthetic"``: the project's training mixture (:mod:`openbanana.data.mixture`: generation,
  editing and a share of vision tasks rendered on the fly), configured by ``synthetic``;
- ``"replay"``: text-to-image and edit samples the frozen base model generated
  (:mod:`openbanana.data.flux2_replay`), which keep its generation ability;
- any data set the evaluation adapters read (a key of
  :data:`openbanana.data.sources.SOURCES`, e.g. ``"cityscapes"``, ``"refcocog"``), configured in
  ``real[name]`` (constructor keywords such as ``root`` and ``split``; use a *training* split).
  Each record's image is the input; one of its targets is drawn in the task's colour code with a
  random phrasing of the task's instruction. Depth pixels without ground truth are filled from the
  nearest valid pixel (the loss is in latent space and cannot mask); records with less than
  ``min_valid`` valid depth are skipped. Images are centre-cropped to a square and resized
  (answers with nearest-neighbour, so colour codes stay exact).

It is the training data source ``"flux2"`` of
:data:`~openbanana.data.training_sources.TRAINING_SOURCES` (:class:`BlendConfig`,
:func:`build_dataset`); select it with ``"data_source": "flux2"`` (see docs/frontier.md). Component choice at rank-stream position ``j`` depends only on
``(seed, rank, j)``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt
from torch.utils.data import IterableDataset, get_worker_info

import openbanana.data.sources as pkg
from openbanana.data import mixture
from openbanana.data.flux2_replay import ReplayDataset
from openbanana.data.sources.base import SOURCES
from openbanana.tasks import TASKS, encode

SPECIAL = ("synthetic", "replay")


def _sources():
    """The data-source registry with every adapter module under ``openbanana.data.sources`` imported."""
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("base", "fixtures", "depth_common") and not mod.name.startswith("_"):
            try:
                importlib.import_module(f"{pkg.__name__}.{mod.name}")
            except ImportError:  # an adapter whose optional dependency is missing
                pass
    return SOURCES


@dataclass
class BlendConfig:
    """Attributes:
    weights: component name -> weight (``synthetic``, ``replay``, or a real source name).
    synthetic: fields of :class:`openbanana.data.mixture.MixtureConfig` (``size`` filled in).
    replay_dir: directory written by :func:`~openbanana.data.flux2_replay.write_replay_shards`.
    real: source name -> constructor keywords (``{"root": "/data/cityscapes", "split": "train"}``).
    size: square side in pixels. split: ``"train"`` or ``"val"`` (synthetic and replay).
    min_valid: least share of valid depth pixels for a real depth record to be used.
    """

    weights: dict[str, float] = field(default_factory=lambda: {"synthetic": 0.8, "replay": 0.2})
    synthetic: dict[str, Any] = field(default_factory=dict)
    replay_dir: str | None = None
    real: dict[str, dict[str, Any]] = field(default_factory=dict)
    size: int = 512
    split: str = "train"
    min_valid: float = 0.5

    def __post_init__(self) -> None:
        SOURCES = _sources()
        problems = []
        if not self.weights or sum(self.weights.values()) <= 0 or any(w < 0 for w in self.weights.values()):
            problems.append(f"weights must be >= 0 with a positive sum, got {self.weights}")
        for name in self.weights:
            if name not in SPECIAL and name not in SOURCES:
                problems.append(f"unknown component {name!r}; expected synthetic, replay or one of {SOURCES.names()}")
            if name not in SPECIAL and name not in self.real and self.weights[name] > 0:
                problems.append(f"component {name!r} needs its constructor keywords in real[{name!r}]")
        if self.weights.get("replay", 0) > 0 and not self.replay_dir:
            problems.append("replay has a weight but replay_dir is not set")
        if problems:
            raise ValueError("invalid BlendConfig:\n  " + "\n  ".join(problems))


def _square(rgb: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    img = Image.fromarray(np.ascontiguousarray(rgb[y : y + s, x : x + s]))
    return np.array(img.resize((size, size), Image.NEAREST if nearest else Image.BICUBIC))


def _fill_invalid_depth(depth_m: np.ndarray, valid: np.ndarray) -> np.ndarray:
    _, (iy, ix) = distance_transform_edt(~valid, return_indices=True)
    return depth_m[iy, ix]


def real_sample(source: Any, index: int, rng: np.random.Generator, size: int, min_valid: float) -> dict | None:
    """Record ``index`` of a benchmark source as a training sample (None when unusable)."""
    rec = source[index]
    if not rec.targets:
        return None
    t = rec.targets[int(rng.integers(len(rec.targets)))]
    gt = t.gt
    if t.task == "depth":
        valid = np.isfinite(gt) & (gt > 0)
        if t.valid is not None:
            valid &= t.valid
        if valid.mean() < min_valid:
            return None
        gt = _fill_invalid_depth(gt.astype(np.float32), valid)
    answer = encode(t.task, gt, **t.spec)
    prompt = TASKS.get(t.task).instruction(rng, **t.spec)
    return {"cond": _square(rec.image, size, nearest=False), "target": _square(answer, size, nearest=True),
            "prompt": prompt, "task": t.task, "spec": t.spec}


def _real_stream(name: str, kwargs: dict[str, Any], cfg: BlendConfig, seed: int, slot: int, slots: int
                 ) -> Iterator[dict]:
    kw = dict(kwargs)
    if "root" in kw:
        kw["root"] = Path(kw["root"])
    source = _sources().get(name)(**kw)
    if len(source) == 0:
        raise ValueError(f"real source {name!r} is empty")
    epoch = 0
    while True:
        order = np.random.default_rng([seed, epoch]).permutation(len(source))
        mine = order[slot::slots] if len(source) >= slots else np.roll(order, -slot)
        for k in mine:
            s = real_sample(source, int(k), np.random.default_rng([seed, epoch, int(k)]), cfg.size, cfg.min_valid)
            if s is not None:
                yield s
        epoch += 1


class BlendDataset(IterableDataset):
    """Endless stream of this rank's samples (sample dicts as :mod:`openbanana.data.mixture` yields)."""

    def __init__(self, cfg: BlendConfig, *, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.cfg, self.seed, self.rank, self.world_size = cfg, seed, rank, world_size
        names = [n for n, w in cfg.weights.items() if w > 0]
        self.names = names
        p = np.array([cfg.weights[n] for n in names], dtype=np.float64)
        self.probs = p / p.sum()

    def _streams(self, w: int, n: int) -> dict[str, Iterator[dict]]:
        cfg, out = self.cfg, {}
        slot, slots = self.rank * n + w, self.world_size * n
        for name in self.names:
            if name == "synthetic":
                mcfg = mixture.MixtureConfig(**{"size": cfg.size, "split": cfg.split, **cfg.synthetic})
                # worker sharding happens inside the mixture dataset; consume it directly here
                ds = mixture.build_dataset(mcfg, seed=self.seed, rank=slot, world_size=slots)
                out[name] = iter(ds)
            elif name == "replay":
                out[name] = iter(ReplayDataset(cfg.replay_dir, split=cfg.split, size=cfg.size, seed=self.seed,
                                               rank=slot, world_size=slots))
            else:
                out[name] = _real_stream(name, cfg.real[name], cfg, self.seed, slot, slots)
        return out

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        w, n = (info.id, info.num_workers) if info else (0, 1)
        streams = self._streams(w, n)
        j = w
        while True:
            u = np.random.default_rng([self.seed, self.rank, j]).random()
            name = self.names[int(np.searchsorted(np.cumsum(self.probs), u, side="right").clip(0, len(self.names) - 1))]
            sample = next(streams[name])
            yield {**sample, "component": name}
            j += n


def build_dataset(cfg: BlendConfig, *, seed: int, rank: int = 0, world_size: int = 1) -> BlendDataset:
    """The stream of one training process (``DataLoader(ds, batch_size=None, collate_fn=lambda s: s)``)."""
    return BlendDataset(cfg, seed=seed, rank=rank, world_size=world_size)


