"""Depth drawn with other colormaps (plasma, inferno, viridis, grayscale), both directions.

The paper's own depth code is the 7-edge path (:mod:`.depth`, registered here as ``"paper"``).
Training also renders depth with common colormaps as augmentation, the instruction naming the
colormap. Each colormap here has its own documented depth range and scale:

========== ============ ================ ======================================================
name       scale        depth range (m)  colours
========== ============ ================ ======================================================
paper      power        0 .. inf         the 7-edge path, 1786 colours (see :mod:`.depth`)
plasma     log          0.1 .. 80        matplotlib ``plasma``, 256 colours, near = dark
inferno    log          0.1 .. 80        matplotlib ``inferno``, 256 colours, near = dark
viridis    log          0.1 .. 80        matplotlib ``viridis``, 256 colours, near = dark
grayscale  power        0 .. inf         256 grey levels, ``f = 1-(1+d/10)**-2``, near = black
========== ============ ================ ======================================================

``log`` scale: ``u = ln(d/depth_min) / ln(depth_max/depth_min)`` clipped to [0, 1] (depths
outside the range are clipped to it, 0 m -> depth_min, inf -> depth_max); colour index
``round(u * 255)``. ``power`` scale: ``u`` is the paper's power transform.

Decoding finds the nearest colour of the map's curve in RGB, then refines between the two
neighbouring entries by projecting onto the segments to them, so ``u`` is continuous. Runs of
identical neighbouring entries (8-bit rounding gives viridis a few) decode to the run's middle,
so a round trip is within half a level, or one level inside such a run. The colour
tables are read from matplotlib when this module is imported (nothing is copied into the source).
Colormap decoding runs in numpy on the CPU (torch inputs come back as tensors on their device).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib
import numpy as np

from openbanana.registry import Registry
from openbanana.tasks.codecs import depth as _depth
from openbanana.tasks.codecs._array import (
    Array,
    check_map,
    check_rgb,
    first_location,
    like,
    per_pixel,
    to_numpy,
    unique_colors,
)


@dataclass(frozen=True)
class Colormap:
    """A depth colormap.

    Attributes:
        name: registry key.
        lut: (L, 3) uint8 colours from near (index 0) to far (index L-1).
        depth_min_m: depth drawn with the first colour (m).
        depth_max_m: depth drawn with the last colour (m; inf for the power scale).
        scale: ``"log"`` (log-spaced between min and max) or ``"power"`` (paper transform).
        description: one line for docs and instructions.
    """

    name: str
    lut: np.ndarray = field(repr=False)
    depth_min_m: float
    depth_max_m: float
    scale: str
    description: str = ""

    @property
    def levels(self) -> int:
        return int(self.lut.shape[0])

    def depth_to_unit(self, d: np.ndarray) -> np.ndarray:
        """Depth (m, float64, valid) -> position u in [0, 1] along the map."""
        if self.scale == "log":
            lo, hi = np.log(self.depth_min_m), np.log(self.depth_max_m)
            with np.errstate(divide="ignore"):
                u = (np.log(np.clip(d, self.depth_min_m, self.depth_max_m)) - lo) / (hi - lo)
            return np.clip(u, 0.0, 1.0)
        return 1.0 - (1.0 + d / 10.0) ** -2

    def unit_to_depth(self, u: np.ndarray) -> np.ndarray:
        """Position u in [0, 1] -> depth (m). The power scale clips u below 1 (last level -> finite)."""
        if self.scale == "log":
            lo, hi = np.log(self.depth_min_m), np.log(self.depth_max_m)
            return np.exp(lo + np.clip(u, 0.0, 1.0) * (hi - lo))
        top = 1.0 - 0.25 / (self.levels - 1)
        return 10.0 * ((1.0 - np.clip(u, 0.0, top)) ** -0.5 - 1.0)


COLORMAPS: Registry[Colormap] = Registry("colormap")


def _mpl_lut(name: str, n: int = 256) -> np.ndarray:
    cmap = matplotlib.colormaps[name]
    rgba = cmap(np.linspace(0.0, 1.0, n))
    return np.rint(rgba[:, :3] * 255).astype(np.uint8)


def _register_defaults() -> None:
    COLORMAPS.register(
        "paper",
        Colormap("paper", _depth.PATH_RGB, 0.0, float("inf"), "power",
                 "the paper's 7-edge path black-red-yellow-green-cyan-blue-magenta-white"),
    )
    for name in ("plasma", "inferno", "viridis"):
        COLORMAPS.register(
            name,
            Colormap(name, _mpl_lut(name), 0.1, 80.0, "log",
                     f"matplotlib {name}, log-spaced 0.1-80 m, near = dark"),
        )
    gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    COLORMAPS.register(
        "grayscale",
        Colormap("grayscale", gray, 0.0, float("inf"), "power",
                 "256 grey levels along the paper's power transform, near = black"),
    )


_register_defaults()


def get_colormap(name: str | Colormap) -> Colormap:
    """The registered :class:`Colormap` called ``name`` (a Colormap passes through)."""
    if isinstance(name, Colormap):
        return name
    return COLORMAPS.get(name)


def encode_depth_colormap(depth_m: Array, name: str = "plasma", *, invalid: str = "error") -> Array:
    """Draw metric depth with colormap ``name``.

    Args:
        depth_m: depth (m), (H, W) or (B, H, W), numpy or torch. Values outside the map's range
            are clipped to it.
        name: a key of :data:`COLORMAPS`.
        invalid: NaN/-inf/negative handling, as in :func:`.depth.encode_depth`
            (``"error"``, ``"mask"`` -> ``(rgb, valid)``, ``"black"``); invalid pixels get the
            map's first colour.
    Returns:
        uint8 RGB of shape depth_m.shape + (3,), same kind/device.
    """
    cmap = get_colormap(name)
    if cmap.name == "paper":
        return _depth.encode_depth(depth_m, invalid=invalid)
    if invalid not in _depth.INVALID_RULES:
        raise ValueError(f"invalid: expected one of {_depth.INVALID_RULES}, got {invalid!r}")
    check_map(depth_m, "depth_m", kind="float")
    d = to_numpy(depth_m).astype(np.float64)
    bad = np.isnan(d) | (d < 0)
    if bad.any():
        if invalid == "error":
            loc = first_location(bad)
            raise ValueError(
                f"depth_m: expected metric depths in [0, inf], got {int(bad.sum())} invalid value(s) "
                f"(NaN/-inf/negative), the first at index {loc} = {d[loc]!r}"
            )
        d = np.where(bad, 0.0, d)
    u = cmap.depth_to_unit(d)
    idx = np.clip(np.rint(u * (cmap.levels - 1)).astype(np.intp), 0, cmap.levels - 1)
    rgb = cmap.lut[idx]
    if bad.any():
        rgb[bad] = cmap.lut[0]
    out = like(rgb, depth_m)
    if invalid == "mask":
        return out, like(~bad, depth_m)
    return out


def _curve_nodes(lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse runs of identical consecutive colours (8-bit rounding makes some) into one node
    placed at the run's mean index. Returns (nodes (M, 3) float64, positions (M,) float64)."""
    change = np.ones(lut.shape[0], bool)
    change[1:] = (lut[1:] != lut[:-1]).any(1)
    run = np.cumsum(change) - 1
    counts = np.bincount(run)
    pos = np.bincount(run, weights=np.arange(lut.shape[0], dtype=np.float64)) / counts
    return lut[change].astype(np.float64), pos


def _curve_position(colors: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Continuous position in [0, L-1] of each colour (U, 3) on the polyline through ``lut``:
    the nearest node, refined by projecting onto the segments to its two neighbours."""
    nodes, node_pos = _curve_nodes(lut)
    m = nodes.shape[0]
    c = nodes.astype(np.float32)
    c2 = (c * c).sum(1)
    out = np.empty(colors.shape[0], np.float64)
    step = max(1, (1 << 22) // m)
    for s in range(0, colors.shape[0], step):
        x = colors[s : s + step].astype(np.float32)
        d = (x * x).sum(1, keepdims=True) - 2.0 * (x @ c.T) + c2[None]
        j = np.argmin(d, axis=1)
        best_pos = node_pos[j]
        best_d = np.full(j.shape, np.inf)
        xd = x.astype(np.float64)
        a = nodes[j]
        for nb in (-1, 1):
            k = np.clip(j + nb, 0, m - 1)
            e = nodes[k] - a
            e2 = (e * e).sum(1)
            t = np.clip(((xd - a) * e).sum(1) / np.maximum(e2, 1e-12), 0.0, 1.0)
            r = xd - (a + t[:, None] * e)
            dd = (r * r).sum(1)
            better = dd < best_d
            best_d = np.where(better, dd, best_d)
            best_pos = np.where(better, node_pos[j] + t * (node_pos[k] - node_pos[j]), best_pos)
        out[s : s + step] = best_pos
    return out


def decode_depth_colormap(rgb: Array, name: str = "plasma") -> Array:
    """Decode an RGB depth rendering drawn with colormap ``name`` back to metres.

    Args:
        rgb: uint8 RGB, (H, W, 3) or (B, H, W, 3), numpy or torch.
        name: a key of :data:`COLORMAPS`.
    Returns:
        float32 depth (m), shape rgb.shape[:-1], within the map's range, same kind/device.
    """
    cmap = get_colormap(name)
    if cmap.name == "paper":
        return _depth.decode_depth(rgb)
    check_rgb(rgb)
    x = np.ascontiguousarray(to_numpy(rgb))
    uniq, keys, idx = unique_colors(x)
    u = _curve_position(uniq, cmap.lut) / (cmap.levels - 1)
    depth = per_pixel(keys, cmap.unit_to_depth(u).astype(np.float32), idx).reshape(x.shape[:-1])
    return like(depth, rgb)


__all__ = [
    "COLORMAPS",
    "Colormap",
    "decode_depth_colormap",
    "encode_depth_colormap",
    "get_colormap",
]
