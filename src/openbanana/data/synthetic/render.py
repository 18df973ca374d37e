"""Render a WorldSpec: geometry assembly, ray casting, shading with shadows, anti-aliasing.

Pipeline for an (H, W) image (every ray query is ONE intersector call over the whole batch):
  1. assemble: instance cached template meshes by per-part transforms, directly in the camera
     frame (+x right, +y up, +z toward the viewer), so ray origins are 0 and, with ray directions
     ((x - W/2)/f, -(y - H/2)/f, -1), the hit distance t IS the metric z-depth;
  2. primary rays through pixel centres -> depth, normals, semantic and instance labels;
  3. edge pixels (part or hit/miss changes) get 2 more subsamples across the edge, 3 on a rotated
     grid where the part changes both across x and y (``AA``);
  4. one occlusion call for every (shading point, light) pair -> cast shadows of all lights;
  5. shading: textured albedo, hemisphere ambient, Lambert + Blinn-Phong per light, emission,
     sky with sun glow and clouds, distance fog, automatic exposure, filmic tone curve, sRGB.

Shading is written against a tiny array namespace (numpy or torch) so the torch renderer in
``gpu.py`` runs the same code on the GPU.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from openbanana.data.synthetic.classes import CLASS_ID, IGNORE
from openbanana.data.synthetic.frame import (
    AA,
    AAPattern,
    PartRows,
    part_translations,
    part_world_rotations,
    sample_facts,
)
from openbanana.data.synthetic.materials import TEXTURES, image_bank, noise_lookup, texture_mix
from openbanana.data.synthetic.raycast import embree_available, make_intersector
from openbanana.data.synthetic.render_fast import render_compiled
from openbanana.data.synthetic.scene import Camera, WorldSpec, rot_y
from openbanana.data.synthetic.shapes import template


# ----------------------------------------------------------------------------- array namespaces
class NumpyOps:
    xp = np
    name = "numpy"

    @staticmethod
    def cat(xs, axis=0):
        return np.concatenate(xs, axis)

    @staticmethod
    def long(a):
        return np.asarray(a).astype(np.int64)

    @staticmethod
    def f32(a):
        return np.asarray(a, np.float32)

    @staticmethod
    def zeros(shape):
        return np.zeros(shape, np.float32)


# ----------------------------------------------------------------------------- geometry
@dataclass
class Geometry:
    """A scene's triangle soup in the camera frame plus per-face and per-part attributes.

    Shape: vertices (V, 3); faces (F, 3) int (casters first); corner_normals (F, 3, 3);
    face_part (F,); per part (P, ...): cls, inst, rot (P, 3, 3), trans (P, 3), size (P, 3),
    color, color2 (P, 3) linear RGB, tex, image (P,) int, scale, spec, shin, emis (P,).
    """

    vertices: np.ndarray
    faces: np.ndarray
    corner_normals: np.ndarray
    face_normals: np.ndarray
    face_part: np.ndarray
    n_casters: int
    part: dict[str, np.ndarray]


def part_frames(spec: WorldSpec, rows: PartRows | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-frame rotation (P, 3, 3), size (P, 3) in metres and translation (P, 3) of every part:
    camera point = rot @ (size * template point) + trans."""
    rows = PartRows.of(spec) if rows is None else rows
    w2c = spec.camera.world_to_cam()
    rot = np.einsum("ij,pjk->pik", w2c, part_world_rotations(rows))
    return rot, rows.geo[:, 1:4], part_translations(spec, rows, w2c)


def part_attributes(spec: WorldSpec, rot: np.ndarray, size: np.ndarray, trans: np.ndarray,
                    rows: PartRows | None = None) -> dict[str, np.ndarray]:
    """Per-part arrays used by shading (see Geometry.part)."""
    rows = PartRows.of(spec) if rows is None else rows
    m, ids = rows.mat, rows.ids
    lin = np.clip(m[:, :6].astype(np.float32), 0, 1) ** np.float32(2.2)
    f32 = m[:, 6:11].astype(np.float32)
    return {
        "cls": ids[:, 0].copy(), "inst": ids[:, 1].copy(),
        "rot": rot.astype(np.float32), "trans": trans.astype(np.float32), "size": size.astype(np.float32),
        "color": lin[:, 0:3], "color2": lin[:, 3:6], "tex": ids[:, 2].copy(), "image": ids[:, 3].copy(),
        "scale": f32[:, 0], "spec": f32[:, 1], "shin": f32[:, 2], "emis": f32[:, 3], "salt": f32[:, 4],
    }


def assemble(spec: WorldSpec) -> Geometry:
    """Instance the templates of ``spec.parts`` in the camera frame (vectorised per template)."""
    parts = spec.parts
    P = len(parts)
    rot, size, trans = part_frames(spec)
    linear = (rot * size[:, None, :]).astype(np.float32)
    inv_t = (rot / size[:, None, :]).astype(np.float32)  # inverse transpose of rot @ diag(size)
    trans32 = trans.astype(np.float32)
    caster = np.array([p.caster for p in parts])
    shapes = [p.shape for p in parts]
    order: dict[tuple[bool, str], list[int]] = {}
    for i in range(P):
        order.setdefault((not caster[i], shapes[i]), []).append(i)
    vs, fs, ns, fp = [], [], [], []
    nv = 0
    n_casters = 0
    for (non_caster, shape), idx in sorted(order.items()):
        tpl = template(shape)
        idx_a = np.asarray(idx)
        # [k, nv, 3] = V @ L^T + t and [k, F*3, 3] = N @ (R S^-1)^T (batched matmuls beat einsum here)
        v = np.matmul(tpl.vertices[None], linear[idx_a].transpose(0, 2, 1)) + trans32[idx_a][:, None, :]
        n = np.matmul(tpl.corner_normals.reshape(1, -1, 3), inv_t[idx_a].transpose(0, 2, 1))
        k, nvt = len(idx), len(tpl.vertices)
        f = tpl.faces[None] + (nv + nvt * np.arange(k))[:, None, None]
        vs.append(v.reshape(-1, 3))
        fs.append(f.reshape(-1, 3))
        ns.append(n.reshape(-1, 3, 3))
        fp.append(np.repeat(idx_a, tpl.n_faces))
        nv += k * nvt
        if not non_caster:
            n_casters += k * tpl.n_faces
    part = part_attributes(spec, rot, size, trans)
    if not vs:  # an empty scene: sky only
        vs, fs, ns, fp = [np.zeros((0, 3))], [np.zeros((0, 3), np.int64)], [np.zeros((0, 3, 3))], [np.zeros(0, np.int64)]
    V = np.concatenate(vs).astype(np.float32)
    F = np.concatenate(fs).astype(np.int64)
    a, b, c = V[F[:, 0]], V[F[:, 1]], V[F[:, 2]]
    fn = np.cross(b - a, c - a)
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-20)
    return Geometry(V, F, np.concatenate(ns).astype(np.float32), fn.astype(np.float32),
                    np.concatenate(fp).astype(np.int64), n_casters, part)


def pixel_dirs(cam: Camera, H: int, W: int, offsets: np.ndarray | None = None, xs=None, ys=None) -> np.ndarray:
    """Camera-frame ray directions with z = -1 (so the hit distance is the z-depth).

    Shape: (N, 3) float32 for pixel centres (row-major) or for given pixel coordinates xs, ys.
    """
    f = cam.focal_px(W)
    if xs is None:
        gx, gy = _centre_offsets(H, W)
    else:
        gx, gy = xs - W / 2, -(ys - H / 2)
    d = np.empty((len(gx), 3), np.float32)
    d[:, 0] = gx / f
    d[:, 1] = gy / f
    d[:, 2] = -1.0
    return d


@lru_cache(maxsize=8)
def _centre_offsets(H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres relative to the image centre, x right and y up, row-major: ((H*W,), (H*W,))."""
    ys, xs = np.mgrid[0:H, 0:W]
    gx, gy = xs.reshape(-1) + 0.5 - W / 2, -(ys.reshape(-1) + 0.5 - H / 2)
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


# ----------------------------------------------------------------------------- lights (camera frame)
def light_arrays(spec: WorldSpec) -> dict[str, np.ndarray]:
    w2c = spec.camera.world_to_cam()
    c = np.asarray(spec.camera.position_m)
    L = spec.lights
    return {
        "is_sun": np.array([lt.kind == "sun" for lt in L], bool),
        "pos": np.array([w2c @ (np.asarray(lt.position_m) - c) for lt in L], np.float32).reshape(-1, 3),
        "dir": np.array([w2c @ np.asarray(lt.direction) for lt in L], np.float32).reshape(-1, 3),
        "rgb": np.array([np.asarray(lt.color) * lt.intensity for lt in L], np.float32).reshape(-1, 3),
        "shadows": np.array([lt.shadows for lt in L], bool),
    }


def env_arrays(spec: WorldSpec) -> dict[str, Any]:
    w2c = spec.camera.world_to_cam()
    e = spec.env
    return {
        "up": (w2c @ np.array([0.0, 1.0, 0.0])).astype(np.float32),
        "c2w": w2c.T.astype(np.float32),
        "zenith": np.asarray(e.sky_zenith, np.float32), "horizon": np.asarray(e.sky_horizon, np.float32),
        "amb_up": np.asarray(e.ambient_up, np.float32), "amb_down": np.asarray(e.ambient_down, np.float32),
        "fog_m": float(e.fog_m), "exposure": float(e.exposure), "clouds": float(e.clouds),
        "indoor": spec.kind == "indoor",
    }


# ----------------------------------------------------------------------------- shading (numpy or torch)
_ONE3 = np.ones(3, np.float32)


def dot3(a, b):
    """Row-wise dot product of (N, 3) arrays with (N, 3) or (3,) (numpy: a mat-vec product, 2-3x
    faster than strided columns or (a * b).sum(-1))."""
    if isinstance(a, np.ndarray):
        if b.ndim == 1:
            return a @ np.asarray(b, np.float32)
        return (a * b) @ _ONE3
    return (a * b).sum(-1)


def _rotate_rows(ops, x, rot):
    """x_i @ R_i for rows x (N, 3) and matrices rot (N, 3, 3)."""
    if ops.name == "numpy":
        r = rot.reshape(-1, 9)
        x0, x1, x2 = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        return x0 * r[:, 0:3] + x1 * r[:, 3:6] + x2 * r[:, 6:9]
    return x[:, 0:1] * rot[:, 0] + x[:, 1:2] * rot[:, 1] + x[:, 2:3] * rot[:, 2]


def _normalize(v):
    return v / (dot3(v, v)[:, None] + 1e-20) ** 0.5


def surface(ops, geo: dict, dirs, t, face, u, v):
    """Hit attributes of points with a hit (face >= 0): position, normals, part index."""
    p = dirs * t[:, None]
    cn = geo["corner_normals"][face]  # [N, 3, 3]
    w0 = (1 - u - v)[:, None]
    n = _normalize(cn[:, 0] * w0 + cn[:, 1] * u[:, None] + cn[:, 2] * v[:, None])
    ng = geo["face_normals"][face]
    facing = (dot3(ng, dirs) > 0)[:, None]  # seen from behind: flip both
    ng = ops.xp.where(facing, -ng, ng)
    n = ops.xp.where(facing, -n, n)
    return p, n, ng, geo["face_part"][face]


def albedo(ops, part: dict, pidx, p, n, t, focal, bank):
    """Linear RGB albedo of shading points (textured), plus emission weight."""
    xp = ops.xp
    base = part["color"][pidx]
    out = base * 1.0
    tex = part["tex"][pidx]
    textured = xp.nonzero(tex > 0)[0] if ops.name == "numpy" else xp.nonzero(tex > 0)[:, 0]
    if len(textured) == 0:
        return out, part["emis"][pidx]
    # local metric coordinates of textured points only: q = R^T (p - t), box-mapped to (qu, qv)
    tp = pidx[textured]
    rot = part["rot"][tp]  # [M, 3, 3]
    rel = p[textured] - part["trans"][tp]
    q = _rotate_rows(ops, rel, rot)
    nl = xp.abs(_rotate_rows(ops, n[textured], rot))
    ax = xp.argmax(nl, -1)
    qu = xp.where(ax == 0, q[:, 2], q[:, 0])
    qv = xp.where(ax == 1, q[:, 2], q[:, 1])
    ttex = tex[textured]
    footprint = t[textured] / (focal[textured] if getattr(focal, "ndim", 0) else focal)  # focal: scalar or per point
    tbase = base[textured]
    wmix = ops.zeros((len(tp),))  # colour2 weight per textured point (one blend after the loop)
    images = []
    for tid in range(1, len(TEXTURES)):
        m = ttex == tid
        if not bool(m.any()):
            continue
        s = part["scale"][tp[m]]
        fade = (footprint[m] * 2.5 / s - 0.25).clip(0, 1)
        w, special = texture_mix(xp, tid, qu[m] / s, qv[m] / s, fade, part["salt"][tp[m]])
        if special == "image":
            size = part["size"][tp[m]]
            iu = (q[m][:, 0] / size[:, 0] + 0.5).clip(0, 0.999) * bank.shape[2]
            iv = (0.5 - q[m][:, 1] / size[:, 1]).clip(0, 0.999) * bank.shape[1]
            images.append((m, bank[ops.long(part["image"][tp[m]]), ops.long(iv), ops.long(iu)]))
        else:
            wmix[m] = w
    tout = tbase + (part["color2"][tp] - tbase) * wmix[:, None]
    for m, img in images:
        tout[m] = img
    out[textured] = tout
    return out, part["emis"][pidx]


def sky(ops, env: dict, dirs, sun_dirs, sun_rgb):
    xp = ops.xp
    d = _normalize(dirs)
    el = dot3(d, env["up"])
    e = el.clip(0, 1) ** 0.5
    col = env["horizon"] * (1 - e[:, None]) + env["zenith"] * e[:, None]
    col = xp.where((el < 0)[:, None], env["horizon"] * 0.85, col)
    if env["clouds"] > 0:
        dw = d @ env["c2w"].T  # world direction
        k = 1.0 / (dw[:, 1].clip(0.05) + 0.05)
        c = noise_lookup(xp, dw[:, 0] * k * 0.75, dw[:, 2] * k * 0.75, 3.0)
        c = ((c - (1 - env["clouds"] * 0.6)) * 3).clip(0, 1) * (el > 0)
        col = col * (1 - c[:, None] * 0.8) + c[:, None] * 0.8 * (env["horizon"] * 0.4 + 0.6)
    for j in range(len(sun_dirs)):
        g = (-dot3(d, sun_dirs[j])).clip(0)
        col = col + sun_rgb[j] * (g ** 400 * 12 + g ** 12 * 0.15)[:, None]
    return col


def shade(ops, part: dict, env: dict, lights: dict, p, n, t, pidx, focal, dirs, vis, bank):
    """Linear HDR radiance of hit points. vis: [N, L] light visibility (1 = lit)."""
    xp = ops.xp
    alb, emis = albedo(ops, part, pidx, p, n, t, focal, bank)
    hemi = (dot3(n, env["up"]) * 0.5 + 0.5)[:, None]
    light = env["amb_down"] * (1 - hemi) + env["amb_up"] * hemi
    spec = ops.zeros(alb.shape) if ops.name == "numpy" else ops.zeros(tuple(alb.shape))
    view = -_normalize(dirs)
    ks = part["spec"][pidx][:, None]
    shin = part["shin"][pidx]
    for j in range(len(lights["rgb"])):
        if bool(lights["is_sun"][j]):
            ldir = -lights["dir"][j] + p * 0
            e = lights["rgb"][j] + p * 0
        else:
            lv = lights["pos"][j] - p
            d2 = dot3(lv, lv)[:, None]
            ldir = lv / d2 ** 0.5
            e = lights["rgb"][j] / (d2 + 0.3)
        ndl = dot3(n, ldir).clip(0)[:, None] * vis[:, j : j + 1]
        light = light + e * ndl
        h = _normalize(ldir + view)
        spec = spec + e * ndl * (dot3(n, h).clip(0) ** shin)[:, None]
    col = alb * light + ks * spec + alb * emis[:, None] * 1.5
    if env["fog_m"] > 0:
        f = xp.exp(-t / env["fog_m"])[:, None]
        col = col * f + env["horizon"] * (1 - f)
    return col


def auto_exposure(ops, hdr, exposure: float):
    """Exposure scale from the log-average luminance (a camera's automatic exposure)."""
    xp = ops.xp
    lum = hdr[:, 0] * 0.2126 + hdr[:, 1] * 0.7152 + hdr[:, 2] * 0.0722
    key = xp.exp(xp.log(lum + 1e-3).mean())
    scale = (0.3 / key) * exposure
    return scale.clip(0.05, 50.0) if ops.name != "numpy" else float(np.clip(scale, 0.05, 50.0))


def tonemap(ops, hdr, scale):
    """Filmic curve and sRGB gamma of exposed linear radiance."""
    y = 1 - ops.xp.exp(-hdr * scale * 1.4)
    return y.clip(0, 1) ** (1 / 2.2)


def shadow_rays(ops, lights: dict, p, ng, n):
    """Origins, directions, tfar for every (point, light) pair that faces the light.

    Returns (origins, dirs, tfar, pair_point, pair_light) over selected pairs.
    """
    xp = ops.xp
    eps = 1e-3 + 2e-4 * dot3(p, p) ** 0.5
    o = p + ng * eps[:, None]
    os_, ds_, ts_, pi_, li_ = [], [], [], [], []
    for j in range(len(lights["rgb"])):
        if not bool(lights["shadows"][j]):
            continue  # fill light: lit wherever it faces (see render_spec)
        if bool(lights["is_sun"][j]):
            d = -lights["dir"][j] + p * 0
            tf = ops.f32(np.full(1, 1e4))
        else:
            d = lights["pos"][j] - o
            tf = ops.f32(np.full(1, 0.999))
        sel = (dot3(n, d) > 0) & (dot3(ng, d) > 0)
        idx = xp.nonzero(sel)[0] if ops.name == "numpy" else xp.nonzero(sel)[:, 0]
        os_.append(o[idx])
        ds_.append(d[idx])
        ts_.append(tf.repeat(len(idx)) if ops.name != "numpy" else np.repeat(tf, len(idx)))
        pi_.append(idx)
        li_.append(idx * 0 + j)
    if not os_:
        z = ops.long(np.zeros(0))
        return ops.f32(np.zeros((0, 3))), ops.f32(np.zeros((0, 3))), ops.f32(np.zeros(0)), z, z
    return ops.cat(os_), ops.cat(ds_), ops.cat(ts_), ops.cat(pi_), ops.cat(li_)


# ----------------------------------------------------------------------------- CPU renderer
@lru_cache(maxsize=1)
def compiled_available() -> bool:
    """Whether the compiled engine can run here (numba importable and Embree loadable)."""
    return importlib.util.find_spec("numba") is not None and embree_available()


def subsample_dirs(cam: Camera, part_map: np.ndarray, aa: AAPattern = AA) -> tuple[np.ndarray, np.ndarray]:
    """The anti-aliasing subsamples of the edge pixels of an (H, W) part map, in pixel order and
    ``aa``'s order within a pixel: their pixels (flat indices) and ray directions, ((S,), (S, 3))."""
    H, W = part_map.shape
    kinds = edge_kinds(part_map).reshape(-1)
    edges = np.flatnonzero(kinds >= 0)
    k = kinds[edges]
    n = aa.counts[k]
    pixel = np.repeat(edges, n)
    slot = np.arange(len(pixel)) - np.repeat(np.cumsum(n) - n, n)  # position within its pixel
    off = aa.offsets[np.repeat(k, n), slot]
    return pixel, pixel_dirs(cam, H, W, xs=pixel % W + 0.5 + off[:, 0], ys=pixel // W + 0.5 + off[:, 1])


def edge_kinds(part_map):
    """Edge kind of every pixel of a part map (..., H, W), numpy or torch: -1 where its
    4-neighbourhood keeps its part (or hit / miss), 0 where the part changes to its left or right
    only, 1 above or below only, 2 both (silhouettes, part seams)."""
    # all False, numpy or torch like the input (integer maps never compare unequal to themselves)
    hx, hy = part_map != part_map, part_map != part_map  # noqa: PLR0124
    d = part_map[..., :, 1:] != part_map[..., :, :-1]
    hx[..., :, 1:] |= d
    hx[..., :, :-1] |= d
    d = part_map[..., 1:, :] != part_map[..., :-1, :]
    hy[..., 1:, :] |= d
    hy[..., :-1, :] |= d
    return hx * 1 + hy * 2 - 1


def edge_pixels(part_map: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood changes part (or hit/miss): silhouettes and part seams."""
    return edge_kinds(part_map) >= 0


ENGINES = ("auto", "compiled", "numpy")


def render_spec(spec: WorldSpec, H: int, W: int, *, antialias: bool = True, intersector=None,
                return_aux: bool = False, exposure_scale: float | None = None, engine: str = "auto"):
    """Render a scene description on the CPU (Embree).

    Args:
        engine: "compiled" (two-level Embree scene and numba kernels, ``render_fast``), "numpy"
            (one triangle soup and array code shared with the torch renderer; the reference), or
            "auto": compiled when numba is installed and no ``intersector`` is given.
        intersector: a factory ``(vertices, faces, n_casters) -> intersector`` (numpy engine only).

    Returns:
        dict with rgb uint8 (H, W, 3), depth_m float32 (H, W) (+inf = sky), normals float32 (H, W, 3),
        semantic uint8 (H, W), instance int32 (H, W); with return_aux also ``lit`` (H, W, L) bool
        (light visibility at pixel centres, used by edit masks).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "auto":
        engine = "compiled" if intersector is None and compiled_available() else "numpy"
    if engine == "compiled":
        if intersector is not None:
            raise ValueError("a custom intersector needs engine='numpy'")
        if not compiled_available():
            raise RuntimeError("engine='compiled' needs numba and the Embree library of embreex "
                               "(pip install numba embreex); engine='numpy' runs without numba")
        return render_compiled(spec, H, W, antialias=antialias, return_aux=return_aux, exposure_scale=exposure_scale)
    ops = NumpyOps
    geo = assemble(spec)
    isect = intersector(geo.vertices, geo.faces, geo.n_casters) if intersector else make_intersector(
        geo.vertices, geo.faces, geo.n_casters)
    cam = spec.camera
    focal = cam.focal_px(W)
    dirs = pixel_dirs(cam, H, W)
    t, face, u, v = isect.intersect(np.zeros_like(dirs), dirs)
    gd = {"corner_normals": geo.corner_normals, "face_normals": geo.face_normals, "face_part": geo.face_part}
    part_map = np.append(geo.face_part, -1)[face]  # face -1 (a miss) -> part -1
    # anti-aliasing subsamples on edge pixels
    all_dirs, all_t, all_face, all_u, all_v = dirs, t, face, u, v
    owner = np.arange(H * W)
    if antialias:
        sub_pixel, sd = subsample_dirs(cam, part_map.reshape(H, W))
        if len(sd):
            st, sf, su, sv = isect.intersect(np.zeros_like(sd), sd)
            all_dirs = np.concatenate([dirs, sd])
            all_t, all_face = np.concatenate([t, st]), np.concatenate([face, sf])
            all_u, all_v = np.concatenate([u, su]), np.concatenate([v, sv])
            owner = np.concatenate([owner, sub_pixel])
    lights = light_arrays(spec)
    env = env_arrays(spec)
    ahit = np.flatnonzero(all_face >= 0)
    p, n, ng, pidx = surface(ops, gd, all_dirs[ahit], all_t[ahit], all_face[ahit], all_u[ahit], all_v[ahit])
    so, sdir, stf, spt, sli = shadow_rays(ops, lights, p, ng, n)
    occ = isect.occluded(so, sdir, stf)
    vis = np.zeros((len(ahit), len(lights["rgb"])), np.float32)
    vis[spt[~occ], sli[~occ]] = 1.0
    vis[:, ~lights["shadows"]] = 1.0
    bank = image_bank()
    col = np.empty((len(all_dirs), 3), np.float32)
    col[ahit] = shade(ops, geo.part, env, lights, p, n, all_t[ahit], pidx, focal, all_dirs[ahit], vis, bank)
    miss = np.flatnonzero(all_face < 0)
    if len(miss):
        suns = lights["is_sun"]
        col[miss] = sky(ops, env, all_dirs[miss], lights["dir"][suns], lights["rgb"][suns])
    scale = auto_exposure(ops, col, env["exposure"]) if exposure_scale is None else exposure_scale
    ldr = tonemap(ops, col, scale)
    if len(owner) == H * W:
        acc = ldr
    else:  # average the subsamples of edge pixels (bincount is much faster than np.add.at)
        cnt = np.bincount(owner, minlength=H * W).astype(np.float32)
        acc = np.stack([np.bincount(owner, weights=ldr[:, c], minlength=H * W) for c in range(3)], -1)
        acc = (acc / cnt[:, None]).astype(np.float32)
    rgb = (acc.reshape(H, W, 3) * 255 + 0.5).clip(0, 255).astype(np.uint8)
    n_all = np.zeros((len(all_dirs), 3), np.float32)
    n_all[ahit] = n
    vis_all = np.zeros((len(all_dirs), vis.shape[1]), np.float32)
    vis_all[ahit] = vis
    part_all = np.append(geo.face_part, -1)[all_face]
    return frame_outputs(H, W, rgb, all_t, part_all, n_all, vis_all, owner, geo.part["cls"], geo.part["inst"], scale,
                         return_aux)


def frame_outputs(H: int, W: int, rgb, t, part, nrm, vis, owner, part_cls, part_inst, scale, return_aux: bool) -> dict:
    """The render's result dict from per-sample arrays (pixel centres first, then edge subsamples).

    Args:
        rgb: (H, W, 3) uint8. t: (N,) hit distance (inf = miss). part: (N,) part index, -1 = miss.
        nrm: (N, 3) shading normals (0 on a miss). vis: (N, L) light visibility. owner: (N,) pixel of
        each sample. part_cls, part_inst: per-part class and instance ids. scale: the exposure used.
    """
    HW = H * W
    pm = part[:HW]  # index -1 (a miss) picks the appended sky / no-instance entry
    sem = np.append(np.asarray(part_cls, np.uint8), np.uint8(CLASS_ID["sky"]))[pm]
    inst = np.append(np.asarray(part_inst, np.int32), np.int32(0))[pm]
    out = {"rgb": rgb, "depth_m": t[:HW].astype(np.float32).reshape(H, W),
           "normals": nrm[:HW].astype(np.float32).reshape(H, W, 3), "semantic": sem.reshape(H, W),
           "instance": inst.reshape(H, W)}
    if return_aux:
        out.update(sample_facts(H, W, part, vis, owner, part_inst, scale))
    return out


__all__ = ["IGNORE", "assemble", "pixel_dirs", "render_spec", "rot_y"]
