"""Photometric jitter: the identity, each change's direction, and the drawn ranges."""

from __future__ import annotations

import numpy as np

from openbanana.data import photometric as ph


def _picture() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)


def test_identity_changes_nothing():
    x = _picture()
    np.testing.assert_array_equal(ph.jitter_image(x, 1.0, 0.0, 1.0, 1.0), x)


def test_each_change_moves_the_picture_its_way():
    x = _picture()
    xf = x.astype(float)
    assert ph.jitter_image(x, 0.5, 0.0, 1.0, 1.0).std() < 0.6 * xf.std()  # lower contrast
    assert ph.jitter_image(x, 1.0, 0.1, 1.0, 1.0).mean() > xf.mean() + 20  # brighter
    assert ph.jitter_image(x, 1.0, 0.0, 1.5, 1.0).mean() < xf.mean() - 10  # gamma > 1 darkens
    grey = ph.jitter_image(x, 1.0, 0.0, 1.0, 0.0)
    assert np.abs(grey.astype(int) - grey.astype(int).mean(-1, keepdims=True)).max() <= 1  # no colour left
    mid = np.full((1, 1, 3), 128, np.uint8)
    assert ph.jitter_image(mid, 1.0, 0.0, 2.0, 1.0)[0, 0, 0] == round(255 * (128 / 255) ** 2)


def test_hue_is_kept():
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    red[..., 1:] = 40
    out = ph.photometric_jitter(red, np.random.default_rng(3)).astype(int)
    assert (out[..., 0] >= out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_draws_are_in_range_and_seeded():
    x = _picture()
    a = ph.photometric_jitter(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, ph.photometric_jitter(x, np.random.default_rng(7)))
    assert a.dtype == np.uint8 and a.shape == x.shape and not np.array_equal(a, x)
    rng = np.random.default_rng(7)
    c, b, g, s = (rng.uniform(*r) for r in (ph.CONTRAST, ph.BRIGHTNESS, ph.GAMMA, ph.SATURATION))
    np.testing.assert_array_equal(a, ph.jitter_image(x, c, b, g, s))


def test_cast_scales_channels_and_keeps_brightness():
    x = np.full((4, 4, 3), 100, np.uint8)
    np.testing.assert_array_equal(ph.cast_image(x, (1.0, 1.0, 1.0)), x)
    warm = ph.cast_image(x, (1.2, 1.0, 0.8)).astype(int)  # gains already of mean 1
    np.testing.assert_array_equal(warm[0, 0], [120, 100, 80])
    np.testing.assert_array_equal(ph.cast_image(x, (2.4, 2.0, 1.6)), warm)  # only the ratios count
    assert ph.cast_image(np.full((1, 1, 3), 250, np.uint8), (1.2, 1.0, 0.8))[0, 0, 0] == 255  # clipped


def test_cast_rejects_bad_gains():
    import pytest

    for bad in [(1.0, 1.0), (1.0, 0.0, 1.0), (1.0, -1.0, 1.0)]:
        with pytest.raises(ValueError, match="expected three positive numbers"):
            ph.cast_image(_picture(), bad)


def test_cast_draws_are_in_range_and_seeded():
    x = np.full((2, 2, 3), 120, np.uint8)
    a = ph.color_cast(x, np.random.default_rng(5))
    np.testing.assert_array_equal(a, ph.color_cast(x, np.random.default_rng(5)))
    gains = np.exp(np.random.default_rng(5).uniform(*np.log(ph.CAST), 3))
    np.testing.assert_array_equal(a, ph.cast_image(x, tuple(gains)))
    # over many draws: channel ratios stay within the range's extremes, brightness within rounding
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = ph.color_cast(x, rng)[0, 0].astype(float)
        assert abs(c.mean() - 120) <= 1.0 and c.max() / c.min() <= 1.25 / 0.8 + 0.02


def test_grey_world_undoes_a_cast():
    x = (40 + _picture() // 2).astype(np.uint8)  # 40-167: no channel clips under the cast
    tinted = ph.cast_image(x, (1.2, 1.0, 0.8))
    back = ph.grey_world(tinted).astype(int)
    means = back.reshape(-1, 3).mean(0)
    assert means.max() - means.min() < 1.0  # the channels average the same
    plain = ph.grey_world(x).astype(float)
    assert np.abs(back / back.mean() - plain / plain.mean()).mean() < 0.02  # the cast is gone (up to brightness)
    assert abs(back.mean() - tinted.mean()) < 1.0  # brightness kept
    flat = np.full((2, 2, 3), 90, np.uint8)
    np.testing.assert_array_equal(ph.grey_world(flat), flat)
    assert ph.grey_world(np.zeros((2, 2, 3), np.uint8)).max() == 0  # black stays black
