"""Resizing in and out of the model frame, and ensemble combination (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest

from openbanana.pipeline_ops import (
    combine_answers,
    from_model_tensor,
    resize_answer,
    resize_image_back,
    to_model_frame,
    to_model_tensor,
)


def _ramp(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), np.full_like(x, 100)], -1).astype(np.uint8)


@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
@pytest.mark.parametrize("hw", [(50, 70), (70, 50), (32, 32), (1, 5), (300, 17)])
def test_frame_roundtrip_shapes(mode, hw):
    rgb = _ramp(*hw)
    framed, pl = to_model_frame(rgb, 32, mode)
    assert framed.shape == (32, 32, 3) and framed.dtype == np.uint8
    assert pl.in_hw == hw
    top, left, h, w = pl.box
    assert 0 <= top and 0 <= left and top + h <= 32 and left + w <= 32
    if mode == "letterbox":
        assert max(h, w) == 32
        assert abs(h / w - hw[0] / hw[1]) < 0.5 * max(1, hw[0] / hw[1])
    back = resize_image_back(framed, pl)
    assert back.shape == (*hw, 3) and back.dtype == np.uint8


def test_letterbox_pads_with_edge_pixels_not_black():
    rgb = np.full((20, 40, 3), 200, np.uint8)
    framed, pl = to_model_frame(rgb, 16, "letterbox")
    assert pl.box == (4, 0, 8, 16)
    assert (framed == 200).all()


def test_stretch_then_back_is_close_to_identity_on_smooth_image():
    rgb = _ramp(48, 48)
    framed, pl = to_model_frame(rgb, 48, "stretch")
    np.testing.assert_array_equal(framed, rgb)
    np.testing.assert_array_equal(resize_image_back(framed, pl), rgb)


def test_tensor_conversion_roundtrip():
    frames = [_ramp(8, 8), np.zeros((8, 8, 3), np.uint8)]
    x = to_model_tensor(frames)
    assert x.shape == (2, 3, 8, 8) and float(x.min()) >= -1 and float(x.max()) <= 1
    np.testing.assert_array_equal(from_model_tensor(x), np.stack(frames))


def test_scalar_resize_keeps_constant_and_excludes_invalid():
    depth = np.full((16, 16), 3.0, np.float32)
    valid = np.ones((16, 16), bool)
    depth[:, :4] = np.inf
    valid[:, :4] = False
    _, pl = to_model_frame(np.zeros((30, 50, 3), np.uint8), 16, "stretch")
    out, ok = resize_answer(depth, "depth", pl, valid)
    assert out.shape == (30, 50) and out.dtype == np.float32 and ok.shape == (30, 50)
    np.testing.assert_allclose(out[ok], 3.0, rtol=1e-5)  # no leak of inf or 0 into valid pixels
    assert np.isnan(out[~ok]).all()
    assert ok[:, :10].sum() < ok[:, 20:].sum()


def test_vector_resize_is_unit_length():
    rng = np.random.default_rng(0)
    n = rng.normal(size=(16, 16, 3)).astype(np.float32)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    _, pl = to_model_frame(np.zeros((23, 41, 3), np.uint8), 16, "letterbox")
    out, ok = resize_answer(n, "normals", pl)
    assert out.shape == (23, 41, 3)
    np.testing.assert_allclose(np.linalg.norm(out[ok], axis=-1), 1.0, atol=1e-5)


def test_labels_and_masks_resize_nearest_never_blend():
    lab = np.zeros((16, 16), np.int32)
    lab[:, 8:] = 7
    lab[0, 0] = 255
    _, pl = to_model_frame(np.zeros((50, 70, 3), np.uint8), 16, "stretch")
    out, _ = resize_answer(lab, "labels", pl)
    assert out.shape == (50, 70) and out.dtype == np.int32
    assert set(np.unique(out)) <= {0, 7, 255}
    masks = np.stack([lab == 7, lab == 0])
    m, _ = resize_answer(masks, "masks", pl)
    assert m.shape == (2, 50, 70) and m.dtype == bool
    np.testing.assert_array_equal(m[0], out == 7)


def test_combine_depth_median_and_relative_spread():
    a = [np.full((4, 4), d, np.float32) for d in (1.0, 2.0, 100.0)]
    comb, valid, unc = combine_answers(a, "depth")
    np.testing.assert_allclose(comb, 2.0)
    np.testing.assert_allclose(unc, 1.0 / 2.0)  # MAD = median(|1-2|, 0, 98) = 1
    assert valid is None


def test_combine_normals_mean_renormalised_with_angle_spread():
    up = np.zeros((2, 2, 3), np.float32)
    up[..., 1] = 1
    right = np.zeros((2, 2, 3), np.float32)
    right[..., 0] = 1
    comb, _, unc = combine_answers([up, right], "normals")
    np.testing.assert_allclose(comb[0, 0], [2**-0.5, 2**-0.5, 0], atol=1e-6)
    np.testing.assert_allclose(unc, 45.0, atol=1e-4)


def test_combine_labels_majority_masks_and_instances():
    lab = [np.array([[1, 2]]), np.array([[1, 3]]), np.array([[4, 3]])]
    comb, _, unc = combine_answers(lab, "labels")
    np.testing.assert_array_equal(comb, [[1, 3]])
    np.testing.assert_allclose(unc, [[1 / 3, 1 / 3]])
    masks = [np.array([[[True, False]]]), np.array([[[True, True]]]), np.array([[[False, False]]])]
    comb, _, unc = combine_answers(masks, "masks")
    np.testing.assert_array_equal(comb, [[[True, False]]])
    np.testing.assert_allclose(unc, [[1 / 3, 1 / 3]])
    inst = [np.array([[1, 0, 2]]), np.array([[5, 0, 6]]), np.array([[0, 0, 9]])]
    comb, _, unc = combine_answers(inst, "instances")
    np.testing.assert_array_equal(comb, [[1, 0, 2]])  # first medoid
    np.testing.assert_allclose(unc, [[1 / 3, 0, 0]])


def test_combine_single_member_has_no_uncertainty_and_bad_inputs_raise():
    d = np.ones((3, 3), np.float32)
    comb, _, unc = combine_answers([d], "depth")
    assert unc is None and comb is d
    with pytest.raises(ValueError, match="at least one"):
        combine_answers([], "depth")
    with pytest.raises(ValueError, match="share one shape"):
        combine_answers([d, np.ones((2, 2), np.float32)], "depth")
    with pytest.raises(ValueError, match="unknown answer kind"):
        combine_answers([d, d], "blob")
    with pytest.raises(ValueError, match="resize_mode"):
        to_model_frame(np.zeros((4, 4, 3), np.uint8), 8, "crop")
