"""Ray casting backends over one triangle soup: Embree on the CPU, brute force in torch.

Both answer the same two queries, each in ONE call per ray batch:
  * ``intersect(origins, dirs) -> (t, face, u, v)``: nearest hit; t in units of the (unnormalised)
    direction, +inf and face -1 on a miss; (u, v) barycentrics with hit = (1-u-v) a + u b + v c.
  * ``occluded(origins, dirs, tfar) -> bool``: any *caster* face hit for t in (0, tfar).

Why a ctypes binding: embreex 4.4 (the Python wrapper trimesh uses) copies geometry into Embree
element by element, ~2.4 us per triangle (20 ms for a 7.7k-triangle scene, more than the whole
frame budget), and casts single rays. :class:`EmbreeIntersector` binds the very same
``libembree4`` shipped inside the embreex wheel through ctypes, hands it the numpy buffers
zero-copy (``rtcSetSharedGeometryBuffer``) and casts 16-wide packets: ~0.26 us per triangle to
build and ~12 M rays/s on one core. :class:`EmbreexIntersector` (the wrapper, slow build) is kept
as a fallback and as a test oracle.
"""

from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache

import embreex
import numpy as np
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh

_PACKET = 16
_RAYHIT16_FLOATS = 21 * 16  # RTCRay16 (12 rows) + RTCHit16 (up to 9 rows incl. instPrimID), 64-aligned
_RAY16_FLOATS = 12 * 16


def _aligned(n_floats: int) -> np.ndarray:
    raw = np.empty(n_floats * 4 + 64, np.uint8)
    off = (-raw.ctypes.data) % 64
    return raw[off : off + n_floats * 4].view(np.float32)


@lru_cache(maxsize=1)
def _lib():
    base = os.path.dirname(os.path.dirname(embreex.__file__))
    paths = sorted(glob.glob(os.path.join(base, "embreex.libs", "libembree4*")))
    if not paths:
        raise OSError("libembree4 not found next to the embreex package")
    lib = ctypes.CDLL(paths[0])
    P, U, S = ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t

    def sig(name, res, args):
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
        return f

    api = {
        "new_device": sig("rtcNewDevice", P, [ctypes.c_char_p]),
        "new_scene": sig("rtcNewScene", P, [P]),
        "quality": sig("rtcSetSceneBuildQuality", None, [P, U]),
        "new_geometry": sig("rtcNewGeometry", P, [P, U]),
        "shared_buffer": sig("rtcSetSharedGeometryBuffer", None, [P, U, U, U, P, S, S, S]),
        "geometry_mask": sig("rtcSetGeometryMask", None, [P, U]),
        "commit_geometry": sig("rtcCommitGeometry", None, [P]),
        "attach": sig("rtcAttachGeometry", U, [P, P]),
        "release_geometry": sig("rtcReleaseGeometry", None, [P]),
        "commit_scene": sig("rtcCommitScene", None, [P]),
        "release_scene": sig("rtcReleaseScene", None, [P]),
        "intersect16": sig("rtcIntersect16", None, [P, P, P, P]),
        "occluded16": sig("rtcOccluded16", None, [P, P, P, P]),
        "error": sig("rtcGetDeviceError", ctypes.c_int, [P]),
    }
    api["lib"] = lib
    # one device per process, single-threaded: data-loader workers are the parallelism
    api["device"] = api["new_device"](b"threads=1")
    if not api["device"]:
        raise OSError("rtcNewDevice failed")
    valid = _aligned(16).view(np.int32)
    valid[:] = -1
    api["valid"] = valid
    return api


def embree_available() -> bool:
    try:
        _lib()
        return True
    except (OSError, ImportError, AttributeError):
        return False


class EmbreeIntersector:
    """Embree 4 (libembree4 from the embreex wheel) via ctypes, zero-copy shared buffers.

    Args:
        vertices: (V, 3) float vertices. faces: (F, 3) int indices.
        n_casters: faces[:n_casters] cast shadows; the rest are seen by primary rays only.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, n_casters: int | None = None) -> None:
        api = _lib()
        self._api = api
        n_faces = len(faces)
        n_casters = n_faces if n_casters is None else int(n_casters)
        self.n_casters = n_casters
        self._v = np.zeros((len(vertices) + 1, 4), np.float32)  # padded: Embree reads 16 bytes per vertex
        self._v[: len(vertices), :3] = vertices
        self._f = np.ascontiguousarray(faces, dtype=np.uint32)
        self._scene = api["new_scene"](api["device"])
        api["quality"](self._scene, 1)
        self._offsets = []
        for lo, hi, mask in ((0, n_casters, 0x3), (n_casters, n_faces, 0x2)):
            if hi <= lo:
                continue
            g = api["new_geometry"](api["device"], 0)  # RTC_GEOMETRY_TYPE_TRIANGLE
            api["shared_buffer"](g, 1, 0, 0x9003, self._v.ctypes.data, 0, 16, len(vertices))  # VERTEX FLOAT3
            api["shared_buffer"](g, 0, 0, 0x5003, self._f.ctypes.data, lo * 12, 12, hi - lo)  # INDEX UINT3
            api["geometry_mask"](g, mask)
            api["commit_geometry"](g)
            gid = api["attach"](self._scene, g)
            api["release_geometry"](g)
            self._offsets.append((gid, lo))
        api["commit_scene"](self._scene)
        err = api["error"](api["device"])
        if err:
            raise RuntimeError(f"Embree error {err} while building the scene")
        self._geom_offset = np.zeros(max(g for g, _ in self._offsets) + 2 if self._offsets else 2, np.int64)
        for gid, lo in self._offsets:
            self._geom_offset[gid] = lo

    def __del__(self) -> None:
        try:
            self._api["release_scene"](self._scene)
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown may have unloaded the library
            pass

    @staticmethod
    def _pack(buf, origins, dirs, tfar, n, p, mask):
        m = p * _PACKET
        o = np.zeros((m, 3), np.float32)
        o[:n] = origins
        d = np.zeros((m, 3), np.float32)
        d[:n] = dirs
        d[n:, 2] = -1.0
        buf[:, 0:3, :] = o.reshape(p, _PACKET, 3).transpose(0, 2, 1)
        buf[:, 3, :] = 0.0
        buf[:, 4:7, :] = d.reshape(p, _PACKET, 3).transpose(0, 2, 1)
        buf[:, 7, :] = 0.0
        tf = np.zeros(m, np.float32)
        tf[:n] = tfar
        buf[:, 8, :] = tf.reshape(p, _PACKET)
        ub = buf.view(np.uint32)
        ub[:, 9, :] = mask
        ub[:, 10:12, :] = 0

    def intersect(self, origins: np.ndarray, dirs: np.ndarray):
        n = len(dirs)
        p = max(1, (n + _PACKET - 1) // _PACKET)
        buf = _aligned(p * _RAYHIT16_FLOATS).reshape(p, 21, _PACKET)
        self._pack(buf, origins, dirs, np.inf, n, p, 0xFFFFFFFF)
        ub = buf.view(np.uint32)
        ub[:, 17:19, :] = 0xFFFFFFFF
        f, sc, vp, base = self._api["intersect16"], self._scene, self._api["valid"].ctypes.data, buf.ctypes.data
        stride = _RAYHIT16_FLOATS * 4
        for k in range(p):
            f(vp, sc, base + k * stride, None)
        t = buf[:, 8, :].reshape(-1)[:n].copy()
        geom = ub[:, 18, :].reshape(-1)[:n]
        prim = ub[:, 17, :].reshape(-1)[:n].astype(np.int64)
        hit = geom != 0xFFFFFFFF
        face = np.where(hit, prim + self._geom_offset[np.where(hit, geom, 0)], -1)
        t[~hit] = np.inf
        u = buf[:, 15, :].reshape(-1)[:n].copy()
        v = buf[:, 16, :].reshape(-1)[:n].copy()
        return t, face, u, v

    def occluded(self, origins: np.ndarray, dirs: np.ndarray, tfar) -> np.ndarray:
        n = len(dirs)
        if n == 0:
            return np.zeros(0, bool)
        p = (n + _PACKET - 1) // _PACKET
        buf = _aligned(p * _RAY16_FLOATS).reshape(p, 12, _PACKET)
        self._pack(buf, origins, dirs, tfar, n, p, 0x1)
        f, sc, vp, base = self._api["occluded16"], self._scene, self._api["valid"].ctypes.data, buf.ctypes.data
        stride = _RAY16_FLOATS * 4
        for k in range(p):
            f(vp, sc, base + k * stride, None)
        return buf[:, 8, :].reshape(-1)[:n] == -np.inf


class EmbreexIntersector:
    """The same queries through the embreex wrapper (slow build; fallback and test oracle)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, n_casters: int | None = None) -> None:
        n_casters = len(faces) if n_casters is None else int(n_casters)
        self.n_casters = n_casters
        v = np.asarray(vertices, np.float32)
        self._all = rtcore_scene.EmbreeScene()
        TriangleMesh(self._all, v, np.asarray(faces, np.int32))
        self._casters = rtcore_scene.EmbreeScene()
        if n_casters:
            TriangleMesh(self._casters, v, np.asarray(faces[:n_casters], np.int32))
        else:
            self._casters = None

    def intersect(self, origins, dirs):
        r = self._all.run(np.asarray(origins, np.float32), np.asarray(dirs, np.float32), output=1)
        face = r["primID"].astype(np.int64)
        t = np.where(face >= 0, r["tfar"], np.inf).astype(np.float32)
        return t, face, r["u"], r["v"]

    def occluded(self, origins, dirs, tfar):
        if self._casters is None or len(dirs) == 0:
            return np.zeros(len(dirs), bool)
        tf = np.broadcast_to(np.asarray(tfar, np.float32), (len(dirs),)).copy()
        r = self._casters.run(np.asarray(origins, np.float32), np.asarray(dirs, np.float32), dists=tf, query="OCCLUDED")
        return r != -1


def make_intersector(vertices, faces, n_casters=None):
    """The fastest available CPU intersector."""
    if embree_available():
        return EmbreeIntersector(vertices, faces, n_casters)
    return EmbreexIntersector(vertices, faces, n_casters)
