"""What both CPU engines (``render.py``'s numpy engine, ``render_fast.py``'s compiled one) share
about a frame: the anti-aliasing pattern of edge pixels, a spec's part rows and their frames, and
the per-sample facts of a render's result that edit masks read.

Below both engines, so that ``render`` can dispatch to ``render_fast`` without an import cycle.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from openbanana.data.synthetic.classes import CLASS_ID
from openbanana.data.synthetic.materials import TEXTURE_ID
from openbanana.data.synthetic.scene import WorldSpec


# ----------------------------------------------------------------------------- anti-aliasing
@dataclass(frozen=True)
class AAPattern:
    """Anti-aliasing subsamples of edge pixels by the pixel's edge kind (``edge_kinds``): kind k
    takes the first ``counts[k]`` of ``offsets[k]``, in pixels from the pixel centre.

    Shape: offsets (3, K_max, 2) float32 (x right, y down; padded), counts (3,) int64.
    """

    offsets: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        off = np.ascontiguousarray(self.offsets, np.float32)
        cnt = np.ascontiguousarray(self.counts, np.int64)
        if off.ndim != 3 or off.shape[0] != 3 or off.shape[2] != 2:
            raise ValueError(f"AAPattern offsets must have shape (3, K, 2), got {off.shape}")
        if cnt.shape != (3,) or cnt.min() < 0 or cnt.max() > off.shape[1]:
            raise ValueError(f"AAPattern counts must be 3 numbers in [0, {off.shape[1]}], got {cnt.tolist()}")
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "counts", cnt)

    @staticmethod
    def uniform(offsets) -> AAPattern:
        """The same (K, 2) offsets for every kind of edge (K = 0: no subsamples)."""
        o = np.asarray(offsets, np.float32).reshape(-1, 2)
        return AAPattern(np.broadcast_to(o, (3, *o.shape)), np.full(3, len(o)))


# rotated-grid offsets where the part changes both across x and across y (corners, slanted edges)
ROTATED_GRID = np.array([[-0.375, -0.125], [0.125, -0.375], [0.375, 0.125]], np.float32)
#: the shipped pattern: 2 subsamples spread across an edge that is only vertical (kind 0) or only
#: horizontal (kind 1), 3 on a rotated grid where both (kind 2). benchmarks/aa_quality.py measured
#: 2.5 % (train) and 4.9 % (val) more edge error than 3 rotated-grid subsamples everywhere, for 23 %
#: fewer subsamples.
AA = AAPattern(np.array([[[-0.36, -0.1], [0.36, 0.1], [0.0, 0.0]], [[-0.1, -0.36], [0.1, 0.36], [0.0, 0.0]],
                         ROTATED_GRID]), np.array([2, 2, 3]))


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class PartRows:
    """The per-part numbers of a WorldSpec, read in one pass over its parts.

    Shape: geo (P, 7) float64 [yaw_deg, size_m (3), offset (3)]; mat (P, 11) float64 sRGB
    [color (3), color2 (3), scale_m, specular, shininess, emissive, salt]; ids (P, 5) int64
    [class id, instance id, texture id, image, caster]; tilts: part index -> 3x3 tilt.
    """

    geo: np.ndarray
    mat: np.ndarray
    ids: np.ndarray
    tilts: dict

    @staticmethod
    def of(spec: WorldSpec) -> PartRows:
        # one flat list of floats and one of ints, packed by struct (~3x faster than np.array on
        # Python floats; the values, ints and bools included, convert exactly as np.array's)
        parts = spec.parts
        P = len(parts)
        fl: list = []
        it: list = []
        tilts = {}
        class_id, texture_id = CLASS_ID, TEXTURE_ID
        for i, p in enumerate(parts):
            m = p.material
            fl += (p.yaw_deg, *p.size_m, *p.offset, *m.color, *m.color2, m.scale_m, m.specular, m.shininess,
                   m.emissive, m.salt)
            it += (class_id[p.class_name], p.instance_id, texture_id[m.texture], m.image, p.caster)
            if p.tilt is not None:
                tilts[i] = p.tilt
        f = np.frombuffer(bytearray(struct.pack(f"{18 * P}d", *fl)), np.float64).reshape(P, 18)
        ids = np.frombuffer(bytearray(struct.pack(f"{5 * P}q", *it)), np.int64).reshape(P, 5)
        return PartRows(f[:, :7], f[:, 7:], ids, tilts)


def part_world_rotations(rows: PartRows) -> np.ndarray:
    """World-frame rotation of every part, rot_y(yaw) @ tilt: (P, 3, 3) float64."""
    yaw = np.deg2rad(rows.geo[:, 0])
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.zeros((len(yaw), 3, 3))
    R[:, 0, 0], R[:, 0, 2], R[:, 1, 1], R[:, 2, 0], R[:, 2, 2] = c, s, 1.0, -s, c
    if rows.tilts:  # one stacked matmul: the same 3x3 product per part as R[i] @ tilt
        idx = np.fromiter(rows.tilts, np.int64, len(rows.tilts))
        R[idx] = np.matmul(R[idx], np.array(list(rows.tilts.values()), np.float64))
    return R


def part_translations(spec: WorldSpec, rows: PartRows, w2c: np.ndarray) -> np.ndarray:
    """Camera-frame position of every part's origin, (P, 3) float64 metres; ``w2c`` the camera's
    world-to-camera rotation."""
    return (rows.geo[:, 4:7] - np.asarray(spec.camera.position_m)) @ w2c.T


# ----------------------------------------------------------------------------- result
def sample_facts(H: int, W: int, part, vis, owner, part_inst, scale) -> dict:
    """The ``return_aux`` entries of the render's result (arguments as :func:`frame_outputs`): light
    visibility at pixel centres, the part map, the exposure, and per-sample facts for edit masks."""
    HW = H * W
    out: dict = {}
    n_lights = max(1, vis.shape[1])
    lit = np.zeros((HW, n_lights), bool)
    lit[:, : vis.shape[1]] = vis[:HW] > 0
    out["lit"] = lit.reshape(H, W, -1)
    out["part"] = part[:HW].reshape(H, W)
    out["exposure_scale"] = scale
    # per-sample facts (centre samples first, then edge subsamples), for edit masks
    s_inst = np.append(np.asarray(part_inst, np.int64), 0)[part]  # part -1 (a miss) -> instance 0
    # per pixel and light, the exact pattern of lit samples (bit k = sample k of the pixel):
    # subsamples follow the centres, each pixel's in one run, in the order of owner
    code = np.zeros((HW, n_lights))
    code[:, : vis.shape[1]] = vis[:HW]
    sub = np.asarray(owner[HW:])
    cnt = np.bincount(sub, minlength=HW).astype(np.float32) + 1
    if len(sub):
        start = np.flatnonzero(np.r_[True, sub[1:] != sub[:-1]])  # first subsample of each run
        rank = np.arange(len(sub)) - np.repeat(start, np.diff(np.r_[start, len(sub)]))
        bits = vis[HW:] * (2.0 ** (rank + 1))[:, None]
        for j in range(vis.shape[1]):
            code[:, j] += np.bincount(sub, weights=bits[:, j], minlength=HW)
    out["lit_frac"] = code.reshape(H, W, n_lights)
    out["n_samples"] = cnt.reshape(H, W)
    out["sample_inst"] = s_inst
    out["owner"] = owner
    return out
