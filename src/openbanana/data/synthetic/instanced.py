"""Two-level Embree scenes: every template mesh gets its BVH once per process, a frame is one
Embree *instance array* of per-part affine transforms.

A frame then costs a top-level build over ~200 instances (tens of microseconds) instead of
transforming ~10 k triangles and building their BVH (about 7 ms per 128 px frame, more than the
whole per-scene budget). The instances live in the WORLD frame, where rooms and streets are axis
aligned: in the camera frame a tilted camera turns every wall and floor slab into a huge bounding
box, and primary rays cost about twice as much. Rays are given in the camera frame (as in
``render.assemble``) and rotated into the world while packing; a rotation keeps the direction's
length and Embree maps rays into instances without normalising them, so the hit distance stays the
metric z-depth of the primary ray.

Hits come back as (instance array, index in the array, template triangle, barycentrics); the
:class:`TemplateAtlas` holds every template's corner and face normals in one table so the
shading kernels can look them up by ``face_offset[template] + triangle``.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from openbanana.data.synthetic.raycast import _aligned, _lib
from openbanana.data.synthetic.shapes import template, template_names

_GEOMETRY_TRIANGLE, _GEOMETRY_INSTANCE_ARRAY = 0, 122
_BUFFER_INDEX, _BUFFER_VERTEX, _BUFFER_TRANSFORM = 0, 1, 23
_FORMAT_UINT, _FORMAT_UINT3, _FORMAT_FLOAT3, _FORMAT_FLOAT3X4_ROW_MAJOR = 0x5001, 0x5003, 0x9003, 0x9134
_QUALITY_MEDIUM, _QUALITY_HIGH = 1, 2
#: ray masks: primary rays see both arrays, shadow rays (mask 0x1) only shadow casters
MASK_CASTER, MASK_NON_CASTER = 0x3, 0x2


@lru_cache(maxsize=1)
def _api() -> dict:
    api = _lib()
    lib = api["lib"]
    P, S = ctypes.c_void_p, ctypes.c_size_t
    f = lib.rtcSetGeometryInstancedScenes
    f.restype, f.argtypes = None, [P, P, S]
    api["instanced_scenes"] = f
    return api


@dataclass(frozen=True)
class TemplateAtlas:
    """All templates of the process, each with its own committed Embree scene.

    Shape: scenes (T,) scene pointers in ``names`` order; face_offset (T + 1,) int64;
    corner_normals (F_total, 3, 3) and face_normals (F_total, 3) float32 in template frames.
    """

    names: tuple[str, ...]
    index: dict
    scenes: np.ndarray
    face_offset: np.ndarray
    corner_normals: np.ndarray
    face_normals: np.ndarray
    buffers: tuple  # keeps the shared vertex / index buffers alive as long as the scenes


@lru_cache(maxsize=1)
def template_atlas() -> TemplateAtlas:
    """Build (once per process) one high-quality BVH per template."""
    api = _api()
    dev = api["device"]
    names = tuple(template_names())
    scenes, offsets, cns, fns, keep = [], [0], [], [], []
    for name in names:
        tpl = template(name)
        v = np.zeros((len(tpl.vertices) + 1, 4), np.float32)  # Embree reads 16 bytes per vertex
        v[:-1, :3] = tpl.vertices
        f = np.ascontiguousarray(tpl.faces, np.uint32)
        keep += [v, f]
        sc = api["new_scene"](dev)
        api["quality"](sc, _QUALITY_HIGH)
        g = api["new_geometry"](dev, _GEOMETRY_TRIANGLE)
        api["shared_buffer"](g, _BUFFER_VERTEX, 0, _FORMAT_FLOAT3, v.ctypes.data, 0, 16, len(tpl.vertices))
        api["shared_buffer"](g, _BUFFER_INDEX, 0, _FORMAT_UINT3, f.ctypes.data, 0, 12, len(f))
        api["geometry_mask"](g, 0xFFFFFFFF)
        api["commit_geometry"](g)
        api["attach"](sc, g)
        api["release_geometry"](g)
        api["commit_scene"](sc)
        scenes.append(sc)
        offsets.append(offsets[-1] + tpl.n_faces)
        cns.append(tpl.corner_normals)
        a, b, c = (tpl.vertices[tpl.faces[:, k]].astype(np.float64) for k in range(3))
        fn = np.cross(b - a, c - a)
        fns.append(fn / np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-20))
    err = api["error"](dev)
    if err:
        raise RuntimeError(f"Embree error {err} while building the template scenes")
    return TemplateAtlas(names, {n: i for i, n in enumerate(names)}, np.array(scenes, np.uint64),
                         np.array(offsets, np.int64), np.concatenate(cns).astype(np.float32),
                         np.concatenate(fns).astype(np.float32), tuple(keep))


class InstancedScene:
    """One frame: an instance array of shadow casters and one of non-casters.

    Args:
        shape_index: (P,) int template index (``TemplateAtlas.index``) of every part.
        transforms: (P, 3, 4) float affine maps [linear | translation] of every part into the
            scene frame.
        caster: (P,) bool; non-casters are invisible to shadow rays.
        cam_to_scene: (3, 4) rigid map [rotation | translation] from the camera frame to the scene
            frame; rays are given in the camera frame. Identity when the scene frame is the camera's.
    Attributes:
        ptr: the committed RTCScene (an int, for the tracing kernels).
        array_part: (2, P) int64; part index of element k of instance array g is array_part[g, k].
    """

    def __init__(self, shape_index: np.ndarray, transforms: np.ndarray, caster: np.ndarray,
                 cam_to_scene: np.ndarray | None = None) -> None:
        api, atlas = _api(), template_atlas()
        self.cam_to_scene = np.eye(3, 4) if cam_to_scene is None else np.ascontiguousarray(cam_to_scene, np.float64)
        self._api = api
        dev = api["device"]
        self._x = np.ascontiguousarray(transforms, np.float32).reshape(-1, 12)
        caster = np.asarray(caster, bool)
        self.array_part = np.full((2, max(1, len(caster))), -1, np.int64)
        self._keep = [self._x]
        self.ptr = api["new_scene"](dev)
        # the top level over ~200 instances: a medium-quality build costs no more than a low one
        # and its tree casts 3-7 % faster (bench_synthetic.py stages); the hits differ from a
        # low-quality tree's only at depth ties and grazing shadow rays
        api["quality"](self.ptr, _QUALITY_MEDIUM)
        for want, mask in ((True, MASK_CASTER), (False, MASK_NON_CASTER)):
            idx = np.flatnonzero(caster == want)
            if not len(idx):
                continue
            # the templates used (ascending) and each instance's position among them (np.unique's
            # values and inverse, by a count over the few templates instead of a sort)
            si = shape_index[idx]
            used = np.flatnonzero(np.bincount(si, minlength=len(atlas.scenes)))
            rank = np.empty(len(atlas.scenes), np.uint32)
            rank[used] = np.arange(len(used), dtype=np.uint32)
            which = rank[si]
            scenes = atlas.scenes[used]
            x = np.ascontiguousarray(self._x[idx])
            self._keep += [scenes, which, x]
            g = api["new_geometry"](dev, _GEOMETRY_INSTANCE_ARRAY)
            api["instanced_scenes"](g, scenes.ctypes.data, len(scenes))
            api["shared_buffer"](g, _BUFFER_INDEX, 0, _FORMAT_UINT, which.ctypes.data, 0, 4, len(idx))
            api["shared_buffer"](g, _BUFFER_TRANSFORM, 0, _FORMAT_FLOAT3X4_ROW_MAJOR, x.ctypes.data, 0, 48, len(idx))
            api["geometry_mask"](g, mask)
            api["commit_geometry"](g)
            gid = api["attach"](self.ptr, g)
            api["release_geometry"](g)
            if gid > 1:
                raise RuntimeError(f"unexpected Embree geometry id {gid}")
            self.array_part[gid, : len(idx)] = idx
        api["commit_scene"](self.ptr)
        err = api["error"](dev)
        if err:
            raise RuntimeError(f"Embree error {err} while building the instanced scene")

    def __del__(self) -> None:
        try:
            self._api["release_scene"](self.ptr)
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown may have unloaded the library
            pass


def packet_buffer(rows: int) -> np.ndarray:
    """A 64-byte aligned (rows, 16) float32 SoA packet buffer."""
    return _aligned(rows * 16).reshape(rows, 16)
