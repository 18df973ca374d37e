"""The torch (GPU) renderer and its batched intersectors (Warp's BVH, brute force) agree with the
Embree renderer (run here on the CPU)."""

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




# ----------------------------------------------------------------------------- Warp's BVH (on the CPU here)
def _sphere_scene(rng, n):
    import trimesh

    ms = [trimesh.creation.icosphere(1, radius=0.5).apply_translation((rng.uniform(-2, 2), rng.uniform(-2, 2),
                                                                        -rng.uniform(3, 6))) for _ in range(n)]
    return trimesh.util.concatenate(ms)


def test_warp_batch_matches_embree_per_scene_and_never_crosses_scenes():
    pytest.importorskip("warp")
    from openbanana.data.synthetic.warp_trace import WarpBatchIntersector

    rng = np.random.default_rng(3)
    scenes = [_sphere_scene(rng, 12), _sphere_scene(rng, 7)]  # same region of space, different spheres
    tris = [torch.as_tensor(m.vertices[m.faces], dtype=torch.float32) for m in scenes] + [torch.zeros((0, 3, 3))]
    n_casters = [len(scenes[0].faces) // 2, len(scenes[1].faces), 0]
    w = WarpBatchIntersector(tris, n_casters)
    d = np.concatenate([rng.uniform(-0.7, 0.7, (3, 1500, 2)), -np.ones((3, 1500, 1))], 2).astype(np.float32)
    o = np.zeros_like(d)
    t, face = (x.numpy() for x in w.intersect(torch.as_tensor(o), torch.as_tensor(d)))
    o2 = np.concatenate([rng.uniform(-2, 2, (3, 1500, 2)), np.zeros((3, 1500, 1))], 2).astype(np.float32)
    d2 = np.broadcast_to(np.float32([0, 0, -1]), o2.shape).copy()
    tfar = np.full((3, 1500), 4.5, np.float32)
    occ = w.occluded(torch.as_tensor(o2), torch.as_tensor(d2), torch.as_tensor(tfar)).numpy()
    for b, m in enumerate(scenes):
        e = make_intersector(m.vertices, m.faces, n_casters[b])
        te, fe, _, _ = e.intersect(o[b], d[b])
        assert (face[b] == fe).mean() > 0.999 and 0.1 < (fe >= 0).mean() < 0.95  # scene-local face ids
        h = (fe >= 0) & (fe == face[b])
        np.testing.assert_allclose(t[b][h], te[h], rtol=1e-4)
        assert not np.isfinite(t[b][fe < 0]).any()
        assert (occ[b] == e.occluded(o2[b], d2[b], 4.5)).mean() > 0.999
    assert (face[2] == -1).all() and np.isinf(t[2]).all() and not occ[2].any()  # the empty scene sees nothing


@pytest.mark.parametrize("intersector", ["warp", pytest.param("brute", marks=pytest.mark.slow)])
def test_render_batch_matches_render_scene(intersector):
    if intersector == "warp":
        pytest.importorskip("warp")
    batch = render_batch([0, 1], size=24, device="cpu", intersector=intersector)  # one call per query, both scenes
    for seed, g in zip((0, 1), batch):
        c = render_scene(seed, size=24)
        agree = _agree({"depth_m": c.depth_m, "normals": c.normals, "semantic": c.semantic, "instance": c.instance},
                       {"depth_m": g.depth_m, "normals": g.normals, "semantic": g.semantic, "instance": g.instance})
        assert min(agree.values()) >= 0.99, agree
        assert g.referring == c.referring and g.caption == c.caption
        assert (np.abs(g.rgb.astype(int) - c.rgb) <= 3).all(-1).mean() > 0.98


def test_stream_batches_overlaps_and_matches_render_batch():
    pytest.importorskip("warp")
    import multiprocessing as mp

    from openbanana.data.synthetic.gpu import stream_batches

    with mp.get_context("fork").Pool(2) as pool:
        streamed = list(stream_batches([5, 6, 7], batch=2, pool=pool, size=20, device="cpu"))
    assert [len(b) for b in streamed] == [2, 1]
    direct = render_batch([5, 6, 7], size=20, device="cpu")
    for s, r in zip([sc for b in streamed for sc in b], direct):
        assert s.seed == r.seed and s.caption == r.caption and s.referring == r.referring
        np.testing.assert_array_equal(s.rgb, r.rgb)
        np.testing.assert_array_equal(s.depth_m, r.depth_m)


def test_render_batch_bad_arguments():
    with pytest.raises(ValueError, match="unknown intersector 'bvh'"):
        render_batch([0], size=16, device="cpu", intersector="bvh")
    with pytest.raises(ValueError, match="prepared has 0 scenes for 1 seeds"):
        render_batch([0], size=16, device="cpu", prepared=[])


def test_edge_subsamples_on_the_device_equal_subsample_dirs():
    from openbanana.data.synthetic.gpu import edge_subsamples
    from openbanana.data.synthetic.render import subsample_dirs
    from openbanana.data.synthetic.world import sample_world

    rng = np.random.default_rng(0)
    H, W = 12, 16
    maps = [rng.integers(-1, 3, (H, W)), np.zeros((H, W), int), np.repeat(rng.integers(0, 2, (1, W)), H, 0)]
    cams = [sample_world(s, "train").camera for s in range(3)]
    focal = torch.tensor([c.focal_px(W) for c in cams], dtype=torch.float64)
    dirs, valid, pixel = edge_subsamples(torch.as_tensor(np.stack(maps)), focal)
    assert valid[1].sum() == 0  # no edges in a uniform map
    for b, (cam, pm) in enumerate(zip(cams, maps)):
        want_pixel, ref = subsample_dirs(cam, pm)
        n = len(ref)
        assert valid[b, :n].all() and not valid[b, n:].any()
        np.testing.assert_array_equal(dirs[b, :n].numpy(), ref)  # bit-identical directions
        np.testing.assert_array_equal(pixel[b, :n].numpy(), want_pixel)
