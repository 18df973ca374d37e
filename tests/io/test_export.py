"""Exports: every file is read back (with our reader and an independent one) and values asserted."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from openbanana.io import load_png16
from openbanana.io.export import (
    DEFAULT_FOV_DEG,
    answer_kind,
    colorize_normals,
    depth_to_png16,
    depth_to_points,
    focal_px,
    labels_to_png16,
    make_sheet,
    masks_to_png16,
    normals_to_png16,
    overlay,
    palette_from_spec,
    png16_to_depth,
    png16_to_masks,
    png16_to_normals,
    write_ply,
    write_prediction,
)

RNG = np.random.default_rng(0)


def _unit_normals(h, w):
    n = RNG.normal(size=(h, w, 3))
    n[..., 2] = np.abs(n[..., 2])
    return (n / np.linalg.norm(n, axis=2, keepdims=True)).astype(np.float32)


def test_depth_png16_millimetres_and_invalid():
    d = np.array([[0.0005, 1.2344, 13.71], [np.nan, -1.0, 100.0]], np.float32)
    mm = depth_to_png16(d)
    np.testing.assert_array_equal(mm, [[1, 1234, 13710], [0, 0, 65535]])
    back = png16_to_depth(mm)
    assert back[0, 2] == pytest.approx(13.71)
    assert np.isnan(back[1, :2]).all()
    valid = np.array([[True, False, True], [True, True, True]])
    assert depth_to_png16(d, valid)[0, 1] == 0


def test_normals_png16_round_trip_within_quantisation():
    n = _unit_normals(7, 9)
    n[0, 0] = np.nan
    q = normals_to_png16(n)
    back = png16_to_normals(q)
    assert np.isnan(back[0, 0]).all()
    # 16 bits per component: each component within 2/65535 (float32 rounding on top)
    assert np.abs(back[1:] - n[1:]).max() < 4e-5
    np.testing.assert_array_equal(normals_to_png16(np.array([[[1.0, -1.0, 0.0]]])), [[[65535, 0, 32768]]])


def test_masks_png16_bit_planes_overlap_lossless():
    masks = RNG.random((20, 5, 6)) > 0.5  # overlapping, more than 16
    planes = masks_to_png16(masks)
    assert len(planes) == 2 and planes[0].dtype == np.uint16
    np.testing.assert_array_equal(png16_to_masks(planes, 20), masks)


def test_labels_png16_and_bad_values():
    lab = np.array([[0, 3, 255], [18, 1, 2]], np.int32)
    np.testing.assert_array_equal(labels_to_png16(lab), lab)
    with pytest.raises(ValueError, match="0, 65535"):
        labels_to_png16(np.array([[-1]]))


def test_answer_kind_by_task_and_by_array():
    assert answer_kind("depth", np.zeros((2, 2))) == "depth"
    assert answer_kind("semantic", np.zeros((2, 2), np.int32)) == "labels"
    assert answer_kind("referring", np.zeros((1, 2, 2), bool)) == "masks"
    assert answer_kind("t2i", None) is None
    assert answer_kind("my-task", np.zeros((2, 2, 3), np.float32)) == "normals"
    assert answer_kind("my-task", np.zeros((3, 2, 2), bool)) == "masks"


def test_pinhole_points_geometry():
    w, h = 4, 2
    d = np.full((h, w), 2.0, np.float32)
    pts, idx = depth_to_points(d, fov_deg=90.0)
    f = focal_px(w, 90.0)
    assert f == pytest.approx(2.0)
    assert len(pts) == 8 and idx.tolist() == list(range(8))
    # pixel (u=0, v=0): centre at (0.5, 0.5); x = (0.5 - 2) / 2 * 2 = -1.5; y = -(0.5 - 1) / 2 * 2 = 0.5
    np.testing.assert_allclose(pts[0], [-1.5, 0.5, -2.0])
    np.testing.assert_allclose(pts[-1], [1.5, -0.5, -2.0])
    # the outermost pixel edge sits at fov/2 = 45 degrees off axis
    assert math.degrees(math.atan((w / 2) / f)) == pytest.approx(45.0)
    d[0, 0], d[0, 1] = np.nan, 500.0
    pts, idx = depth_to_points(d, fov_deg=90.0, max_depth_m=80)
    assert 0 not in idx and 1 not in idx and len(pts) == 6
    with pytest.raises(ValueError, match="field of view"):
        focal_px(10, 180)


@pytest.mark.parametrize("binary", [True, False])
def test_ply_read_back_by_trimesh(tmp_path, binary):
    trimesh = pytest.importorskip("trimesh")
    pts = RNG.normal(size=(10, 3)).astype(np.float32)
    cols = RNG.integers(0, 256, (10, 3), dtype=np.uint8)
    nrm = _unit_normals(1, 10)[0]
    path = write_ply(tmp_path / "c.ply", pts, cols, nrm, binary=binary)
    cloud = trimesh.load(path, process=False)
    np.testing.assert_allclose(np.asarray(cloud.vertices), pts, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(cloud.colors)[:, :3], cols)
    text = path.read_bytes().split(b"end_header")[0].decode()
    assert "property float nx" in text and ("binary_little_endian" in text) == binary


def test_overlay_and_palette():
    img = np.zeros((4, 4, 3), np.uint8)
    masks = np.zeros((1, 4, 4), bool)
    masks[0, :2, :2] = True
    out = overlay(img, masks, alpha=1.0, colors=np.array([[255, 0, 0]], np.uint8))
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[3, 3], [0, 0, 0])
    assert palette_from_spec({"palette": {"sky": (70, 130, 180), "road": [128, 64, 128]}}).tolist() == [
        [70, 130, 180],
        [128, 64, 128],
    ]
    assert palette_from_spec({}) is None
    np.testing.assert_array_equal(colorize_normals(np.array([[[-1.0, 0, 0]]])), [[[255, 128, 128]]])


def test_write_prediction_depth_with_normals(tmp_path):
    h, w = 12, 16
    image = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = RNG.uniform(0.5, 20, (h, w)).astype(np.float32)
    depth[0, 0] = np.inf
    normals = _unit_normals(h, w)
    pred = SimpleNamespace(
        task="depth",
        instruction="estimate the depth",
        generated=image[::-1].copy(),
        answer=depth,
        valid=None,
        spec={},
    )
    files = write_prediction(pred, image, tmp_path, "room", fov_deg=70.0, normals=normals)
    assert {"generated", "npy", "png16", "vis", "ply", "json"} <= set(files)
    np.testing.assert_array_equal(np.asarray(Image.open(files["generated"])), image[::-1])
    np.testing.assert_array_equal(np.load(files["npy"]), depth)
    np.testing.assert_allclose(png16_to_depth(load_png16(files["png16"]))[0, 1:], depth[0, 1:], atol=5e-4)
    assert load_png16(files["png16"])[0, 0] == 0  # infinite depth is invalid in the PNG
    vis = np.asarray(Image.open(files["vis"]))
    assert vis.shape == (h, w, 3) and vis.std() > 10
    meta = json.loads(files["json"].read_text())
    assert meta["ply"]["points"] == h * w - 1 and meta["ply"]["normals"] and meta["ply"]["fov_deg"] == 70.0
    trimesh = pytest.importorskip("trimesh")
    cloud = trimesh.load(files["ply"], process=False)
    z = -np.asarray(cloud.vertices)[:, 2]
    np.testing.assert_allclose(np.sort(z), np.sort(depth.reshape(-1)[1:]), rtol=1e-6)
    header = files["ply"].read_bytes().split(b"end_header")[0]
    assert b"nx" in header and b"red" in header


def test_write_prediction_masks_labels_instances(tmp_path):
    h, w = 8, 10
    image = np.full((h, w, 3), 100, np.uint8)
    masks = np.zeros((2, h, w), bool)
    masks[0, :4] = True
    masks[1, 2:6, :5] = True
    f = write_prediction({"task": "referring", "answer": masks, "generated": image}, image, tmp_path, "m")
    np.testing.assert_array_equal(png16_to_masks([load_png16(f["png16"])], 2), masks)
    ov = np.asarray(Image.open(f["overlay"]))
    assert (ov[0, 0] != 100).any() and (ov[7, 9] == 100).all()
    lab = np.full((h, w), 255, np.int32)
    lab[:4] = 0
    lab[4:, :5] = 1
    spec = {"palette": {"sky": (0, 0, 255), "road": (255, 0, 0)}}
    f = write_prediction({"task": "semantic", "answer": lab, "spec": spec}, image, tmp_path, "s")
    np.testing.assert_array_equal(load_png16(f["png16"]), lab)
    vis = np.asarray(Image.open(f["vis"]))
    np.testing.assert_array_equal(vis[0, 0], [0, 0, 255])
    np.testing.assert_array_equal(vis[7, 0], [255, 0, 0])
    np.testing.assert_array_equal(vis[7, 9], [0, 0, 0])  # void
    ids = np.zeros((h, w), np.int32)
    ids[1:3, 1:3] = 1
    ids[5:7, 5:9] = 2
    f = write_prediction({"task": "instance", "answer": ids}, image, tmp_path, "i")
    np.testing.assert_array_equal(load_png16(f["png16"]), ids)
    ov = np.asarray(Image.open(f["overlay"]))
    assert (ov[0, 0] == 100).all() and (ov[1, 1] != 100).any()


def test_write_prediction_normals_and_generation_only(tmp_path):
    n = _unit_normals(5, 6)
    f = write_prediction(
        {"task": "normals", "answer": n, "generated": colorize_normals(n)}, None, tmp_path, "n"
    )
    back = png16_to_normals(load_png16(f["png16"]))
    assert np.abs(back - n).max() < 1e-4
    np.testing.assert_array_equal(np.asarray(Image.open(f["vis"])), colorize_normals(n))
    f = write_prediction(
        {"task": "t2i", "answer": None, "generated": np.zeros((4, 4, 3), np.uint8)}, None, tmp_path, "g"
    )
    assert set(f) == {"generated", "json"}


def test_make_sheet_size():
    sheet = make_sheet(
        [("a", np.zeros((10, 20, 3), np.uint8)), ("b", np.zeros((10, 10, 3), np.uint8))], height=40
    )
    assert sheet.shape[0] == 40 + 18 + 12 and sheet.shape[1] == 80 + 40 + 18
    assert DEFAULT_FOV_DEG == 60.0


def test_semantic_json_names_the_class_of_every_label(tmp_path):
    from openbanana.io.export import label_classes

    labels = np.array([[0, 1], [255, 1]], np.int32)
    pred = {"task": "semantic", "answer": labels, "class_names": ["zebra", "apple"],
            "spec": {"palette": {"zebra": (1, 2, 3), "apple": (4, 5, 6)}}}
    assert label_classes(pred) == {"0": "zebra", "1": "apple", "255": "void"}
    files = write_prediction(pred, None, tmp_path, "s")
    assert json.loads(files["json"].read_text())["classes"] == {"0": "zebra", "1": "apple", "255": "void"}
    assert label_classes({"task": "depth", "answer": np.ones((2, 2), np.float32), "class_names": None}) is None
    assert label_classes({"task": "instance", "answer": labels, "class_names": ["car"]}) is None


def test_two_depth_maps_drawn_on_one_scale():
    from openbanana.io.export import colorize_depth, depth_limits

    near = np.full((4, 4), 2.0, np.float32)
    near[0] = 1.0
    far = near * 10
    assert depth_limits(near) == pytest.approx((0.5, 1.0))
    assert depth_limits(np.full((2, 2), np.nan)) is None
    own_near, own_far = colorize_depth(near), colorize_depth(far)
    np.testing.assert_array_equal(own_near, own_far)  # each on its own scale: the same picture
    shared = depth_limits(near)
    np.testing.assert_array_equal(colorize_depth(near, limits=shared), own_near)
    far_on_near = colorize_depth(far, limits=shared)
    assert not np.array_equal(far_on_near, own_far)
    np.testing.assert_array_equal(far_on_near, np.broadcast_to(far_on_near[0, 0], far_on_near.shape))  # all "far"
