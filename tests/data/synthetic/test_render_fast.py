"""The compiled CPU engine (instanced Embree scene + numba kernels) against the numpy reference."""

import numpy as np
import pytest

from openbanana.data.synthetic import CLASSES
from openbanana.data.synthetic.cpu_shade import TONE_LUT, texture_weight, tone
from openbanana.data.synthetic.instanced import template_atlas
from openbanana.data.synthetic.materials import TEXTURE_ID, TEXTURES, _noise_tile, texture_mix
from openbanana.data.synthetic.render import compiled_available, render_spec
from openbanana.data.synthetic.render_fast import render_compiled
from openbanana.data.synthetic.world import sample_world

pytestmark = pytest.mark.skipif(not compiled_available(), reason="numba or Embree not available")


@pytest.mark.parametrize(("split", "seed"), [("train", 0), ("train", 4), ("val", 3), ("shift", 1), ("shift", 3)])
def test_compiled_engine_matches_the_numpy_engine(split, seed):
    spec = sample_world(seed, split)
    a = render_spec(spec, 64, 64, engine="compiled", return_aux=True)
    b = render_spec(spec, 64, 64, engine="numpy", return_aux=True)
    assert (a["semantic"] == b["semantic"]).mean() > 0.995
    assert (a["instance"] == b["instance"]).mean() > 0.995
    both_sky = ~np.isfinite(a["depth_m"]) & ~np.isfinite(b["depth_m"])
    assert (np.isclose(a["depth_m"], b["depth_m"], rtol=1e-4) | both_sky).mean() > 0.99
    assert (np.abs(a["normals"] - b["normals"]).max(-1) < 1e-3).mean() > 0.99
    assert (a["lit"] == b["lit"]).mean() > 0.99
    assert (a["n_samples"] == b["n_samples"]).mean() > 0.99
    assert abs(a["exposure_scale"] / b["exposure_scale"] - 1) < 0.01
    diff = np.abs(a["rgb"].astype(int) - b["rgb"])
    assert (diff <= 3).all(-1).mean() > 0.99, np.percentile(diff, 99)


def test_every_texture_weight_matches_the_array_version():
    rng = np.random.default_rng(0)
    u, v = rng.uniform(-20, 20, 3000).astype(np.float32), rng.uniform(-20, 20, 3000).astype(np.float32)
    fade = rng.uniform(0, 1, 3000).astype(np.float32)
    tile = _noise_tile()
    for name in TEXTURES:
        if name in ("flat", "image"):
            continue
        want, _ = texture_mix(np, TEXTURE_ID[name], u, v, fade, np.float32(5.0))
        got = np.array([texture_weight(TEXTURE_ID[name], float(a), float(b), float(f), 5.0, tile)
                        for a, b, f in zip(u, v, fade)])
        # float32 vs float64 coordinates may land on the other side of a cell edge on a few samples
        assert (np.abs(got - want) < 1e-2).mean() > 0.99, name


def test_template_atlas_normals_are_unit_and_indexed_by_offset():
    atlas = template_atlas()
    assert atlas.face_offset[-1] == len(atlas.face_normals) == len(atlas.corner_normals)
    norms = np.linalg.norm(atlas.face_normals, axis=1)
    unit = np.abs(norms - 1) < 1e-5
    assert unit.mean() > 0.95 and (norms[~unit] == 0).all()  # zero only on degenerate (unhittable) faces
    assert np.diff(atlas.face_offset).min() > 0


def test_empty_scene_is_all_sky(spec_factory):
    out = render_spec(spec_factory([]), 16, 16, engine="compiled", return_aux=True)
    assert np.isinf(out["depth_m"]).all() and (out["semantic"] == CLASSES.index("sky")).all()
    assert (out["instance"] == 0).all() and out["rgb"].std() > 0  # a sky gradient, not a constant


def test_non_casters_cast_no_shadow_in_the_compiled_engine(spec_factory, part_factory):
    from openbanana.data.synthetic.scene import Camera, Light

    floor = part_factory("box", (20, 0.1, 20), (0, -1.55, -4), "floor", 0)
    cam = Camera((0.0, 0.0, 0.0), 0.0, -20.0, 0.0, 60.0)
    sun = [Light("sun", (1, 1, 1), 3.0, direction=(0.6, -0.8, 0.0))]
    on_floor = lambda o: o["semantic"] == CLASSES.index("floor")
    solid = render_spec(spec_factory([floor, part_factory("box", (0.8,) * 3, (0, -1.1, -4), "box", 1)], lights=sun,
                                     camera=cam), 48, 48, engine="compiled", return_aux=True)
    glass = render_spec(spec_factory([floor, part_factory("box", (0.8,) * 3, (0, -1.1, -4), "window", 1, caster=False)],
                                     lights=sun, camera=cam), 48, 48, engine="compiled", return_aux=True)
    assert (~solid["lit"][..., 0][on_floor(solid)]).sum() > 10
    assert glass["lit"][..., 0][on_floor(glass)].all()


def test_timings_report_stages_and_ray_counts():
    timings: dict = {}
    render_compiled(sample_world(2, "train"), 32, 40, timings=timings)
    assert timings["primary_rays"] == 32 * 40
    assert timings["shadows_rays"] > 0
    assert {"scene", "primary", "antialias", "surface", "shadows", "shade", "outputs"} <= set(timings)


def test_tone_table_is_the_tone_curve_to_a_fraction_of_a_level():
    z = np.concatenate([np.geomspace(1e-7, 30, 20000), [0.0]])
    want = (1 - np.exp(-z)) ** (1 / 2.2)
    got = np.array([tone(v, TONE_LUT) for v in z])
    assert np.abs(got - want).max() * 255 < 0.5


def test_engine_arguments_are_checked(spec_factory):
    spec = spec_factory([])
    with pytest.raises(ValueError, match="engine"):
        render_spec(spec, 8, 8, engine="fast")
    with pytest.raises(ValueError, match="intersector"):
        render_spec(spec, 8, 8, engine="compiled", intersector=lambda v, f, c: None)


def test_without_numba_auto_falls_back_and_compiled_says_why(spec_factory, monkeypatch):
    from openbanana.data.synthetic import render

    monkeypatch.setattr(render, "compiled_available", lambda: False)
    spec = spec_factory([])
    assert np.isinf(render_spec(spec, 8, 8)["depth_m"]).all()  # auto -> the numpy engine
    with pytest.raises(RuntimeError, match="numba"):
        render_spec(spec, 8, 8, engine="compiled")


def test_threads_render_the_same_bytes():
    from concurrent.futures import ThreadPoolExecutor

    specs = [sample_world(s, "train") for s in range(4)]
    want = [render_spec(sp, 32, 32, engine="compiled")["rgb"] for sp in specs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda sp: render_spec(sp, 32, 32, engine="compiled")["rgb"], specs * 2))
    for k, g in enumerate(got):
        np.testing.assert_array_equal(g, want[k % 4])


@pytest.mark.parametrize(("H", "W"), [(32, 40), (17, 9)])
def test_ray_kernels_give_the_numpy_rays_bit_for_bit(H, W):
    from openbanana.data.synthetic.cpu_rays import centre_rays, edge_subsamples
    from openbanana.data.synthetic.frame import AA
    from openbanana.data.synthetic.render import pixel_dirs, subsample_dirs

    rng = np.random.default_rng(H)
    for seed in range(3):
        cam = sample_world(seed, "train").camera
        part = rng.integers(-1, 3, H * W) if seed else np.full(H * W, 2)  # seed 0: no edge at all
        k = AA.offsets.shape[1]
        dirs, owner = np.zeros((H * W * (k + 1), 3), np.float32), np.zeros(H * W * (k + 1), np.int64)
        centre_rays(H, W, cam.focal_px(W), dirs)
        n = edge_subsamples(part, H, W, cam.focal_px(W), AA.offsets, AA.counts, dirs, owner)
        pixel, sd = subsample_dirs(cam, part.reshape(H, W))
        assert n == H * W + len(sd) and (n > H * W) == (seed > 0)
        assert dirs[: H * W].tobytes() == pixel_dirs(cam, H, W).tobytes()
        assert dirs[H * W : n].tobytes() == sd.tobytes()
        np.testing.assert_array_equal(owner[:n], np.concatenate([np.arange(H * W), pixel]))


def test_pixel_labels_kernel_gives_the_numpy_maps():
    from openbanana.data.synthetic.classes import CLASS_ID
    from openbanana.data.synthetic.cpu_outputs import pixel_labels
    from openbanana.data.synthetic.render import frame_outputs

    rng = np.random.default_rng(0)
    H, W, N, P = 6, 7, 60, 5
    part = rng.integers(-1, P, N)
    t = np.where(part >= 0, rng.uniform(0.1, 9, N), np.inf).astype(np.float32)
    nrm = rng.normal(size=(N, 3)).astype(np.float32)
    cls, inst = rng.integers(0, 40, P), rng.integers(0, 9, P)
    want = frame_outputs(H, W, None, t, part, nrm, np.zeros((N, 1), np.float32), np.arange(N), cls, inst, 1.0, False)
    semantic, instance = np.empty(H * W, np.uint8), np.empty(H * W, np.int32)
    pixel_labels(part, cls, inst, CLASS_ID["sky"], semantic, instance)
    for key, got in (("semantic", semantic), ("instance", instance)):
        assert got.dtype == want[key].dtype and got.tobytes() == want[key].tobytes(), key


def test_part_table_kernel_gives_the_numpy_frames_and_rows(spec_factory, part_factory):
    from openbanana.data.synthetic.frame import PartRows
    from openbanana.data.synthetic.render import part_attributes, part_frames
    from openbanana.data.synthetic.render_fast import part_table
    from openbanana.data.synthetic.scene import Camera, rot_x

    # axis-aligned cameras and parts give many signed zeros, tilts take the stacked matmul
    parts = [part_factory("box", (1.0, 2.0, 0.5), (1.0, -1.0, -3.0), yaw=yaw, tilt=tilt)
             for yaw in (0.0, 90.0, 180.0, -90.0, 33.0) for tilt in (None, rot_x(90.0))]
    specs = [spec_factory(parts, camera=Camera((0.5, 1.0, 2.0), yaw, pitch, 0.0, 60.0))
             for yaw, pitch in ((0.0, 0.0), (180.0, 0.0), (90.0, -30.0))]
    for spec in specs + [sample_world(s, split) for s, split in ((0, "train"), (5, "val"), (2, "shift"))]:
        rows = PartRows.of(spec)
        w2c = spec.camera.world_to_cam()
        rot, pf, pi = part_table(spec, rows, w2c)
        rot0, size, trans = part_frames(spec, rows)
        a = part_attributes(spec, rot0, size, trans, rows)
        P = len(rot0)
        cut = np.float32(1e-5) ** (1.0 / np.maximum(a["shin"], 1e-3))
        want = np.concatenate([a["rot"].reshape(P, 9), a["trans"], (rot0 / size[:, None, :]).reshape(P, 9), a["size"],
                               a["color"], a["color2"], np.stack([a[k] for k in ("scale", "spec", "shin", "emis", "salt")],
                                                                 1), cut[:, None]], 1).astype(np.float32)
        assert rot.tobytes() == rot0.tobytes()
        assert pf.tobytes() == want.tobytes()
        np.testing.assert_array_equal(pi, np.stack([a["cls"], a["inst"], a["tex"], a["image"]], 1))


def test_shadow_origins_are_the_numpy_shadow_ray_origins():
    from openbanana.data.synthetic.cpu_shade import shadow_origins
    from openbanana.data.synthetic.render import NumpyOps, shadow_rays

    rng = np.random.default_rng(1)
    N = 500
    part = rng.integers(-1, 4, N)
    pos = rng.uniform(-20, 20, (N, 3)).astype(np.float32)
    geo = rng.normal(size=(N, 3)).astype(np.float32)
    geo /= np.linalg.norm(geo, axis=1, keepdims=True)
    xf = np.concatenate([sample_world(0, "train").camera.cam_to_world(), [[1.0], [-2.0], [0.5]]], 1)
    org, org_scene = np.zeros((N, 3), np.float32), np.zeros((N, 3), np.float32)
    shadow_origins(part, pos, geo, xf, org, org_scene)
    hit = part >= 0
    lights = {"rgb": np.ones((1, 3), np.float32), "shadows": np.array([True]), "is_sun": np.array([True]),
              "dir": np.array([[0.0, -1.0, 0.0]], np.float32)}
    want, _, _, point, _ = shadow_rays(NumpyOps, lights, pos[hit], geo[hit], geo[hit])  # points facing the sun
    assert len(point) > 100
    np.testing.assert_allclose(org[hit][point], want, rtol=1e-6, atol=1e-6)
    assert not org[~hit].any() and not org_scene[~hit].any()  # misses untouched
    o = org[hit].astype(np.float64)
    mapped = ((xf[:, 0] * o[:, :1] + xf[:, 1] * o[:, 1:2]) + xf[:, 2] * o[:, 2:]) + xf[:, 3]
    assert org_scene[hit].tobytes() == mapped.astype(np.float32).tobytes()


def test_custom_subsample_patterns_for_quality_studies():
    """aa (benchmarks/aa_quality.py): no subsamples renders what antialias=False renders, more
    subsamples cast more rays, the default is render.AA, and edit facts follow any pattern."""
    from openbanana.data.synthetic.frame import AA, ROTATED_GRID, AAPattern

    spec = sample_world(4, "train")
    none = render_compiled(spec, 32, 32, aa=AAPattern.uniform(np.zeros((0, 2))))
    off = render_compiled(spec, 32, 32, antialias=False)
    assert all(np.array_equal(none[k], off[k]) for k in ("rgb", "depth_m", "normals", "semantic", "instance"))
    two, three = {}, {}
    render_compiled(spec, 32, 32, aa=AAPattern.uniform(ROTATED_GRID[:2]), timings=two)
    grid = render_compiled(spec, 32, 32, aa=AAPattern.uniform(ROTATED_GRID), timings=three, return_aux=True)
    assert 0 < two["antialias_rays"] * 3 == three["antialias_rays"] * 2
    assert np.array_equal(render_compiled(spec, 32, 32, aa=AA)["rgb"], render_compiled(spec, 32, 32)["rgb"])
    assert set(np.unique(grid["n_samples"]).tolist()) == {1.0, 4.0}
