"""Named colours, materials and procedural textures.

Textures are evaluated per shading point from 2-D surface coordinates in metres (box-mapped in
the part's own frame), so a checker on a 5 m floor and on a 0.3 m box both have metric squares.
All texture functions take an array namespace ``xp`` (numpy or torch) so the CPU renderer and the
batched torch renderer share one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Named colours (sRGB, 0-255). Object colour names in captions and expressions come from here.
COLOR_NAMES: dict[str, tuple[int, int, int]] = {
    "red": (200, 32, 32),
    "orange": (235, 120, 20),
    "yellow": (232, 200, 40),
    "green": (46, 150, 56),
    "blue": (34, 74, 200),
    "purple": (122, 52, 160),
    "pink": (240, 134, 172),
    "brown": (118, 74, 40),
    "white": (236, 236, 230),
    "gray": (128, 128, 128),
    "black": (28, 28, 28),
    "teal": (30, 150, 160),
    "beige": (214, 194, 150),
}

#: Texture kinds and their integer codes. The ``shift`` split alone uses HELD_OUT_TEXTURES.
TEXTURES: tuple[str, ...] = (
    "flat", "checker", "stripes", "noise", "wood", "tiles", "brick", "image", "facade", "grass",
    "dots", "marble", "hexagons",
)
TEXTURE_ID = {name: i for i, name in enumerate(TEXTURES)}
HELD_OUT_TEXTURES = frozenset({"dots", "marble", "hexagons"})


@dataclass(slots=True)
class Material:
    """Surface appearance of a part.

    Args:
        color: base colour, sRGB floats in [0, 1].
        texture: one of TEXTURES.
        color2: second colour of the texture (sRGB [0, 1]).
        scale_m: texture period in metres.
        specular: Blinn-Phong specular weight in [0, 1]; shininess its exponent.
        emissive: self-emission as a multiple of the base colour (lamps, windows, screens).
        image: index into the procedural image bank for ``texture == "image"``.
    """

    color: tuple[float, float, float]
    texture: str = "flat"
    color2: tuple[float, float, float] = (0.5, 0.5, 0.5)
    scale_m: float = 0.25
    specular: float = 0.05
    shininess: float = 16.0
    emissive: float = 0.0
    image: int = 0
    salt: float = 0.0  # per-material noise seed (never derived from part order, so edits stay local)


# the same colours as sRGB floats in [0, 1] (divided once here, not per call)
UNIT_COLORS: dict[str, tuple[float, float, float]] = {
    name: (r / 255.0, g / 255.0, b / 255.0) for name, (r, g, b) in COLOR_NAMES.items()
}


def named(name: str, rng=None, jitter: float = 0.06) -> tuple[float, float, float]:
    """sRGB floats of a named colour, optionally jittered by ``rng.uniform(a, b)`` (staying well
    inside the name)."""
    r, g, b = UNIT_COLORS[name]
    if rng is None or jitter <= 0:
        return (r, g, b)
    u = rng.uniform
    k = 1.0 + u(-jitter, jitter)
    # draw order: k, then r, g, b
    r = min(1.0, max(0.0, r * k + u(-jitter, jitter) * 0.3))
    g = min(1.0, max(0.0, g * k + u(-jitter, jitter) * 0.3))
    return (r, g, min(1.0, max(0.0, b * k + u(-jitter, jitter) * 0.3)))


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.clip(c, 0, 1) ** 2.2


# ----------------------------------------------------------------------------- image bank
IMAGE_BANK_SIZE = 24
_IMG = 32


def image_bank() -> np.ndarray:
    """Procedural 'image-like' textures (paintings, posters, screens): (N, 32, 32, 3) linear float32.

    Smooth colour fields with blobs, horizons and stripes; deterministic, built once.
    """
    global _BANK
    try:
        return _BANK
    except NameError:
        pass
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:_IMG, 0:_IMG] / (_IMG - 1.0)
    out = np.zeros((IMAGE_BANK_SIZE, _IMG, _IMG, 3))
    for k in range(IMAGE_BANK_SIZE):
        top, bottom = rng.uniform(0.1, 0.95, 3), rng.uniform(0.05, 0.8, 3)
        horizon = rng.uniform(0.3, 0.7)
        img = np.where((yy < horizon)[..., None], top, bottom) * 1.0
        img = img * (0.75 + 0.25 * np.cos(3 * yy + rng.uniform(0, 6)))[..., None]
        for _ in range(rng.integers(2, 6)):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.06, 0.3)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r))[..., None]
            img = img * (1 - blob) + blob * rng.uniform(0, 1, 3)
        if rng.uniform() < 0.3:
            img = img * (0.8 + 0.2 * np.sign(np.sin(xx * rng.uniform(10, 30))))[..., None]
        out[k] = np.clip(img, 0, 1) ** 2.2
    _BANK = out.astype(np.float32)
    return _BANK


# ----------------------------------------------------------------------------- texture math
def _hash2(xp, ix, iy, salt):
    h = xp.sin(ix * 12.9898 + iy * 78.233 + salt * 37.719) * 43758.5453
    return h - xp.floor(h)


def value_noise(xp, u, v, salt=0.0):
    """Smooth value noise in [0, 1] on a unit lattice."""
    iu, iv = xp.floor(u), xp.floor(v)
    fu, fv = u - iu, v - iv
    fu = fu * fu * (3 - 2 * fu)
    fv = fv * fv * (3 - 2 * fv)
    a = _hash2(xp, iu, iv, salt)
    b = _hash2(xp, iu + 1, iv, salt)
    c = _hash2(xp, iu, iv + 1, salt)
    d = _hash2(xp, iu + 1, iv + 1, salt)
    return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv


_TILE = 128  # texels per tile side; one tile spans 4 lattice units of fbm() (period 4)
_TILE_CACHE: dict = {}


def _noise_tile() -> np.ndarray:
    """A periodic fbm tile (values in [0, 1]) built once: cheap noise by table lookup."""
    if "np" not in _TILE_CACHE:
        rng = np.random.default_rng(11)
        out = np.zeros((_TILE, _TILE))
        amp, norm = 1.0, 0.0
        for lattice in (8, 16, 32, 64):
            g = rng.uniform(0, 1, (lattice, lattice))
            x = np.arange(_TILE) * lattice / _TILE
            i0 = np.floor(x).astype(int)
            f = x - i0
            f = f * f * (3 - 2 * f)
            i1 = (i0 + 1) % lattice
            rows = g[i0] * (1 - f)[:, None] + g[i1] * f[:, None]
            out += amp * (rows[:, i0] * (1 - f)[None] + rows[:, i1] * f[None])
            norm += amp
            amp *= 0.5
        out /= norm
        out = (out - out.min()) / (out.max() - out.min())
        _TILE_CACHE["np"] = out.astype(np.float32)
    return _TILE_CACHE["np"]


def noise_lookup(xp, u, v, salt=0.0):
    """Periodic fbm noise in [0, 1] by nearest lookup: feature size ~0.5 units, period 4 units."""
    tile = _noise_tile()
    if xp is not np:
        key = str(u.device)
        if key not in _TILE_CACHE:
            _TILE_CACHE[key] = xp.as_tensor(tile, device=u.device)
        tile = _TILE_CACHE[key]
    k = _TILE / 4.0
    iu = xp.floor((u + salt * 0.37) * k) % _TILE
    iv = xp.floor((v + salt * 0.61) * k) % _TILE
    if xp is np:
        return tile[iv.astype(np.int64), iu.astype(np.int64)]
    return tile[iv.long(), iu.long()]


def fbm(xp, u, v, salt=0.0, octaves=3):
    total, amp, norm = 0.0, 1.0, 0.0
    for o in range(octaves):
        total = total + amp * value_noise(xp, u, v, salt + o * 17.0)
        norm += amp
        u, v, amp = u * 2.03, v * 2.03, amp * 0.5
    return total / norm


def texture_mix(xp, tex_id: int, u, v, fade, salt, img_u=None, img_v=None, image_index=None):
    """Texture weight or colour at surface coordinates (u, v) in texture periods.

    Returns ``(w, rgb_override)``: w in [0, 1] mixes color -> color2 (w = 0 is pure base colour);
    rgb_override (linear RGB) replaces the mix for image textures, else None. ``fade`` in [0, 1]
    (0 = texture period well above a pixel) pulls the pattern to its mean to avoid aliasing.
    """
    name = TEXTURES[tex_id]
    if name == "flat":
        return None, None
    if name == "checker":
        w = (xp.floor(u) + xp.floor(v)) % 2
    elif name == "stripes":
        w = xp.floor(u) % 2
    elif name == "noise":
        w = noise_lookup(xp, u, v, salt)
    elif name == "wood":
        plank = xp.floor(v)
        grain = xp.sin((u * 1.3 + noise_lookup(xp, u * 0.3, v * 3.0, salt) * 3.0) * 9.0) * 0.5 + 0.5
        seam = ((v - plank) < 0.04) * 1.0
        w = (0.55 * grain + 0.45 * _hash2(xp, plank, xp.floor(u * 0.25 + plank * 0.37), salt)) * (1 - seam) + seam
    elif name == "tiles":
        fu, fv = u - xp.floor(u), v - xp.floor(v)
        grout = ((fu < 0.05) | (fv < 0.05)) * 1.0
        w = grout + (1 - grout) * 0.25 * _hash2(xp, xp.floor(u), xp.floor(v), salt)
    elif name == "brick":
        row = xp.floor(v * 3.0)
        uu = u * 1.5 + (row % 2) * 0.5
        fu, fv = uu - xp.floor(uu), v * 3.0 - row
        mortar = ((fu < 0.06) | (fv < 0.1)) * 1.0
        w = mortar + (1 - mortar) * 0.35 * _hash2(xp, xp.floor(uu), row, salt)
    elif name == "grass":
        w = noise_lookup(xp, u * 2.0, v * 2.0, salt) * 0.7 + 0.3 * noise_lookup(xp, u * 11.5, v * 11.5, salt + 5)
    elif name == "facade":
        # u, v in metres / period; windows in the middle of each cell, unlit or warmly lit
        fu, fv = u - xp.floor(u), v - xp.floor(v)
        win = ((fu > 0.22) & (fu < 0.78) & (fv > 0.25) & (fv < 0.8)) * 1.0
        w = win * (0.75 + 0.25 * _hash2(xp, xp.floor(u), xp.floor(v), salt))
    elif name == "image":
        return None, "image"
    elif name == "dots":
        fu, fv = u - xp.floor(u) - 0.5, v - xp.floor(v) - 0.5
        w = ((fu * fu + fv * fv) < 0.09) * 1.0
    elif name == "marble":
        w = xp.sin(u * 3.0 + noise_lookup(xp, u * 0.5, v * 0.5, salt) * 8.0) * 0.5 + 0.5
        w = w * w * w
    elif name == "hexagons":
        # distance to the nearest hexagon centre on a hex lattice; edges get color2
        q = u * 1.1547
        r = v - u * 0.57735
        rq, rr = xp.floor(q + 0.5), xp.floor(r + 0.5)
        dq, dr = q - rq, r - rr
        edge = xp.abs(dq) + xp.abs(dr) + xp.abs(dq + dr)
        w = (edge > 0.8) * 1.0
    else:  # pragma: no cover - TEXTURES and this function are kept in step by tests
        raise ValueError(f"unknown texture {name!r}")
    mean = {"checker": 0.5, "stripes": 0.5, "dots": 0.28, "hexagons": 0.3, "facade": 0.3}.get(name)
    if mean is not None:
        w = w * (1 - fade) + mean * fade
    return w, None
