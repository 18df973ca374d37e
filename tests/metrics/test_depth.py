import numpy as np
import pytest
import torch

import openbanana.metrics as M


def _gt(seed=0, shape=(16, 20)):
    return np.random.default_rng(seed).uniform(0.5, 20.0, shape)


def test_ten_percent_off_gives_absrel_point_one_and_delta1_one():
    gt = _gt()
    m = M.depth(gt * 1.1, gt)
    assert m["abs_rel"] == pytest.approx(0.1, abs=1e-12)
    assert m["delta1"] == 1.0 and m["delta3"] == 1.0
    assert m["rmse_log"] == pytest.approx(np.log(1.1), abs=1e-12)
    assert m["log10"] == pytest.approx(np.log10(1.1), abs=1e-12)
    assert m["silog"] == pytest.approx(0.0, abs=1e-5)  # a pure scale error is scale-invariant
    assert m["sq_rel"] == pytest.approx(np.mean(0.01 * gt), rel=1e-12)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((0.1 * gt) ** 2)), rel=1e-12)
    assert m["n_pixels"] == gt.size


def test_hand_computed_values_on_four_pixels():
    gt = np.array([[1.0, 2.0], [4.0, 8.0]])
    pred = np.array([[1.0, 3.0], [2.0, 8.0]])
    m = M.depth(pred, gt)
    assert m["abs_rel"] == pytest.approx((0 + 0.5 + 0.5 + 0) / 4)
    assert m["sq_rel"] == pytest.approx((0 + 1 / 2 + 4 / 4 + 0) / 4)
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 4) / 4))
    assert m["delta1"] == pytest.approx(0.5)  # ratios 1, 1.5, 2, 1
    assert m["delta2"] == pytest.approx(0.75)  # 1.5 < 1.25^2 = 1.5625; 2 is not
    g = np.log([1.0, 1.5, 0.5, 1.0])
    assert m["silog"] == pytest.approx(100 * np.sqrt(np.mean(g**2) - np.mean(g) ** 2))


def test_delta_thresholds_are_strict():
    gt = np.ones((2, 2))
    pred = np.array([[1.25, 1.0], [1.0, 1.0]])
    assert M.depth(pred, gt)["delta1"] == pytest.approx(0.75)


def test_scale_alignment_recovers_doubled_prediction_exactly():
    gt = _gt(1)
    for align in ("scale", "scale_shift"):
        m = M.depth(gt * 2.0, gt, align=align)
        assert m["abs_rel"] == pytest.approx(0.0, abs=1e-12)
        assert m["delta1"] == 1.0
    m = M.depth(gt * 0.5 + 3.0, gt, align="scale_shift")
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-10)
    assert M.depth(gt * 0.5 + 3.0, gt, align="scale")["abs_rel"] > 0.01


def test_alignment_uses_only_valid_pixels():
    gt = _gt(2)
    pred = gt * 3.0
    valid = np.ones_like(gt, bool)
    valid[:4] = False
    pred[:4] = 1000.0  # garbage where invalid must not move the fit
    assert M.depth(pred, gt, valid=valid, align="scale")["abs_rel"] == pytest.approx(0.0, abs=1e-12)


def test_range_and_validity_mask():
    gt = np.array([[0.0, np.nan, np.inf, 5.0], [0.0005, 11.0, 2.0, 9.0]])
    pred = np.full_like(gt, 5.0)
    m = M.depth(pred, gt, min_depth_m=1e-3, max_depth_m=10.0)
    assert m["n_pixels"] == 3  # 5, 2, 9
    assert m["abs_rel"] == pytest.approx((0 + 1.5 + 4 / 9) / 3)


def test_prediction_clipped_to_benchmark_range():
    gt = np.full((2, 2), 5.0)
    pred = np.array([[50.0, np.inf], [1e-9, 5.0]])
    m = M.depth(pred, gt, min_depth_m=1.0, max_depth_m=10.0)
    assert m["abs_rel"] == pytest.approx((1 + 1 + 0.8 + 0) / 4)
    with pytest.raises(ValueError, match="inf"):
        M.depth(pred, gt)


def test_torch_and_numpy_agree():
    gt = _gt(3).astype(np.float32)
    pred = gt * np.float32(1.07)
    a = M.depth(pred, gt)
    b = M.depth(torch.from_numpy(pred), torch.from_numpy(gt))
    assert a == b


def test_evaluator_averages_images():
    gt = _gt(4)
    ev = M.DepthEvaluator()
    ev.update(gt * 1.1, gt)
    ev.update(gt * 1.3, gt)
    out = ev.compute()
    assert out["abs_rel"] == pytest.approx(0.2)
    assert out["n_images"] == 2


@pytest.mark.parametrize(
    "pred,gt,kw,exc,msg",
    [
        (np.ones((2, 2)), np.ones((2, 3)), {}, ValueError, "same shape"),
        (np.ones((2, 2), np.int64), np.ones((2, 2)), {}, TypeError, "floating"),
        (np.ones((2, 2)), np.zeros((2, 2)), {}, ValueError, "valid pixel"),
        (np.full((2, 2), np.nan), np.ones((2, 2)), {}, ValueError, "NaN"),
        (np.ones((2, 2)), np.ones((2, 2)), {"align": "affine"}, ValueError, "align"),
        (np.ones((2, 2)), np.ones((2, 2)), {"valid": np.ones((2, 2), np.float32)}, TypeError, "mask"),
        ([[1.0]], np.ones((1, 1)), {}, TypeError, "numpy"),
    ],
)
def test_bad_inputs(pred, gt, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        M.depth(pred, gt, **kw)
