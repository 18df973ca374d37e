"""Ray casting kernels: numba loops that pack 16-ray packets and call Embree without Python in
between (a ctypes call per packet from Python costs as much as the traversal itself).

Both kernels take rays in the camera frame and map them into the frame of the
:class:`~openbanana.data.synthetic.instanced.InstancedScene` while packing. These functions call Embree through ctypes function pointers, which numba
compiles in but cannot cache to disk: they are kept small so the per-process compile is short.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np
from numba import njit

from openbanana.data.synthetic.cpu_shade import init_visibility, shadow_origins
from openbanana.data.synthetic.instanced import packet_buffer
from openbanana.data.synthetic.raycast import _lib

_U64 = ctypes.c_uint64
_lib_handle = _lib()["lib"]
_PROTO = ctypes.CFUNCTYPE(None, _U64, _U64, _U64, _U64)
_INTERSECT16 = _PROTO(ctypes.cast(_lib_handle.rtcIntersect16, ctypes.c_void_p).value)
_OCCLUDED16 = _PROTO(ctypes.cast(_lib_handle.rtcOccluded16, ctypes.c_void_p).value)
_INVALID = np.uint32(0xFFFFFFFF)


@njit(nogil=True)
def _pad_lane(buf, ub, j, mask):
    """An empty ray in lane j of a packet (``ub``: the packet viewed as uint32): valid, tfar 0, so
    it hits nothing; fills the last packet of a batch."""
    buf[0, j] = buf[1, j] = buf[2, j] = 0.0
    buf[4, j] = buf[5, j] = 0.0
    buf[6, j] = -1.0
    buf[3, j] = buf[7, j] = buf[8, j] = 0.0
    ub[9, j] = mask
    ub[10, j] = 0
    ub[11, j] = 0


@njit(nogil=True)
def _intersect(scene, valid, buf, xf, org, dirs, array_part, shape_index, face_offset, t, part, face, u, v):
    n = dirs.shape[0]
    ub = buf.view(np.uint32)
    base = buf.ctypes.data
    # ray origins in the scene frame, once per origin row (one row: the camera, for every ray)
    org_scene = np.empty((org.shape[0], 3), np.float32)
    for o in range(org.shape[0]):
        for a in range(3):
            org_scene[o, a] = xf[a, 0] * org[o, 0] + xf[a, 1] * org[o, 1] + xf[a, 2] * org[o, 2] + xf[a, 3]
    one = org.shape[0] == 1
    for start in range(0, n, 16):
        for j in range(16):  # pack: camera frame -> scene frame (rigid: t is unchanged)
            i = start + j
            if i < n:
                o = 0 if one else i
                for a in range(3):
                    buf[a, j] = org_scene[o, a]
                    buf[4 + a, j] = xf[a, 0] * dirs[i, 0] + xf[a, 1] * dirs[i, 1] + xf[a, 2] * dirs[i, 2]
                buf[3, j] = buf[7, j] = 0.0
                buf[8, j] = np.inf
                ub[9, j] = _INVALID
                ub[10, j] = 0
                ub[11, j] = 0
            else:
                _pad_lane(buf, ub, j, _INVALID)
            for r in range(17, 21):
                ub[r, j] = _INVALID
        _INTERSECT16(valid, scene, base, 0)
        for j in range(min(16, n - start)):
            i = start + j
            arr = ub[19, j]
            if arr == _INVALID:
                t[i], part[i], face[i], u[i], v[i] = np.inf, -1, -1, 0.0, 0.0
                continue
            p = array_part[arr, ub[20, j]]
            t[i], part[i] = buf[8, j], p
            face[i] = face_offset[shape_index[p]] + ub[17, j]
            u[i], v[i] = buf[15, j], buf[16, j]


@njit(nogil=True)
def _cast_shadows(scene, valid, buf, ub, m, lane_sample, lane_light, vis):
    """Cast the m rays of a packet (the rest padded with empty rays, tfar 0) and mark the pairs
    that reach their light."""
    for k in range(m, 16):
        _pad_lane(buf, ub, k, np.uint32(1))
    _OCCLUDED16(valid, scene, buf.ctypes.data, 0)
    for k in range(m):
        if buf[8, k] != -np.inf:  # Embree sets tfar to -inf on an occluded ray
            vis[lane_sample[k], lane_light[k]] = 1.0


@njit(nogil=True)
def _shadows(scene, valid, buf, xf, part, org, org_scene, nrm, geo, lights, vis):
    init_visibility(part, lights, vis)
    ub = buf.view(np.uint32)
    lane_sample, lane_light = np.empty(16, np.int64), np.empty(16, np.int64)
    sun_dir = np.empty(3, np.float32)
    m = cast = 0
    for j in range(lights.shape[0]):
        if lights[j, 10] == 0:
            continue
        sun = lights[j, 0] > 0
        tf = np.float32(1e4) if sun else np.float32(0.999)
        if sun:  # one direction for every ray: mapped into the scene frame once
            for a in range(3):
                sun_dir[a] = xf[a, 0] * -lights[j, 4] + xf[a, 1] * -lights[j, 5] + xf[a, 2] * -lights[j, 6]
        for i in range(part.shape[0]):
            if part[i] < 0:
                continue
            # the shadow ray, in line (a call per pair costs 5x the arithmetic): from the sample's
            # ray origin (``cpu_shade.shadow_origins``) toward the light; none where the light is
            # behind the shading or the geometric surface
            o0, o1, o2 = org[i, 0], org[i, 1], org[i, 2]
            if sun:  # a direction
                d0, d1, d2 = -lights[j, 4], -lights[j, 5], -lights[j, 6]
            else:
                d0, d1, d2 = lights[j, 1] - o0, lights[j, 2] - o1, lights[j, 3] - o2
            dn = 0.0
            dn += nrm[i, 0] * d0
            dn += nrm[i, 1] * d1
            dn += nrm[i, 2] * d2
            dg = 0.0
            dg += geo[i, 0] * d0
            dg += geo[i, 1] * d1
            dg += geo[i, 2] * d2
            if not (dn > 0 and dg > 0):
                continue
            for a in range(3):
                buf[a, m] = org_scene[i, a]
                buf[4 + a, m] = sun_dir[a] if sun else xf[a, 0] * d0 + xf[a, 1] * d1 + xf[a, 2] * d2
            buf[3, m] = 0.0
            buf[7, m] = 0.0
            buf[8, m] = tf
            ub[9, m] = 1
            ub[10, m] = 0
            ub[11, m] = 0
            lane_sample[m], lane_light[m] = i, j
            m += 1
            if m == 16:
                _cast_shadows(scene, valid, buf, ub, 16, lane_sample, lane_light, vis)
                cast += 16
                m = 0
    if m:
        _cast_shadows(scene, valid, buf, ub, m, lane_sample, lane_light, vis)
    return cast + m


_LOCAL = threading.local()  # one pair of packet buffers per thread


def _buffer(name: str, rows: int) -> np.ndarray:
    buf = getattr(_LOCAL, name, None)
    if buf is None:
        buf = packet_buffer(rows)
        setattr(_LOCAL, name, buf)
    return buf


_CAMERA = np.zeros((1, 3), np.float32)


def intersect(scene, dirs: np.ndarray, shape_index: np.ndarray, face_offset: np.ndarray, org: np.ndarray = _CAMERA):
    """Nearest hits of camera-frame rays (N, 3) against an InstancedScene; ``org`` (N, 3) or one
    (1, 3) origin for all, by default the camera.

    Returns (t, part, face, u, v): t float32 (inf on a miss), part int64 (-1 on a miss), face int64
    index into the TemplateAtlas tables, barycentrics u, v float32.
    """
    n = len(dirs)
    t, u, v = (np.empty(n, np.float32) for _ in range(3))
    part, face = np.empty(n, np.int64), np.empty(n, np.int64)
    intersect_into(scene, dirs, shape_index, face_offset, t, part, face, u, v, org)
    return t, part, face, u, v


def intersect_into(scene, dirs: np.ndarray, shape_index: np.ndarray, face_offset: np.ndarray, t: np.ndarray,
                   part: np.ndarray, face: np.ndarray, u: np.ndarray, v: np.ndarray, org: np.ndarray = _CAMERA) -> None:
    """:func:`intersect` writing into given contiguous arrays of len(dirs) (e.g. slices of a
    sample buffer): t, u, v float32, part, face int64."""
    _intersect(scene.ptr, _lib()["valid"].ctypes.data, _buffer("hit", 21), scene.cam_to_scene,
               np.ascontiguousarray(org, np.float32), np.ascontiguousarray(dirs, np.float32), scene.array_part,
               shape_index, face_offset, t, part, face, u, v)


def shadow_visibility(scene, part: np.ndarray, pos: np.ndarray, nrm: np.ndarray, geo: np.ndarray, lights: np.ndarray,
                      vis: np.ndarray) -> int:
    """Fill ``vis`` (N, L) float32: 1 where light j reaches hit sample i (no shadow caster between,
    the light in front of the surface; always for lights that cast no shadows), else 0. Each hit's
    ray origin is computed once for all lights (``cpu_shade.shadow_origins``), then the rays are
    built and cast packet by packet, light after light, with no ray arrays in between. Returns
    how many rays were cast."""
    org, org_scene = np.empty((len(part), 3), np.float32), np.empty((len(part), 3), np.float32)
    shadow_origins(part, pos, geo, scene.cam_to_scene, org, org_scene)
    return _shadows(scene.ptr, _lib()["valid"].ctypes.data, _buffer("ray", 12), scene.cam_to_scene, part, org,
                    org_scene, nrm, geo, lights, vis)
