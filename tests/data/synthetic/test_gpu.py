"""The torch (GPU) renderer agrees with the Embree renderer (run here on the CPU)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from openbanana.data.synthetic import render_scene
from openbanana.data.synthetic.gpu import TorchIntersector, render_batch
from openbanana.data.synthetic.raycast import make_intersector
from openbanana.data.synthetic.render import render_spec


def _agree(a, b):
    fin = np.isfinite(a["depth_m"])
    both_inf = ~fin & ~np.isfinite(b["depth_m"])
    depth_ok = np.isclose(a["depth_m"], b["depth_m"], rtol=1e-3) | both_inf
    normals_ok = ((a["normals"] * b["normals"]).sum(-1) > 0.999) | both_inf
    return {k: float(v.mean()) for k, v in {
        "depth": depth_ok, "normals": normals_ok, "semantic": a["semantic"] == b["semantic"],
        "instance": a["instance"] == b["instance"]}.items()}


def test_torch_intersector_matches_embree_on_random_rays():
    import trimesh

    rng = np.random.default_rng(1)
    ms = [trimesh.creation.icosphere(1, radius=0.5).apply_translation((rng.uniform(-2, 2), rng.uniform(-2, 2),
                                                                        -rng.uniform(3, 6))) for _ in range(12)]
    m = trimesh.util.concatenate(ms)
    nc = len(m.faces) // 2
    e, t = make_intersector(m.vertices, m.faces, nc), TorchIntersector(m.vertices, m.faces, nc)
    d = np.concatenate([rng.uniform(-0.7, 0.7, (2000, 2)), -np.ones((2000, 1))], 1)
    o = np.zeros_like(d)
    te, fe, ue, ve = e.intersect(o, d)
    tt, ft, ut, vt = t.intersect(o, d)
    assert (fe == ft).mean() > 0.999 and 0.2 < (fe >= 0).mean() < 0.95
    h = (fe >= 0) & (fe == ft)
    np.testing.assert_allclose(tt[h], te[h], rtol=1e-4)
    np.testing.assert_allclose(ut[h], ue[h], atol=1e-3)
    np.testing.assert_allclose(vt[h], ve[h], atol=1e-3)
    o2 = np.concatenate([rng.uniform(-2, 2, (2000, 2)), np.zeros((2000, 1))], 1)
    d2 = np.tile([0, 0, -1.0], (2000, 1))
    assert (e.occluded(o2, d2, 4.5) == t.occluded(o2, d2, 4.5)).mean() > 0.999


def test_torch_renderer_matches_embree_on_a_small_scene(spec_factory, part_factory):
    parts = [part_factory("box", (6, 0.1, 6), (0, -1.0, -4), "floor", 0, color=(0.6, 0.6, 0.6), texture="checker"),
             part_factory("sphere", (0.8,) * 3, (0.4, -0.55, -3.5), "ball", 1),
             part_factory("cylinder", (0.4, 0.9, 0.4), (-0.6, -0.5, -4.2), "bottle", 2),
             part_factory("torus", (0.6, 0.6, 0.6), (0.2, 0.3, -5), "toy", 3, tilt=np.eye(3))]
    spec = spec_factory(parts)
    a = render_spec(spec, 40, 40)
    b = render_spec(spec, 40, 40, intersector=lambda v, f, c: TorchIntersector(v, f, c))
    agree = _agree(a, b)
    assert min(agree.values()) >= 0.99, agree
    assert (np.abs(a["rgb"].astype(int) - b["rgb"]) <= 3).all(-1).mean() > 0.98


@pytest.mark.slow
def test_render_batch_matches_render_scene():
    batch = render_batch([0, 1], size=24, device="cpu")  # one batched call per ray query, both scenes
    for seed, g in zip((0, 1), batch):
        c = render_scene(seed, size=24)
        agree = _agree({"depth_m": c.depth_m, "normals": c.normals, "semantic": c.semantic, "instance": c.instance},
                       {"depth_m": g.depth_m, "normals": g.normals, "semantic": g.semantic, "instance": g.instance})
        assert min(agree.values()) >= 0.99, agree
        assert g.referring == c.referring and g.caption == c.caption
        assert (np.abs(g.rgb.astype(int) - c.rgb) <= 3).all(-1).mean() > 0.98
