import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import openbanana.metrics as M
from openbanana.metrics.alignment import align_depth, fit_scale, fit_scale_shift


def test_fit_scale_shift_matches_numpy_lstsq():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 5, 200)
    g = 1.7 * p - 0.4 + rng.normal(0, 0.1, 200)
    s, t = fit_scale_shift(p, g)
    ref = np.linalg.lstsq(np.stack([p, np.ones_like(p)], 1), g, rcond=None)[0]
    assert (s, t) == pytest.approx(tuple(ref), rel=1e-10)
    assert fit_scale(p, g) == pytest.approx(np.linalg.lstsq(p[:, None], g, rcond=None)[0][0], rel=1e-10)


def test_constant_prediction_and_zero_prediction():
    g = np.array([1.0, 2.0, 3.0])
    assert fit_scale_shift(np.full(3, 4.0), g) == (0.0, 2.0)
    with pytest.raises(ValueError, match="zero"):
        fit_scale(np.zeros(3), g)


def test_align_depth_modes():
    gt = np.arange(1.0, 7.0).reshape(2, 3)
    valid = np.ones_like(gt, bool)
    np.testing.assert_allclose(align_depth(gt / 4, gt, valid, "scale"), gt)
    np.testing.assert_array_equal(align_depth(gt / 4, gt, valid, "none"), gt / 4)
    with pytest.raises(ValueError, match="align"):
        align_depth(gt, gt, valid, "median")


@settings(max_examples=25, deadline=None)
@given(s=st.floats(0.05, 20.0), t=st.floats(-5.0, 5.0), seed=st.integers(0, 2**16))
def test_scale_shift_recovers_any_affine_prediction(s, t, seed):
    gt = np.random.default_rng(seed).uniform(0.5, 30.0, (6, 7))
    pred = (gt - t) / s  # gt = s * pred + t exactly
    m = M.depth(pred, gt, align="scale_shift")
    assert m["abs_rel"] < 1e-9 and m["delta1"] == 1.0
    # silog ignores any global scale of a positive prediction
    assert M.depth(gt * s, gt)["silog"] < 1e-4
