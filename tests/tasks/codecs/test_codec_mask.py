"""Referring / reasoning masks: target colours on a background <-> boolean masks."""

import numpy as np
import pytest
import torch

from openbanana.tasks.codecs import decode_masks, encode_masks

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
COLORS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]])


def _masks(seed=0, n=3, h=40, w=50):
    rng = np.random.default_rng(seed)
    m = np.zeros((n, h, w), bool)
    for i in range(n):
        y, x = rng.integers(0, h - 10), rng.integers(0, w - 10)
        m[i, y : y + rng.integers(5, 20), x : x + rng.integers(5, 20)] = True
    return m


def test_round_trip_is_exact_without_overlap():
    m = np.zeros((2, 10, 10), bool)
    m[0, :4] = True
    m[1, 6:] = True
    rgb = encode_masks(m, COLORS[:2])
    assert rgb[0, 0].tolist() == [255, 0, 0] and rgb[5, 0].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(decode_masks(rgb, COLORS[:2]), m)


def test_later_masks_are_painted_over_earlier_ones():
    m = _masks()
    m[1] |= m[0]  # mask 1 covers mask 0 entirely
    rgb = encode_masks(m, COLORS)
    back = decode_masks(rgb, COLORS)
    visible = m.copy()
    for i in range(3):
        visible[i] &= ~m[i + 1 :].any(0)
    np.testing.assert_array_equal(back, visible)
    assert not back[0].any()


def test_background_colour_and_nearest_match():
    m = _masks(seed=1, n=2)
    bg = (255, 255, 255)
    rgb = encode_masks(m, COLORS[:2], background=bg)
    assert (rgb[~m.any(0)] == 255).all()
    noisy = np.clip(rgb + np.random.default_rng(0).normal(0, 3, rgb.shape), 0, 255).round().astype(np.uint8)
    visible = np.stack([m[0] & ~m[1], m[1]])
    np.testing.assert_array_equal(decode_masks(rgb, COLORS[:2], background=bg), visible)
    np.testing.assert_array_equal(decode_masks(noisy, COLORS[:2], background=bg), visible)


def test_max_distance():
    rgb = np.array([[[255, 0, 0], [150, 0, 0], [0, 0, 0]]], np.uint8)
    assert decode_masks(rgb, [[255, 0, 0]]).tolist() == [[[True, True, False]]]
    assert decode_masks(rgb, [[255, 0, 0]], max_distance=50).tolist() == [[[True, False, False]]]


@pytest.mark.parametrize("device", DEVICES)
def test_torch_matches_numpy_batched(device):
    m = np.stack([_masks(seed=2), _masks(seed=3)])  # (B, N, H, W)
    rgb = encode_masks(torch.from_numpy(m).to(device), COLORS)
    assert rgb.shape == (2, 40, 50, 3) and rgb.device.type == device
    np.testing.assert_array_equal(rgb.cpu().numpy(), encode_masks(m, COLORS))
    back = decode_masks(rgb, COLORS)
    assert back.shape == (2, 3, 40, 50) and back.dtype == torch.bool
    np.testing.assert_array_equal(back.cpu().numpy(), decode_masks(rgb.cpu().numpy(), COLORS))


def test_bad_inputs():
    m = np.zeros((2, 4, 4), bool)
    with pytest.raises(ValueError, match="expected 3 masks"):
        encode_masks(m, COLORS)
    with pytest.raises(ValueError, match="distinct colours"):
        encode_masks(m, [[0, 0, 0], [1, 1, 1]], background=(1, 1, 1))
    with pytest.raises(TypeError, match="boolean"):
        encode_masks(m.astype(np.uint8), COLORS[:2])
    with pytest.raises(ValueError, match="empty palette"):
        decode_masks(np.zeros((4, 4, 3), np.uint8), np.zeros((0, 3)))
