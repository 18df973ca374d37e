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

from openbanana.data.synthetic.instanced import packet_buffer
from openbanana.data.synthetic.raycast import _lib

_U64 = ctypes.c_uint64
_lib_handle = _lib()["lib"]
_PROTO = ctypes.CFUNCTYPE(None, _U64, _U64, _U64, _U64)
_INTERSECT16 = _PROTO(ctypes.cast(_lib_handle.rtcIntersect16, ctypes.c_void_p).value)
_OCCLUDED16 = _PROTO(ctypes.cast(_lib_handle.rtcOccluded16, ctypes.c_void_p).value)
_INVALID = np.uint32(0xFFFFFFFF)


@njit(nogil=True)
def _pack(buf, xf, org, dirs, tfar, start, n, mask):
    ub = buf.view(np.uint32)
    for j in range(16):
        i = start + j
        if i < n:
            o = i if org.shape[0] > 1 else 0  # one origin row: every ray starts there
            for a in range(3):  # camera frame -> scene frame (rigid: t is unchanged)
                buf[a, j] = xf[a, 0] * org[o, 0] + xf[a, 1] * org[o, 1] + xf[a, 2] * org[o, 2] + xf[a, 3]
                buf[4 + a, j] = xf[a, 0] * dirs[i, 0] + xf[a, 1] * dirs[i, 1] + xf[a, 2] * dirs[i, 2]
            buf[8, j] = tfar[i] if tfar.shape[0] > 1 else tfar[0]
        else:  # padding ray: valid but harmless
            buf[0, j] = buf[1, j] = buf[2, j] = 0.0
            buf[4, j] = buf[5, j] = 0.0
            buf[6, j] = -1.0
            buf[8, j] = 0.0
        buf[3, j] = 0.0
        buf[7, j] = 0.0
        ub[9, j] = mask
        ub[10, j] = 0
        ub[11, j] = 0


@njit(nogil=True)
def _intersect(scene, valid, buf, xf, org, dirs, array_part, shape_index, face_offset, t, part, face, u, v):
    n = dirs.shape[0]
    ub = buf.view(np.uint32)
    base = buf.ctypes.data
    inf = np.full(1, np.inf, np.float32)
    for start in range(0, n, 16):
        _pack(buf, xf, org, dirs, inf, start, n, _INVALID)
        for j in range(16):
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
def _occluded(scene, valid, buf, xf, org, dirs, tfar, out):
    n = dirs.shape[0]
    base = buf.ctypes.data
    for start in range(0, n, 16):
        _pack(buf, xf, org, dirs, tfar, start, n, np.uint32(1))
        _OCCLUDED16(valid, scene, base, 0)
        for j in range(min(16, n - start)):
            out[start + j] = buf[8, j] == -np.inf


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
    buf = _buffer("hit", 21)
    _intersect(scene.ptr, _lib()["valid"].ctypes.data, buf, scene.cam_to_scene, np.ascontiguousarray(org, np.float32),
               np.ascontiguousarray(dirs, np.float32), scene.array_part, shape_index, face_offset, t, part, face, u, v)
    return t, part, face, u, v


def occluded(scene, org: np.ndarray, dirs: np.ndarray, tfar: np.ndarray) -> np.ndarray:
    """Whether a shadow caster lies on each ray for t in (0, tfar). Shape: (N,) bool."""
    out = np.zeros(len(dirs), bool)
    if len(dirs):
        buf = _buffer("ray", 12)
        _occluded(scene.ptr, _lib()["valid"].ctypes.data, buf, scene.cam_to_scene, np.ascontiguousarray(org, np.float32),
                  np.ascontiguousarray(dirs, np.float32), np.ascontiguousarray(tfar, np.float32), out)
    return out
