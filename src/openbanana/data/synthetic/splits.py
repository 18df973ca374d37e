"""Splits of the synthetic world: ``train``, ``val`` (same distribution, other random streams)
and ``shift`` (held-out shapes, textures, lighting and room types, for zero-shot evaluation).

What ``shift`` holds out, exactly (none of these ever occurs in train or val):
  * room / scene types: indoor ``playroom``, outdoor ``plaza`` (train/val: living room, bedroom,
    kitchen, office; street);
  * shapes: ``knot`` (torus knot), ``gem`` (faceted icosahedron), ``star`` (extruded star);
  * textures: ``dots``, ``marble``, ``hexagons``; in shift scenes every surface that would carry
    a train pattern (checker, stripes, wood, tiles, brick) carries one of these instead. Shared by
    all splits: flat colour, value noise (foliage, bark, asphalt, upholstery), building facades,
    grass and the painting/screen images, whose look defines their class;
  * lighting: saturated coloured lamps indoors and a low dusk sun (elevation 4-12 deg, orange)
    outdoors (train/val: white-to-warm lamps, daylight sun at 20-70 deg).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from openbanana.data.synthetic.materials import HELD_OUT_TEXTURES
from openbanana.data.synthetic.shapes import HELD_OUT_SHAPES

SPLITS: tuple[str, ...] = ("train", "val", "shift")


@dataclass(frozen=True)
class SplitConfig:
    name: str
    salt: int
    indoor_types: tuple[str, ...]
    outdoor_types: tuple[str, ...]
    toy_shapes: tuple[str, ...]
    patterns: tuple[str, ...]  # textures for patterned surfaces (floors, rugs, wallpaper, objects)
    light_mode: str  # "white" | "colored"
    sun_elevation_deg: tuple[float, float]
    indoor_share: float = 0.55


_TRAIN_PATTERNS = ("checker", "stripes", "noise", "wood", "tiles", "brick")
_TRAIN_TOYS = ("torus", "cone", "capsule", "sphere", "cylinder", "box")

SPLIT_CONFIGS: dict[str, SplitConfig] = {
    "train": SplitConfig("train", 0x7A1, ("living", "bedroom", "kitchen", "office"), ("street",),
                         _TRAIN_TOYS, _TRAIN_PATTERNS, "white", (20.0, 70.0)),
    "val": SplitConfig("val", 0x3C5, ("living", "bedroom", "kitchen", "office"), ("street",),
                       _TRAIN_TOYS, _TRAIN_PATTERNS, "white", (20.0, 70.0)),
    "shift": SplitConfig("shift", 0x9E3, ("playroom",), ("plaza",), tuple(sorted(HELD_OUT_SHAPES)),
                         tuple(sorted(HELD_OUT_TEXTURES)), "colored", (4.0, 12.0), indoor_share=0.5),
}


def split_config(split: str) -> SplitConfig:
    """Config of a split; raises ValueError naming the valid splits."""
    if split not in SPLIT_CONFIGS:
        raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(SPLITS)}")
    return SPLIT_CONFIGS[split]


def _check_seed(seed) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")


def scene_rng(seed: int, split: str) -> np.random.Generator:
    """The random stream of scene ``seed`` in ``split`` (independent across splits)."""
    _check_seed(seed)
    return np.random.default_rng([int(seed), split_config(split).salt])


def first_draw(seed: int, split: str) -> int:
    """The first 64-bit output of ``scene_rng(seed, split)``'s bit generator. World sampling and
    language each start from a fresh stream's first bounded draw, which for a power-of-two bound
    numpy takes from this word without rejection: ``integers(2**62)`` is ``first_draw >> 2`` and
    ``integers(2**30)`` is ``(first_draw & 0xFFFFFFFF) >> 2`` (tested). Cached, so a scene's
    language reuses what its world sampling seeded (~11 us per stream)."""
    _check_seed(seed)
    return _first_draw(int(seed), split)


def clear_caches() -> None:
    """Forget the cached first draws (benchmarks that make the same scenes again)."""
    _first_draw.cache_clear()


@lru_cache(maxsize=256)
def _first_draw(seed: int, split: str) -> int:
    return int(scene_rng(seed, split).bit_generator.random_raw())
