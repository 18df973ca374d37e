import numpy as np
import pytest
import torch

import openbanana.metrics as M


def _unit(rng, shape):
    v = rng.normal(size=(*shape, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rotate_each(n, axis, theta_rad):
    """Rodrigues rotation of each vector n about its own axis (unit, perpendicular to n)."""
    return n * np.cos(theta_rad) + np.cross(axis, n) * np.sin(theta_rad)


@pytest.mark.parametrize("theta_deg", [3.0, 10.0, 25.0, 60.0])
def test_rotation_by_known_angle_gives_that_angle(theta_deg):
    rng = np.random.default_rng(0)
    gt = _unit(rng, (12, 10))
    axis = np.cross(gt, _unit(rng, (12, 10)))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    pred = _rotate_each(gt, axis, np.radians(theta_deg))
    m = M.normals(pred, gt)
    assert m["mean"] == pytest.approx(theta_deg, abs=1e-6)
    assert m["median"] == pytest.approx(theta_deg, abs=1e-6)
    assert m["rmse"] == pytest.approx(theta_deg, abs=1e-6)
    for key, t in [("a5", 5), ("a7_5", 7.5), ("a11_25", 11.25), ("a22_5", 22.5), ("a30", 30)]:
        assert m[key] == (100.0 if theta_deg < t else 0.0)


def test_shares_are_percent_and_inputs_renormalised():
    gt = np.zeros((1, 4, 3))
    gt[..., 2] = 1.0
    ang = np.radians([0.0, 6.0, 20.0, 90.0])
    pred = np.stack([np.sin(ang), np.zeros(4), np.cos(ang)], -1)[None] * 7.0  # length must not matter
    m = M.normals(pred, gt * 0.3)
    assert m["a5"] == pytest.approx(25.0)
    assert m["a7_5"] == pytest.approx(50.0)
    assert m["a22_5"] == pytest.approx(75.0)
    assert m["mean"] == pytest.approx(29.0)
    assert m["median"] == pytest.approx(13.0)
    assert m["rmse"] == pytest.approx(np.sqrt((36 + 400 + 8100) / 4))


def test_invalid_and_zero_gt_are_excluded():
    gt = np.zeros((2, 2, 3))
    gt[0, 0] = [0, 0, 1]
    gt[0, 1] = [0, 1, 0]
    gt[1, 0] = np.nan
    pred = np.tile(np.array([0.0, 0.0, 1.0]), (2, 2, 1))
    valid = np.array([[True, False], [True, True]])
    m = M.normals(pred, gt, valid)
    assert m["n_pixels"] == 1 and m["mean"] == pytest.approx(0.0, abs=1e-6)


def test_zero_prediction_scores_ninety_degrees():
    gt = np.tile(np.array([0.0, 0.0, 1.0]), (1, 2, 1))
    pred = gt.copy()
    pred[0, 1] = 0
    assert M.normals(pred, gt)["mean"] == pytest.approx(45.0)


def test_torch_matches_numpy_and_evaluator_pools_pixels():
    rng = np.random.default_rng(1)
    gt = _unit(rng, (6, 5)).astype(np.float32)
    pred = _unit(rng, (6, 5)).astype(np.float32)
    assert M.normals(torch.from_numpy(pred), torch.from_numpy(gt)) == M.normals(pred, gt)
    ev = M.NormalsEvaluator()
    ev.update(pred, gt)
    ev.update(pred[:2], gt[:2])
    errs = np.concatenate(
        [M.angular_error_deg(pred, gt).ravel(), M.angular_error_deg(pred[:2], gt[:2]).ravel()]
    )
    out = ev.compute()
    assert out["mean"] == pytest.approx(errs.mean(), rel=1e-5)
    assert out["median"] == pytest.approx(np.median(errs), rel=1e-5)
    assert out["n_images"] == 2 and out["n_pixels"] == 40


@pytest.mark.parametrize(
    "pred,gt,exc,msg",
    [
        (np.ones((2, 2, 3)), np.ones((2, 2, 2)), ValueError, r"\(H, W, 3\)"),
        (np.ones((2, 3, 3)), np.ones((2, 2, 3)), ValueError, "same shape"),
        (np.ones((2, 2, 3), np.uint8), np.ones((2, 2, 3)), TypeError, "floating"),
        (np.ones((2, 2, 3)), np.zeros((2, 2, 3)), ValueError, "valid pixel"),
        (np.full((2, 2, 3), np.nan), np.ones((2, 2, 3)), ValueError, "NaN"),
    ],
)
def test_bad_inputs(pred, gt, exc, msg):
    with pytest.raises(exc, match=msg):
        M.normals(pred, gt)
