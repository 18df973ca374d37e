"""Rooms of boxes, balls and cylinders, ray-cast analytically: a second renderer for the tests of
generalisation.

The training data comes from :mod:`openbanana.data.synthetic` (meshes, textures, a compiled ray
caster, its own lights and camera rules). A model can learn that renderer's quirks, so this module
draws rooms with none of its code: a box-shaped room (floor, ceiling, four walls) holding a few
axis-aligned boxes, spheres and vertical cylinders that stand on the floor, in flat colours, lit by
one directional light plus ambient light (Lambert, no shadows, no textures), seen through a pinhole
camera of random height, yaw, pitch and field of view. Every ray is intersected with every surface
in closed form, so depth and normals are exact.

Frames: world ``x`` right, ``y`` up, ``z`` into the room (the camera stands near ``z = 0`` and looks
toward ``+z``). Depth is z-depth in metres (along the camera's axis); normals are unit vectors in the
paper's camera frame (+x right, +y up, +z toward the viewer).

Example:
    >>> room = render_primitive_room(0, size=64)
    >>> room.rgb.shape, room.depth_m.shape, room.normals.shape
    ((64, 64, 3), (64, 64), (64, 64, 3))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: objects per room (inclusive range)
N_OBJECTS = (3, 7)
#: the RGB image is averaged over SUPERSAMPLE x SUPERSAMPLE rays per pixel (depth and normals use
#: the pixel's centre ray)
SUPERSAMPLE = 2
_NO_HIT = np.inf


@dataclass(frozen=True)
class PrimitiveRoom:
    """One rendered room.

    Attributes:
        rgb: uint8 ``(H, W, 3)``.
        depth_m: float32 ``(H, W)``, z-depth in metres (every pixel hits a surface: finite, > 0).
        normals: float32 ``(H, W, 3)``, unit normals in the paper's camera frame.
        object_ids: int32 ``(H, W)``: 0 for the room's surfaces, ``k`` for the k-th object.
        kinds: the objects' kinds (``"box"``, ``"ball"``, ``"cylinder"``), object ``k`` at ``k - 1``.
    """

    rgb: np.ndarray
    depth_m: np.ndarray
    normals: np.ndarray
    object_ids: np.ndarray
    kinds: tuple[str, ...]


def _camera(rng: np.random.Generator, room: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Eye position, rotation (rows: right, up, forward in world coordinates) and vertical field
    of view in radians."""
    w, h, _ = room
    eye = np.array([rng.uniform(0.35, 0.65) * w, rng.uniform(0.9, min(1.9, h - 0.3)), rng.uniform(0.2, 0.5)])
    yaw, pitch = np.radians(rng.uniform(-25, 25)), np.radians(rng.uniform(-25, 0))
    fwd = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    right = np.cross(np.array([0.0, 1.0, 0.0]), fwd)
    right /= np.linalg.norm(right)
    up = np.cross(fwd, right)
    return eye, np.stack([right, up, fwd]), np.radians(rng.uniform(45, 80))


def _rays(size: int, sub: int, rot: np.ndarray, fov: float) -> np.ndarray:
    """Unit ray directions ``(size*sub, size*sub, 3)`` in world coordinates, row 0 at the top."""
    n = size * sub
    f = 0.5 / np.tan(fov / 2)  # focal length in image heights
    c = (np.arange(n) + 0.5) / n - 0.5
    x, y = np.meshgrid(c, -c)  # [n, n]: +x right, +y up
    d = x[..., None] * rot[0] + y[..., None] * rot[1] + f * rot[2]
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def _hit_room(o: np.ndarray, d: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exit distance from inside the room box ``[0, room]`` and the inward normal there."""
    with np.errstate(divide="ignore", invalid="ignore"):
        far = np.where(d > 0, (room - o) / d, -o / d)  # [N, 3] distance to each axis' far wall
    far = np.where(np.abs(d) < 1e-12, _NO_HIT, far)
    axis = np.argmin(far, axis=-1)
    t = np.take_along_axis(far, axis[:, None], -1)[:, 0]
    n = np.zeros_like(d)
    n[np.arange(len(d)), axis] = -np.sign(d[np.arange(len(d)), axis])
    return t, n


def _hit_box(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry distance into the box ``[lo, hi]`` (inf where missed) and the outward normal there."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - o) / d, (hi - o) / d
    tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
    tmin = np.where(np.isnan(tmin), -np.inf, tmin)
    tmax = np.where(np.isnan(tmax), np.inf, tmax)
    axis = np.argmax(tmin, axis=-1)
    t_in = np.take_along_axis(tmin, axis[:, None], -1)[:, 0]
    hit = (t_in <= tmax.min(-1)) & (t_in > 1e-6)
    n = np.zeros_like(d)
    n[np.arange(len(d)), axis] = -np.sign(d[np.arange(len(d)), axis])
    return np.where(hit, t_in, _NO_HIT), n


def _hit_sphere(o: np.ndarray, d: np.ndarray, c: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    oc = o - c
    b = (oc * d).sum(-1)
    disc = b * b - ((oc * oc).sum(-1) - r * r)
    t = -b - np.sqrt(np.maximum(disc, 0))
    t = np.where((disc >= 0) & (t > 1e-6), t, _NO_HIT)
    p = o + np.where(np.isfinite(t), t, 0)[:, None] * d
    return t, (p - c) / r


def _hit_cylinder(o: np.ndarray, d: np.ndarray, c: np.ndarray, r: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """A vertical cylinder on the floor: axis through ``c`` (x, z), from y = 0 to ``height``."""
    ox, oz = o[:, 0] - c[0], o[:, 2] - c[2]
    a = d[:, 0] ** 2 + d[:, 2] ** 2
    b = ox * d[:, 0] + oz * d[:, 2]
    disc = b * b - a * (ox * ox + oz * oz - r * r)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0))) / a
    y = o[:, 1] + t_side * d[:, 1]
    t_side = np.where((disc >= 0) & (a > 1e-12) & (t_side > 1e-6) & (y >= 0) & (y <= height), t_side, _NO_HIT)
    with np.errstate(divide="ignore", invalid="ignore"):  # rays parallel to the cap: inf, nan
        t_cap = (height - o[:, 1]) / d[:, 1]
        px, pz = ox + t_cap * d[:, 0], oz + t_cap * d[:, 2]
        t_cap = np.where((t_cap > 1e-6) & (px * px + pz * pz <= r * r), t_cap, _NO_HIT)
    side = t_side <= t_cap
    t = np.where(side, t_side, t_cap)
    p = o + np.where(np.isfinite(t), t, 0)[:, None] * d
    n_side = np.stack([p[:, 0] - c[0], np.zeros(len(d)), p[:, 2] - c[2]], -1) / r
    n_cap = np.broadcast_to(np.array([0.0, 1.0, 0.0]), d.shape)
    return t, np.where(side[:, None], n_side, n_cap)


def _place_objects(rng: np.random.Generator, room: np.ndarray) -> list[tuple[str, tuple, np.ndarray]]:
    """Objects standing on the floor, clear of the camera's end of the room: (kind, geometry, colour)."""
    w, dz = room[0], room[2]
    objects = []
    for _ in range(rng.integers(N_OBJECTS[0], N_OBJECTS[1] + 1)):
        kind = str(rng.choice(["box", "ball", "cylinder"]))
        x, z = rng.uniform(0.5, w - 0.5), rng.uniform(1.2, dz - 0.5)
        colour = rng.uniform(0.15, 0.95, 3)
        if kind == "box":
            half = rng.uniform(0.15, 0.6, 3) * np.array([1.0, 1.5, 1.0])
            geom = (np.array([x - half[0], 0.0, z - half[2]]), np.array([x + half[0], 2 * half[1], z + half[2]]))
        elif kind == "ball":
            r = rng.uniform(0.12, 0.45)
            geom = (np.array([x, r, z]), r)
        else:
            geom = (np.array([x, 0.0, z]), rng.uniform(0.08, 0.35), rng.uniform(0.3, 1.6))
        objects.append((kind, geom, colour))
    return objects


_HITTERS = {"box": _hit_box, "ball": _hit_sphere, "cylinder": _hit_cylinder}


def _trace(o: np.ndarray, d: np.ndarray, room: np.ndarray, objects: list) -> tuple[np.ndarray, ...]:
    """Nearest hit of rays ``d`` [N, 3] from ``o``: distance, world normal, surface id (0..5 the
    room's walls by axis and side, 6 + k object k)."""
    t, n = _hit_room(o[None], d, room)
    axis = np.argmax(np.abs(n), -1)
    surface = axis * 2 + (n[np.arange(len(d)), axis] < 0)  # 0/1 x walls, 2 floor / 3 ceiling, 4/5 z walls
    for k, (kind, geom, _) in enumerate(objects):
        tk, nk = _HITTERS[kind](o[None], d, *geom)
        closer = tk < t
        t, n, surface = np.where(closer, tk, t), np.where(closer[:, None], nk, n), np.where(closer, 6 + k, surface)
    return t, n, surface


def render_primitive_room(seed: int, size: int = 128) -> PrimitiveRoom:
    """Room ``seed`` at ``size`` x ``size`` pixels (every pixel is a function of ``seed`` and ``size``)."""
    if size < 8:
        raise ValueError(f"primitive rooms: size must be >= 8 pixels, got {size}")
    rng = np.random.default_rng([seed, 20261207])
    room = np.array([rng.uniform(3.0, 7.0), rng.uniform(2.4, 3.2), rng.uniform(3.5, 9.0)])
    objects = _place_objects(rng, room)
    eye, rot, fov = _camera(rng, room)
    wall = rng.uniform(0.55, 0.95, 3)
    colours = np.stack([wall, wall * 0.95, rng.uniform(0.2, 0.7, 3), np.full(3, 0.92), wall * 0.9, wall * 0.97]
                       + [c for _, _, c in objects])  # [6 + objects, 3]
    light = np.array([rng.uniform(-0.5, 0.5), 1.0, rng.uniform(-0.6, 0.2)])
    light /= np.linalg.norm(light)
    ambient = rng.uniform(0.35, 0.55)

    d_fine = _rays(size, SUPERSAMPLE, rot, fov).reshape(-1, 3)
    _, n_fine, s_fine = _trace(eye, d_fine, room, objects)
    shade = ambient + (1 - ambient) * np.clip(n_fine @ light, 0, None)
    rgb = colours[s_fine] * shade[:, None]
    rgb = rgb.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean((1, 3))

    d = _rays(size, 1, rot, fov).reshape(-1, 3)
    t, n, surface = _trace(eye, d, room, objects)
    depth = (t * (d @ rot[2])).reshape(size, size)
    cam = np.stack([n @ rot[0], n @ rot[1], -(n @ rot[2])], -1).reshape(size, size, 3)  # paper frame
    ids = np.where(surface >= 6, surface - 5, 0).reshape(size, size)
    return PrimitiveRoom(
        rgb=np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8),
        depth_m=depth.astype(np.float32),
        normals=(cam / np.linalg.norm(cam, axis=-1, keepdims=True)).astype(np.float32),
        object_ids=ids.astype(np.int32),
        kinds=tuple(k for k, _, _ in objects),
    )
