"""Scene-building primitives: the random stream, the Builder that accumulates parts, objects and
lights of one scene, and the constants the room and street builders share."""

from __future__ import annotations

import math
import random

import numpy as np

from openbanana.data.synthetic.materials import COLOR_NAMES, UNIT_COLORS, Material
from openbanana.data.synthetic.scene import Light, Part, SceneObject
from openbanana.data.synthetic.splits import SplitConfig

# the shift split never shows a train pattern: each is replaced by a held-out one
SHIFT_TEXTURE = {"checker": "dots", "stripes": "hexagons", "wood": "marble", "tiles": "hexagons", "brick": "dots"}
MAX_SHADOWED = 3
OBJECT_COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "teal")
WOOD_COLORS = ("brown", "beige", "black", "white")
# SceneObject.color_rgb of each colour name (grey for names outside the palette)
_OBJECT_RGB = {name: tuple(int(c) for c in rgb) for name, rgb in COLOR_NAMES.items()}
_GRAY_RGB = (128, 128, 128)


class FastRng(random.Random):
    """Python's Mersenne twister with the few numpy-style calls the builders use (much cheaper per
    scalar draw than numpy's Generator, which matters at ~1000 draws per scene).

    ``integers`` draws exactly what ``randrange`` would (one ``_randbelow`` of the width), without
    randrange's argument coercion; ``choice`` is random.Random's (one ``_randbelow`` of the length)."""

    def uniform(self, a: float = 0.0, b: float = 1.0) -> float:  # type: ignore[override]
        return a + (b - a) * self.random()

    def integers(self, lo: int, hi: int | None = None) -> int:
        if hi is None:
            lo, hi = 0, lo
        if hi <= lo:
            raise ValueError(f"integers needs lo < hi, got lo={lo}, hi={hi}")
        return lo + self._randbelow(hi - lo)

    def poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.random()
        rnd = self.random
        while p > limit:
            k += 1
            p *= rnd()
        return k


class Yaw:
    """``rot_y(deg)`` acting on horizontal offsets (u, 0, v), giving their world (x, z) offsets
    bit-identical to ``rot_y(deg) @ np.array([u, 0, v])``.

    numpy's 3x3 matmul accumulates each row with fused multiply-adds (c * u, then + s * v in one
    rounding), which Python floats cannot reproduce, so an offset with both u and v nonzero still
    goes through numpy (and comes back as numpy floats, as before): ``matrix.dot`` of one (u, 0, v)
    vector reused per Yaw, the same BLAS matrix-vector product as ``@`` at half its cost (no array
    built per call, no matmul ufunc dispatch). A single-axis offset is one
    exact product plus zeros: plain float arithmetic (``+ 0.0`` turns -0.0 into 0.0, as the
    accumulation does).
    """

    __slots__ = ("_matrix", "_uv", "c", "s")

    def __init__(self, deg: float) -> None:
        a = math.radians(deg)
        self.c, self.s = math.cos(a), math.sin(a)
        self._matrix = None

    def along_x(self, u: float) -> tuple[float, float]:
        """(x, z) of rot_y @ (u, 0, 0)."""
        return self.c * u + 0.0, -self.s * u + 0.0

    def along_z(self, v: float) -> tuple[float, float]:
        """(x, z) of rot_y @ (0, 0, v)."""
        return self.s * v + 0.0, self.c * v + 0.0

    def offset(self, u: float, v: float):
        """(x, z) of rot_y @ (u, 0, v)."""
        if v == 0:
            return self.along_x(u)
        if u == 0:
            return self.along_z(v)
        if self._matrix is None:
            c, s = self.c, self.s
            self._matrix = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
            self._uv = np.zeros(3)  # (u, 0, v), filled per call
        uv = self._uv
        uv[0], uv[2] = u, v
        o = self._matrix.dot(uv)
        return o[0], o[2]


class Builder:
    """Accumulates parts and objects of one scene."""

    def __init__(self, rng: FastRng, cfg: SplitConfig) -> None:
        self.rng = rng
        self.cfg = cfg
        self.parts: list[Part] = []
        self.objects: list[SceneObject] = []
        self.lights: list[Light] = []
        self.footprints: list[tuple[float, float, float]] = []  # (x, z, radius) on the floor
        self.surfaces: list[tuple[int, float, float, float, float, float, float]] = []  # id, x, z, w, d, y, yaw
        self._textures = SHIFT_TEXTURE if cfg.name == "shift" else {}

    # -- primitives ---------------------------------------------------------------------
    def part(self, shape, size, pos, material, cls, inst=0, yaw=0.0, tilt=None, caster=True):
        self.parts.append(Part(shape, (float(size[0]), float(size[1]), float(size[2])),
                               (float(pos[0]), float(pos[1]), float(pos[2])), float(yaw), tilt, material, cls,
                               inst, caster))

    def new_object(self, cls, color_name, size, pos, shape="box", support=None, rolls=False) -> int:
        inst = len(self.objects) + 1
        self.objects.append(SceneObject(inst, cls, color_name, _OBJECT_RGB.get(color_name, _GRAY_RGB),
                                        (float(size[0]), float(size[1]), float(size[2])),
                                        (float(pos[0]), float(pos[1]), float(pos[2])), shape, support, rolls))
        return inst

    def mat(self, color_name, texture="flat", color2=None, scale=0.25, specular=0.05, shininess=16.0,
            emissive=0.0, jitter=0.06, image=0):
        texture = self._textures.get(texture, texture)
        c = self.color(color_name, jitter)
        if isinstance(color2, str):
            c2 = self.color(color2, jitter)
        elif color2 is None:
            c2 = (c[0] * 0.6, c[1] * 0.6, c[2] * 0.6)
        else:
            c2 = color2
        return Material(c, texture, c2, scale, specular, shininess, emissive, image, float(self.rng._randbelow(64)))

    def color(self, name: str, jitter: float = 0.06) -> tuple[float, float, float]:
        """``named(name, self.rng, jitter)``: the same four draws and the same arithmetic, written
        out on ``random()`` (a + (b - a) * r is what ``uniform(a, b)`` computes), as materials
        take ~150 jittered colours per scene."""
        r, g, b = UNIT_COLORS[name]
        if jitter <= 0:
            return (r, g, b)
        rnd = self.rng.random
        lo, span = -jitter, jitter - -jitter
        k = 1.0 + (lo + span * rnd())
        r = r * k + (lo + span * rnd()) * 0.3
        g = g * k + (lo + span * rnd()) * 0.3
        b = b * k + (lo + span * rnd()) * 0.3
        # min(1.0, max(0.0, v)) each (one chained comparison for the usual value inside)
        return (r if 0.0 < r < 1.0 else (1.0 if r >= 1.0 else 0.0), g if 0.0 < g < 1.0 else (1.0 if g >= 1.0 else 0.0),
                b if 0.0 < b < 1.0 else (1.0 if b >= 1.0 else 0.0))

    def pattern(self) -> str:
        return str(self.choice(self.cfg.patterns))

    def free(self, x, z, r, pad=0.05) -> bool:
        """Whether a disc of radius r (plus pad) at (x, z) keeps clear of every footprint, decided
        by ``dx ** 2 + dz ** 2 < (r + fr + pad) ** 2``. ``**`` is a libm pow call and not always
        the rounded product, so products (much cheaper) decide all but the near ties, within 1e-9
        of the limit, which ``**`` decides as before."""
        for fx, fz, fr in self.footprints:
            dx, dz, lim = x - fx, z - fz, r + fr + pad
            d, limit = dx * dx + dz * dz, lim * lim
            if d < limit * 0.999999999 or (d <= limit * 1.000000001 and dx ** 2 + dz ** 2 < lim ** 2):
                return False
        return True

    def choice(self, seq):
        n = len(seq)
        if not n:
            raise ValueError("choice needs a non-empty sequence")
        return seq[self.rng._randbelow(n)]  # what random.Random.choice draws
