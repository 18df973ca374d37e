"""Scene-building primitives: the random stream, the Builder that accumulates parts, objects and
lights of one scene, and the constants the room and street builders share."""

from __future__ import annotations

import math
import random

import numpy as np

from openbanana.data.synthetic.materials import COLOR_NAMES, Material, named
from openbanana.data.synthetic.scene import Light, Part, SceneObject
from openbanana.data.synthetic.splits import SplitConfig

# the shift split never shows a train pattern: each is replaced by a held-out one
SHIFT_TEXTURE = {"checker": "dots", "stripes": "hexagons", "wood": "marble", "tiles": "hexagons", "brick": "dots"}
MAX_SHADOWED = 3
OBJECT_COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "teal")
WOOD_COLORS = ("brown", "beige", "black", "white")


class FastRng(random.Random):
    """Python's Mersenne twister with the few numpy-style calls the builders use (much cheaper per
    scalar draw than numpy's Generator, which matters at ~1000 draws per scene)."""

    def uniform(self, a: float = 0.0, b: float = 1.0) -> float:  # type: ignore[override]
        return a + (b - a) * self.random()

    def integers(self, lo: int, hi: int | None = None) -> int:
        return self.randrange(lo) if hi is None else self.randrange(lo, hi)

    def poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.random()
        while p > limit:
            k += 1
            p *= self.random()
        return k


class Builder:
    """Accumulates parts and objects of one scene."""

    def __init__(self, rng: np.random.Generator, cfg: SplitConfig) -> None:
        self.rng = rng
        self.cfg = cfg
        self.parts: list[Part] = []
        self.objects: list[SceneObject] = []
        self.lights: list[Light] = []
        self.footprints: list[tuple[float, float, float]] = []  # (x, z, radius) on the floor
        self.surfaces: list[tuple[int, float, float, float, float, float, float]] = []  # id, x, z, w, d, y, yaw

    # -- primitives ---------------------------------------------------------------------
    def part(self, shape, size, pos, material, cls, inst=0, yaw=0.0, tilt=None, caster=True):
        self.parts.append(Part(shape, (float(size[0]), float(size[1]), float(size[2])),
                               (float(pos[0]), float(pos[1]), float(pos[2])), float(yaw), tilt, material, cls,
                               inst, caster))

    def new_object(self, cls, color_name, size, pos, shape="box", support=None, rolls=False) -> int:
        inst = len(self.objects) + 1
        rgb = tuple(int(c) for c in COLOR_NAMES.get(color_name, (128, 128, 128)))
        self.objects.append(SceneObject(inst, cls, color_name, rgb, tuple(float(s) for s in size),
                                        tuple(float(p) for p in pos), shape, support, rolls))
        return inst

    def mat(self, color_name, texture="flat", color2=None, scale=0.25, specular=0.05, shininess=16.0,
            emissive=0.0, jitter=0.06, image=0):
        if self.cfg.name == "shift":
            texture = SHIFT_TEXTURE.get(texture, texture)
        c = named(color_name, self.rng, jitter)
        c2 = named(color2, self.rng, jitter) if isinstance(color2, str) else (
            color2 if color2 is not None else (c[0] * 0.6, c[1] * 0.6, c[2] * 0.6))
        return Material(c, texture, c2, scale, specular, shininess, emissive, image, float(self.rng.randrange(64)))

    def pattern(self) -> str:
        return str(self.rng.choice(self.cfg.patterns))

    def free(self, x, z, r, pad=0.05) -> bool:
        return all((x - fx) ** 2 + (z - fz) ** 2 >= (r + fr + pad) ** 2 for fx, fz, fr in self.footprints)

    def choice(self, seq):
        return seq[self.rng.randrange(len(seq))]
