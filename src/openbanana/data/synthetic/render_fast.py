"""The compiled CPU renderer: the same image model as ``render.render_spec(engine="numpy")``
with two speed changes that do not alter what is rendered:

1. geometry: templates keep their BVH for the life of the process and a frame is an Embree
   instance array of part transforms (``instanced.py``), so nothing is transformed or rebuilt
   per triangle;
2. every per-sample step (camera and subsample rays, packet casting, surface attributes, shadow
   rays, textures, lights, sky, exposure, tone curve, anti-aliasing resolve, label maps) is a
   numba loop (``cpu_rays.py``, ``cpu_trace.py``, ``cpu_shade.py``, ``cpu_outputs.py``) over one
   sample buffer instead of ~100 numpy passes over the frame; the per-part table is one loop too
   (``cpu_tables.py``).

Pipeline and sample layout (pixel centres first, then the subsamples of each edge pixel,
``frame.AA``) are those of the numpy engine, so the per-sample facts that edits rely on keep
their meaning.
"""

from __future__ import annotations

import time

import numpy as np

from openbanana.data.synthetic import cpu_outputs, cpu_rays, cpu_shade, cpu_tables, cpu_trace
from openbanana.data.synthetic.classes import CLASS_ID
from openbanana.data.synthetic.frame import (
    AA,
    AAPattern,
    PartRows,
    part_translations,
    part_world_rotations,
    sample_facts,
)
from openbanana.data.synthetic.instanced import InstancedScene, template_atlas
from openbanana.data.synthetic.materials import _noise_tile, image_bank
from openbanana.data.synthetic.scene import WorldSpec

_SKY = CLASS_ID["sky"]


def part_table(spec: WorldSpec, rows: PartRows, w2c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-frame part rotations (P, 3, 3) float64 (those of ``render.part_frames``), the float
    (P, 36) and int (P, 4) part tables in the layout documented in ``cpu_shade`` (the values of
    ``render.part_attributes``); ``w2c`` the camera's world-to-camera rotation."""
    P = len(rows.geo)
    m = rows.mat
    lin = np.clip(m[:, :6].astype(np.float32), 0, 1) ** np.float32(2.2)  # linear colour, colour2
    # highlight cut-off: below it, n.h ** shininess < 1e-5 and the specular term is skipped
    cut = np.float32(1e-5) ** (1.0 / np.maximum(m[:, 8].astype(np.float32), 1e-3))
    rot, pf = np.empty((P, 3, 3)), np.empty((P, 36), np.float32)
    cpu_tables.part_rows(w2c, part_world_rotations(rows), rows.geo[:, 1:4], part_translations(spec, rows, w2c), m,
                         lin, cut, rot, pf)
    return rot, pf, np.ascontiguousarray(rows.ids[:, :4])


def light_table(spec: WorldSpec, w2c: np.ndarray) -> np.ndarray:
    """Float (L, 11) light rows (layout in ``cpu_shade``) in the camera frame, ``w2c`` the camera's
    world-to-camera rotation; the values of ``render.light_arrays``."""
    L = spec.lights
    n = len(L)
    # positions relative to the camera and directions, each rotated by one 3x3 matrix-vector
    # product (a stacked matmul runs the very product of ``w2c @ v`` per vector)
    vec = np.array([(*lt.position_m, *lt.direction) for lt in L], np.float64).reshape(n, 2, 3)
    vec[:, 0] -= spec.camera.position_m
    other = np.array([(lt.kind == "sun", lt.color[0] * lt.intensity, lt.color[1] * lt.intensity,
                       lt.color[2] * lt.intensity, lt.shadows) for lt in L], np.float64).reshape(n, 5)
    rows = np.empty((n, 11), np.float32)
    rows[:, 0] = other[:, 0]
    rows[:, 1:7] = np.matmul(w2c, vec[..., None]).reshape(n, 6)
    rows[:, 7:11] = other[:, 1:]
    return rows


_UP = np.array([0.0, 1.0, 0.0])


def env_table(spec: WorldSpec, w2c: np.ndarray) -> np.ndarray:
    """Float (27,) environment row (layout in ``cpu_shade``), ``w2c`` the camera's world-to-camera
    rotation; the values of ``render.env_arrays``."""
    e = spec.env
    env = np.empty(27, np.float32)
    env[0:3] = w2c @ _UP
    env[3:12] = w2c.T.reshape(9)
    env[12:24] = (*e.sky_zenith, *e.sky_horizon, *e.ambient_up, *e.ambient_down)
    env[24:27] = e.fog_m, e.exposure, e.clouds
    return env


class _Clock:
    """Adds process time per stage into ``timings`` (seconds) and ray counts (None: off)."""

    def __init__(self, timings: dict | None) -> None:
        self.timings, self.t = timings, time.process_time() if timings is not None else 0.0

    def __call__(self, stage: str, rays: int = 0) -> None:
        if self.timings is not None:
            now = time.process_time()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.t
            if rays:
                self.timings[stage + "_rays"] = self.timings.get(stage + "_rays", 0) + rays
            self.t = now


def render_compiled(spec: WorldSpec, H: int, W: int, *, antialias: bool = True, return_aux: bool = False,
                    exposure_scale: float | None = None, timings: dict | None = None,
                    aa: AAPattern = AA) -> dict:
    """Render ``spec`` at (H, W); arguments and result as ``render.render_spec``. ``timings``: a dict
    that receives process seconds per stage and ray counts (for benchmarks). ``aa``: the
    anti-aliasing pattern in place of ``frame.AA`` (for quality studies, ``benchmarks/aa_quality.py``)."""
    clock = _Clock(timings)
    atlas = template_atlas()
    rows = PartRows.of(spec)
    c2w = spec.camera.cam_to_world()
    w2c = c2w.T
    rot, pf, pi = part_table(spec, rows, w2c)
    size = rows.geo[:, 1:4]
    # instances in the world frame (axis-aligned rooms keep tight bounds), rays from the camera frame
    cam_pos = np.asarray(spec.camera.position_m, np.float64)
    transforms = np.empty((len(rot), 3, 4), np.float32)
    transforms[:, :, :3] = np.matmul(c2w[None], rot) * size[:, None, :]
    transforms[:, :, 3] = rows.geo[:, 4:7]
    index = atlas.index
    shape_index = np.array([index[p.shape] for p in spec.parts], np.int64)
    scene = InstancedScene(shape_index, transforms, rows.ids[:, 4] > 0, np.concatenate([c2w, cam_pos[:, None]], 1))
    clock("scene")
    cam = spec.camera
    focal = cam.focal_px(W)
    # one sample buffer: H * W pixel centres, then the subsamples of edge pixels (at most all pixels)
    HW = H * W
    cap = HW * (aa.offsets.shape[1] + 1) if antialias else HW
    dirs = np.empty((cap, 3), np.float32)
    t, u, v = (np.empty(cap, np.float32) for _ in range(3))
    part, face, owner = (np.empty(cap, np.int64) for _ in range(3))
    cpu_rays.centre_rays(H, W, focal, dirs)
    cpu_trace.intersect_into(scene, dirs[:HW], shape_index, atlas.face_offset, t[:HW], part[:HW], face[:HW], u[:HW],
                             v[:HW])
    clock("primary", HW)
    N = HW
    if antialias:
        N = cpu_rays.edge_subsamples(part, H, W, focal, aa.offsets, aa.counts, dirs, owner)
        if N > HW:
            cpu_trace.intersect_into(scene, dirs[HW:N], shape_index, atlas.face_offset, t[HW:N], part[HW:N],
                                     face[HW:N], u[HW:N], v[HW:N])
    else:
        owner[:] = np.arange(HW)
    dirs, t, part, face, u, v, owner = (a[:N] for a in (dirs, t, part, face, u, v, owner))
    clock("antialias", N - HW)
    pos, nrm, geo = (np.empty((N, 3), np.float32) for _ in range(3))
    cpu_shade.surface(dirs, t, part, face, u, v, atlas.corner_normals, atlas.face_normals, pf, pos, nrm, geo)
    lights = light_table(spec, w2c)
    vis = np.empty((N, len(lights)), np.float32)
    clock("surface")
    clock("shadows", cpu_trace.shadow_visibility(scene, part, pos, nrm, geo, lights, vis))
    env = env_table(spec, w2c)
    hdr = np.empty((N, 3), np.float32)
    cpu_shade.shade(dirs, t, part, pos, nrm, vis, pf, pi, lights, env, _noise_tile(), image_bank(), focal, hdr)
    scale = cpu_shade.exposure_scale(hdr, float(env[25])) if exposure_scale is None else float(exposure_scale)
    rgb = np.empty((H * W, 3), np.uint8)
    cpu_shade.resolve(hdr, owner, scale, H * W, cpu_shade.TONE_LUT, rgb)
    clock("shade")
    semantic, instance = np.empty(HW, np.uint8), np.empty(HW, np.int32)
    cpu_outputs.pixel_labels(part, rows.ids[:, 0], rows.ids[:, 1], _SKY, semantic, instance)
    out = {"rgb": rgb.reshape(H, W, 3), "depth_m": t[:HW].reshape(H, W).copy(),
           "normals": nrm[:HW].reshape(H, W, 3).copy(),
           "semantic": semantic.reshape(H, W), "instance": instance.reshape(H, W)}
    if return_aux:
        out.update(sample_facts(H, W, part, vis, owner, rows.ids[:, 1], scale))
    clock("outputs")
    return out
