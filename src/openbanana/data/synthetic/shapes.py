"""Template meshes, built once per process and instanced into scenes by affine transforms.

Every template is a triangle mesh in a unit frame (about one metre across, centred on the origin,
+y up) with per-corner shading normals: flat shapes carry their face normal on each corner, curved
shapes carry the analytic surface normal, so interpolating corner normals with the hit's
barycentrics gives smooth spheres, cylinders and tori.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

# trimesh (about 0.7 s to import) is imported inside the mesh builders: data.synthetic loads with
# `openbanana --help`.


@dataclass(frozen=True)
class Template:
    """A mesh in its unit frame.

    Shape:
        vertices: (V, 3) float32; faces: (F, 3) int32; corner_normals: (F, 3, 3) float32 unit.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    corner_normals: np.ndarray

    @property
    def n_faces(self) -> int:
        return int(self.faces.shape[0])


def _finish(name: str, v, f, cn=None) -> Template:
    v = np.asarray(v, np.float32)
    f = np.asarray(f, np.int32)
    if cn is None:  # flat: face normal on every corner
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        n = np.cross(b - a, c - a)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        cn = np.repeat(n[:, None, :], 3, axis=1)
    cn = np.asarray(cn, np.float32)
    cn /= np.maximum(np.linalg.norm(cn, axis=2, keepdims=True), 1e-12)
    for arr in (v, f, cn):
        arr.setflags(write=False)
    return Template(name, v, f, cn)


def _smooth(name: str, v, f, vn) -> Template:
    f = np.asarray(f, np.int32)
    return _finish(name, v, f, np.asarray(vn, np.float32)[f])


def box() -> Template:
    """Unit cube [-0.5, 0.5]^3, flat faces (24 corners so each face has its own normal)."""
    verts, faces = [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            u, w = [(1, 2), (2, 0), (0, 1)][axis]
            quad = []
            for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = [0.0, 0.0, 0.0]
                p[axis] = 0.5 * sign
                p[u] = 0.5 * a
                p[w] = 0.5 * b
                quad.append(p)
            base = len(verts)
            verts += quad
            if sign > 0:
                faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
            else:
                faces += [[base, base + 2, base + 1], [base, base + 3, base + 2]]
    return _finish("box", verts, faces)


def quad() -> Template:
    """Unit square in the xy plane facing +z (walls, floors, screens)."""
    v = [[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0]]
    return _finish("quad", v, [[0, 1, 2], [0, 2, 3]])


def lathe(name: str, profile, segments: int = 20, cap_bottom: bool = True, cap_top: bool = True) -> Template:
    """Surface of revolution about +y from a (radius, height) profile listed bottom to top."""
    prof = np.asarray(profile, np.float64)
    r, y = prof[:, 0], prof[:, 1]
    # profile normals (smooth, from neighbouring segments): outward radial, tilted by the slope
    dr = np.gradient(r)
    dy = np.gradient(y)
    nr, ny = dy, -dr
    ln = np.hypot(nr, ny)
    nr, ny = nr / np.maximum(ln, 1e-12), ny / np.maximum(ln, 1e-12)
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ca, sa = np.cos(ang), np.sin(ang)
    m = len(prof)
    v = np.stack([r[:, None] * ca[None], np.repeat(y[:, None], segments, 1), r[:, None] * sa[None]], -1)
    vn = np.stack([nr[:, None] * ca[None], np.repeat(ny[:, None], segments, 1), nr[:, None] * sa[None]], -1)
    v, vn = v.reshape(-1, 3), vn.reshape(-1, 3)
    faces = []
    for i in range(m - 1):
        for j in range(segments):
            a, b = i * segments + j, i * segments + (j + 1) % segments
            c, d = a + segments, b + segments
            faces += [[a, c, b], [b, c, d]]
    v, vn = list(v), list(vn)
    for cap, level, sign in ((cap_bottom, 0, -1.0), (cap_top, m - 1, 1.0)):
        if not cap or r[level] < 1e-6:
            continue
        center = len(v)
        v.append([0.0, y[level], 0.0])
        vn.append([0.0, sign, 0.0])
        ring = []
        for j in range(segments):
            ring.append(len(v))
            v.append([r[level] * ca[j], y[level], r[level] * sa[j]])
            vn.append([0.0, sign, 0.0])
        for j in range(segments):
            a, b = ring[j], ring[(j + 1) % segments]
            faces.append([center, b, a] if sign > 0 else [center, a, b])
    return _smooth(name, v, faces, vn)


def sphere(subdivisions: int = 2, name: str = "sphere") -> Template:
    """Unit-diameter icosphere with analytic (radial) normals."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.5)
    v = np.asarray(m.vertices)
    return _smooth(name, v, m.faces, v / np.linalg.norm(v, axis=1, keepdims=True))


def torus(major: float = 0.35, minor: float = 0.15, seg: int = 24, ring: int = 10) -> Template:
    """Torus in the xz plane (hole along y), outer diameter 2*(major+minor)."""
    u = np.linspace(0, 2 * np.pi, seg, endpoint=False)
    w = np.linspace(0, 2 * np.pi, ring, endpoint=False)
    uu, ww = np.meshgrid(u, w, indexing="ij")
    cx, cz = np.cos(uu), np.sin(uu)
    n = np.stack([np.cos(ww) * cx, np.sin(ww), np.cos(ww) * cz], -1).reshape(-1, 3)
    v = np.stack([major * cx, np.zeros_like(cx), major * cz], -1).reshape(-1, 3) + minor * n
    return _smooth("torus", v, _grid_faces(seg, ring), n)


def _grid_faces(nu: int, nv: int) -> list[list[int]]:
    faces = []
    for i in range(nu):
        for j in range(nv):
            a, b = i * nv + j, i * nv + (j + 1) % nv
            c, d = ((i + 1) % nu) * nv + j, ((i + 1) % nu) * nv + (j + 1) % nv
            faces += [[a, b, c], [b, d, c]]
    return faces


def knot(p: int = 2, q: int = 3, seg: int = 72, ring: int = 8, tube: float = 0.08) -> Template:
    """A (p, q) torus knot tube (held out of the train split)."""
    t = np.linspace(0, 2 * np.pi, seg, endpoint=False)

    def curve(t):
        r = 0.25 + 0.12 * np.cos(q * t)
        return np.stack([r * np.cos(p * t), 0.12 * np.sin(q * t), r * np.sin(p * t)], -1)

    c = curve(t)
    tan = curve(t + 1e-3) - curve(t - 1e-3)
    tan /= np.linalg.norm(tan, axis=1, keepdims=True)
    ref = np.array([0.0, 1.0, 0.0])
    b1 = np.cross(tan, ref)
    b1 /= np.linalg.norm(b1, axis=1, keepdims=True)
    b2 = np.cross(tan, b1)
    w = np.linspace(0, 2 * np.pi, ring, endpoint=False)
    n = np.cos(w)[None, :, None] * b1[:, None] + np.sin(w)[None, :, None] * b2[:, None]
    v = c[:, None] + tube * n
    return _smooth("knot", v.reshape(-1, 3), _grid_faces(seg, ring), n.reshape(-1, 3))


def gem() -> Template:
    """A faceted gem: an icosahedron stretched along y, flat facets (held out of train)."""
    import trimesh

    m = trimesh.creation.icosahedron()
    v = np.asarray(m.vertices) / 2.0 * np.array([0.8, 1.1, 0.8])
    return _finish("gem", v, m.faces)


def star_prism(points: int = 5) -> Template:
    """An extruded star, flat faces (held out of train)."""
    ang = np.linspace(0, 2 * np.pi, 2 * points, endpoint=False) + np.pi / 2
    rad = np.where(np.arange(2 * points) % 2 == 0, 0.5, 0.22)
    xs, ys = rad * np.cos(ang), rad * np.sin(ang)
    v, f = [], []
    for z in (-0.15, 0.15):
        v.append([0.0, 0.0, z])
        v += [[x, y, z] for x, y in zip(xs, ys)]
    k = 2 * points
    for i in range(k):
        a, b = 1 + i, 1 + (i + 1) % k
        f.append([0, b, a])  # back
        f.append([k + 1, k + 2 + i, k + 2 + (i + 1) % k])  # front
    # side walls: separate vertices so the walls are flat
    for i in range(k):
        a = np.array([xs[i], ys[i]])
        b = np.array([xs[(i + 1) % k], ys[(i + 1) % k]])
        base = len(v)
        v += [[a[0], a[1], -0.15], [b[0], b[1], -0.15], [b[0], b[1], 0.15], [a[0], a[1], 0.15]]
        f += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
    return _finish("star", v, f)


def cabin() -> Template:
    """A car cabin: a box whose top is narrower than its bottom (a trapezoid in the xy section)."""
    t = box()
    v = np.array(t.vertices, np.float64)
    top = v[:, 1] > 0
    v[top, 0] *= 0.62
    v[top, 2] *= 0.9
    return _finish("cabin", v, t.faces)


def blob(variant: int) -> Template:
    """A lumpy foliage crown: an icosphere displaced by smooth random bumps (a 'mesh' shape)."""
    import trimesh

    rng = np.random.default_rng(1000 + variant)
    m = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    v = np.asarray(m.vertices).copy()
    d = v / np.linalg.norm(v, axis=1, keepdims=True)
    bumps = np.zeros(len(v))
    for _ in range(7):
        c = rng.normal(size=3)
        c /= np.linalg.norm(c)
        bumps += rng.uniform(0.05, 0.14) * np.exp(-((d @ c - 1.0) ** 2) / 0.08)
    v = d * (0.5 + bumps[:, None] - 0.06)
    mm = trimesh.Trimesh(v, m.faces, process=False)
    return _smooth(f"blob{variant}", v, m.faces, np.asarray(mm.vertex_normals))


def capsule() -> Template:
    """A capsule of diameter 0.5 and height 1 along y (limbs, bodies, pillows)."""
    import trimesh

    m = trimesh.creation.capsule(height=0.5, radius=0.25, count=[10, 6])
    v = np.asarray(m.vertices)[:, [0, 2, 1]]  # trimesh's capsule runs along z
    f = np.asarray(m.faces)[:, [0, 2, 1]]
    mm = trimesh.Trimesh(v, f, process=False)
    return _smooth("capsule", v, f, np.asarray(mm.vertex_normals))


def _profiles() -> dict[str, list[tuple[float, float]]]:
    return {
        # (radius, height) bottom -> top, unit height, centred at y = 0
        "cylinder": [(0.5, -0.5), (0.5, 0.5)],
        "cylinder_lo": [(0.5, -0.5), (0.5, 0.5)],
        "cone": [(0.5, -0.5), (0.25, 0.0), (0.0, 0.5)],
        "bottle": [(0.5, -0.5), (0.5, 0.1), (0.42, 0.22), (0.2, 0.32), (0.17, 0.4), (0.17, 0.5)],
        "vase": [(0.3, -0.5), (0.48, -0.25), (0.5, -0.05), (0.3, 0.25), (0.22, 0.4), (0.3, 0.5)],
        "cup": [(0.4, -0.5), (0.45, -0.2), (0.5, 0.5)],
        "shade": [(0.5, -0.5), (0.3, 0.5)],
        "pot": [(0.38, -0.5), (0.5, 0.5)],
    }


_BUILDERS = {
    "box": box,
    "quad": quad,
    "sphere": sphere,
    "sphere_lo": lambda: sphere(1, "sphere_lo"),
    "torus": torus,
    "knot": knot,
    "gem": gem,
    "star": star_prism,
    "cabin": cabin,
    "capsule": capsule,
    "blob0": lambda: blob(0),
    "blob1": lambda: blob(1),
    "blob2": lambda: blob(2),
}

#: Shapes that only the ``shift`` split uses (see splits.py).
HELD_OUT_SHAPES = frozenset({"knot", "gem", "star"})


@cache
def template(name: str) -> Template:
    """The cached template ``name``; raises ValueError listing the known names."""
    if name in _BUILDERS:
        return _BUILDERS[name]()
    profiles = _profiles()
    if name in profiles:
        open_ends = name in ("shade",)
        cup = name == "cup"
        seg = {"cylinder": 24, "cone": 24, "cylinder_lo": 8}.get(name, 16)
        return lathe(name, profiles[name], segments=seg, cap_bottom=not open_ends,
                     cap_top=not (open_ends or cup))
    raise ValueError(f"unknown shape {name!r}; expected one of: {', '.join(template_names())}")


def template_names() -> list[str]:
    return sorted([*_BUILDERS, *_profiles()])
