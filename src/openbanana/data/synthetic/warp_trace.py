"""Batched ray casting for the torch renderer with NVIDIA Warp's BVH (``pip install warp-lang``).

The GPU counterpart of Embree: Warp builds a bounding volume hierarchy over a triangle mesh on the
device (LBVH on CUDA, SAH on the CPU) and traverses it per ray in a compiled kernel. A batch of
scenes becomes ONE *grouped* mesh: every triangle carries its scene index as group, and a ray of
scene b starts its traversal at group b's subtree (``mesh_get_group_root``), so it never sees
another scene's geometry. Shadow rays use a second grouped mesh of the shadow casters only and an
any-hit query. Tensors pass between torch and Warp without copies (``wp.from_torch``).

It replaces the brute-force test of ``gpu.py`` (every ray against every triangle of its scene),
whose cost grows with rays x triangles; here it grows with rays x log(triangles). On the CPU Warp
runs the same kernels (compiled with its bundled clang), which is how the tests check it against
Embree without a GPU.
"""

from __future__ import annotations

import os
from functools import lru_cache

#: hits closer than this (in units of the ray direction) are ignored, as in the brute-force test
T_MIN = 1e-6


def warp_available() -> bool:
    """True if ``warp`` (the warp-lang package) imports."""
    try:
        import warp  # noqa: F401
    except ImportError:
        return False
    return True


def _init(wp) -> None:
    import torch

    if torch.cuda.is_available():
        wp.init()
        return
    # Without a CUDA driver, Warp's native library warns on stderr that GPU execution is not
    # available. That is expected here (the CPU kernels run), so the descriptor is muted for the
    # init call only; Python exceptions still propagate.
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            wp.init()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@lru_cache(maxsize=1)
def _kernels():
    """Initialise Warp (quietly) and define the two kernels once per process."""
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING  # no greeting, no per-module compile lines
    _init(wp)

    @wp.kernel
    def nearest(mesh: wp.uint64, count: wp.array(dtype=wp.int32), base: wp.array(dtype=wp.int32),
                org: wp.array2d(dtype=wp.vec3), dirs: wp.array2d(dtype=wp.vec3),
                t_out: wp.array2d(dtype=wp.float32), face_out: wp.array2d(dtype=wp.int32)):
        b, r = wp.tid()
        t_out[b, r] = wp.inf
        face_out[b, r] = -1
        if count[b] > 0:  # an empty group has no root: -1 would mean the whole batch
            q = wp.mesh_query_ray(mesh, org[b, r], dirs[b, r], 1.0e30, wp.mesh_get_group_root(mesh, b))
            if q.result and q.t > T_MIN:
                t_out[b, r] = q.t
                face_out[b, r] = q.face - base[b]

    @wp.kernel
    def any_hit(mesh: wp.uint64, count: wp.array(dtype=wp.int32), org: wp.array2d(dtype=wp.vec3),
                dirs: wp.array2d(dtype=wp.vec3), tfar: wp.array2d(dtype=wp.float32),
                out: wp.array2d(dtype=wp.bool)):
        b, r = wp.tid()
        out[b, r] = False
        if count[b] > 0 and tfar[b, r] > 0.0:
            out[b, r] = wp.mesh_query_ray_anyhit(mesh, org[b, r], dirs[b, r], tfar[b, r],
                                                 wp.mesh_get_group_root(mesh, b))

    return wp, nearest, any_hit


class _GroupedMesh:
    """One Warp mesh over the triangles of every scene, grouped by scene."""

    def __init__(self, wp, tris: list, device) -> None:
        import torch

        counts = [len(t) for t in tris]
        flat = torch.cat([t.reshape(-1, 3, 3) for t in tris]) if sum(counts) else torch.zeros((0, 3, 3), device=device)
        self.counts = torch.tensor(counts, dtype=torch.int32, device=device)
        self.base = (torch.cumsum(self.counts, 0) - self.counts).to(torch.int32)
        n = int(sum(counts))
        if n == 0:
            self.mesh = None
            return
        # three vertices per triangle (no sharing needed: the BVH is over triangles)
        self._points = flat.reshape(-1, 3).to(torch.float32).contiguous()
        self._indices = torch.arange(3 * n, dtype=torch.int32, device=device)
        self._groups = torch.repeat_interleave(torch.arange(len(tris), dtype=torch.int32, device=device), self.counts)
        self.mesh = wp.Mesh(points=wp.from_torch(self._points, dtype=wp.vec3), indices=wp.from_torch(self._indices),
                            groups=wp.from_torch(self._groups))


class WarpBatchIntersector:
    """Nearest-hit and shadow queries for a batch of scenes, with the brute-force functions'
    interface in ``gpu.py``.

    Args:
        tris: per scene a float tensor (T_b, 3, 3) of its triangles' corners, all on one device.
        n_casters: per scene how many of its first triangles cast shadows.
    """

    def __init__(self, tris: list, n_casters: list) -> None:
        wp, self._nearest, self._any_hit = _kernels()
        self._wp = wp
        self.device = tris[0].device
        self._wp_device = wp.device_from_torch(self.device)
        with self._scope():
            self.all = _GroupedMesh(wp, tris, self.device)
            self.casters = _GroupedMesh(wp, [t[: int(c)] for t, c in zip(tris, n_casters)], self.device)

    def _scope(self):
        """Warp's current device and, on CUDA, torch's current stream, so BVH builds and queries
        are ordered with the torch work that produces and consumes their tensors."""
        wp = self._wp
        if self.device.type == "cuda":
            return wp.ScopedStream(wp.stream_from_torch(self.device))
        return wp.ScopedDevice(self._wp_device)

    def intersect(self, o, d):
        """Nearest hits of rays o, d (B, R, 3) (each row against its own scene): t (B, R) float32
        (+inf on a miss) and face (B, R) int64, the scene-local triangle index (-1 on a miss)."""
        import torch

        B, R, _ = d.shape
        t = torch.full((B, R), float("inf"), device=self.device)
        face = torch.full((B, R), -1, dtype=torch.int32, device=self.device)
        m = self.all
        if m.mesh is not None and R:
            wp = self._wp
            with self._scope():
                wp.launch(self._nearest, dim=(B, R), inputs=[m.mesh.id, wp.from_torch(m.counts), wp.from_torch(m.base),
                                                             _vec3(wp, o), _vec3(wp, d)],
                          outputs=[wp.from_torch(t), wp.from_torch(face)])
        return t, face.long()

    def occluded(self, o, d, tfar):
        """Whether a shadow caster of its scene lies on each ray for t in (0, tfar): (B, R) bool."""
        import torch

        B, R, _ = d.shape
        out = torch.zeros((B, R), dtype=torch.bool, device=self.device)
        m = self.casters
        if m.mesh is not None and R:
            wp = self._wp
            with self._scope():
                wp.launch(self._any_hit, dim=(B, R), inputs=[m.mesh.id, wp.from_torch(m.counts), _vec3(wp, o),
                                                             _vec3(wp, d), wp.from_torch(tfar.to(torch.float32).contiguous())],
                          outputs=[wp.from_torch(out)])
        return out


def _vec3(wp, x):
    import torch

    return wp.from_torch(x.to(torch.float32).contiguous(), dtype=wp.vec3)

