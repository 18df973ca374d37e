"""A tiny deterministic data source with the interface of :mod:`openbanana.data.mixture`.

For tests and smoke runs of the training loop without the renderer: sample ``i`` of rank ``r`` is a
pure function of ``(seed, split, r, i)``, so runs and resumes are reproducible. Tasks:

- ``t2i``: "a <colour> square on <colour>" -> the square drawn at a position named in words;
- ``edit``: a random two-colour image + "swap red and blue" / "make it darker" -> the edited image;
- ``depth`` (a dense task): a random image -> its brightness drawn in grayscale ("brightness map").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220), "yellow": (230, 220, 40),
           "white": (240, 240, 240), "black": (15, 15, 15)}
PLACES = {"top left": (0, 0), "top right": (0, 1), "bottom left": (1, 0), "bottom right": (1, 1)}


@dataclass
class ToyConfig:
    """Attributes: size (pixels), split ("train"/"val"), vision_share (share of ``depth`` samples),
    edit_share (share of ``edit`` samples; the rest is ``t2i``)."""

    size: int = 32
    split: str = "train"
    vision_share: float = 0.1
    edit_share: float = 0.3


def render_sample(cfg: ToyConfig, seed: int, rank: int, index: int) -> dict:
    """Sample ``index``: ``{"cond": uint8 HxWx3 or None, "target": uint8 HxWx3, "prompt", "task"}``."""
    split_id = {"train": 0, "val": 1}.get(cfg.split, 2)
    rng = np.random.default_rng([seed, split_id, rank, index])
    s = cfg.size
    u = rng.random()
    names = list(COLOURS)
    if u < cfg.vision_share or u < cfg.vision_share + cfg.edit_share:
        a, b = rng.choice(len(names), 2, replace=False)
        img = np.empty((s, s, 3), np.uint8)
        img[:] = COLOURS[names[a]]
        y0, x0 = rng.integers(0, s // 2, 2)
        img[y0 : y0 + s // 2, x0 : x0 + s // 2] = COLOURS[names[b]]
        if u < cfg.vision_share:
            gray = img.astype(np.float32).mean(-1, keepdims=True).round().astype(np.uint8)
            return {"cond": img, "target": np.repeat(gray, 3, -1), "prompt": "brightness map", "task": "depth"}
        if rng.random() < 0.5:
            return {"cond": img, "target": img[..., ::-1].copy(), "prompt": "swap red and blue", "task": "edit"}
        return {"cond": img, "target": (img // 2).astype(np.uint8), "prompt": "make it darker", "task": "edit"}
    fg, bg = rng.choice(len(names), 2, replace=False)
    place = list(PLACES)[rng.integers(len(PLACES))]
    img = np.empty((s, s, 3), np.uint8)
    img[:] = COLOURS[names[bg]]
    r, c = PLACES[place]
    img[r * s // 2 : (r + 1) * s // 2, c * s // 2 : (c + 1) * s // 2] = COLOURS[names[fg]]
    return {"cond": None, "target": img, "prompt": f"a {names[fg]} square at the {place} on {names[bg]}",
            "task": "t2i"}


class ToyDataset(IterableDataset):
    """Endless stream of this rank's samples from ``start``; worker w of W yields indices
    ``start + w, start + w + W, ...`` so a sample-level DataLoader sees them in index order."""

    def __init__(self, cfg: ToyConfig, *, seed: int, rank: int = 0, world_size: int = 1, start: int = 0) -> None:
        self.cfg, self.seed, self.rank, self.world_size, self.start = cfg, seed, rank, world_size, start

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        w, W = (info.id, info.num_workers) if info else (0, 1)
        i = self.start + w
        while True:
            yield render_sample(self.cfg, self.seed, self.rank, i)
            i += W


def build_dataset(cfg: ToyConfig, *, seed: int, rank: int = 0, world_size: int = 1, start: int = 0) -> ToyDataset:
    return ToyDataset(cfg, seed=seed, rank=rank, world_size=world_size, start=start)


