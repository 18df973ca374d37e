"""Normals colour code (paper frame, flipped x), validity rules and frame conversions."""

import numpy as np
import pytest
import torch

from openbanana.tasks.codecs import FRAMES, convert_frame, decode_normals, encode_normals

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _random_unit(n, seed=0, hemisphere=False):
    v = np.random.default_rng(seed).normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    if hemisphere:
        v[:, 2] = np.abs(v[:, 2])
    return v


def test_paper_examples():
    n = np.array([[[-1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 0, 0], [0, -1.0, 0]]])
    rgb = encode_normals(n)
    assert rgb[0].tolist() == [[255, 128, 128], [128, 255, 128], [128, 128, 255], [0, 128, 128], [128, 0, 128]]


@pytest.mark.parametrize("hemisphere", [True, False])
def test_round_trip_mean_angular_error_below_half_a_degree(hemisphere):
    v = _random_unit(200 * 200, hemisphere=hemisphere).reshape(200, 200, 3)
    back, valid = decode_normals(encode_normals(v))
    assert valid.all() and back.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(back, axis=-1), 1.0, atol=1e-5)
    ang = np.degrees(np.arccos(np.clip((back * v).sum(-1), -1, 1)))
    assert ang.mean() <= 0.5, ang.mean()


def test_invalid_pixels_and_near_zero_vectors():
    n = np.array([[[0, 0, 1.0], [np.nan, np.nan, np.nan], [0.0, 0.0, 0.0]]])
    valid = np.array([[True, False, True]])
    rgb = encode_normals(n, valid)
    assert rgb[0, 1].tolist() == [0, 0, 0] and rgb[0, 2].tolist() == [0, 0, 0]  # zero vector -> invalid
    back, ok = decode_normals(rgb)
    assert ok.tolist() == [[True, False, False]]
    assert back[0, 1].tolist() == [0, 0, 0]
    grey = np.array([[[128, 128, 128], [127, 128, 128], [3, 2, 5]]], np.uint8)
    back, ok = decode_normals(grey)
    assert ok.tolist() == [[False, False, False]] and np.all(back == 0)
    # a documented invalid colour other than black
    rgb = encode_normals(n, valid, invalid_color=(128, 128, 128))
    assert rgb[0, 1].tolist() == [128, 128, 128]
    assert decode_normals(rgb, invalid_color=None)[1].tolist() == [[True, False, False]]


def test_nan_at_a_valid_pixel_is_rejected():
    n = np.zeros((2, 2, 3))
    n[..., 2] = 1
    n[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN/inf vector\(s\), the first at \(1, 0\)"):
        encode_normals(n)


def test_non_unit_vectors_are_normalised():
    rgb = encode_normals(np.array([[[0, 0, 5.0]]]))
    assert rgb[0, 0].tolist() == [128, 128, 255]


def test_frames():
    v = _random_unit(100, seed=1).reshape(10, 10, 3)
    np.testing.assert_array_equal(convert_frame(v, "paper", "dsine")[..., 1], -v[..., 1])
    np.testing.assert_array_equal(convert_frame(v, "paper", "marigold"), v)
    np.testing.assert_array_equal(convert_frame(v, "paper", "opencv")[..., 1:], -v[..., 1:])
    for src in FRAMES:
        for dst in FRAMES:
            np.testing.assert_array_equal(convert_frame(convert_frame(v, src, dst), dst, src), v)
    t = convert_frame(torch.from_numpy(v), "paper", "dsine")
    np.testing.assert_array_equal(t.numpy(), convert_frame(v, "paper", "dsine"))
    with pytest.raises(ValueError, match="unknown normals frame"):
        convert_frame(v, "paper", "blender-z-down")


@pytest.mark.parametrize("device", DEVICES)
def test_torch_matches_numpy(device):
    v = _random_unit(2 * 16 * 16, seed=2).reshape(2, 16, 16, 3).astype(np.float32)
    valid = np.ones((2, 16, 16), bool)
    valid[0, 0, :4] = False
    rgb = encode_normals(torch.from_numpy(v).to(device), torch.from_numpy(valid).to(device))
    assert rgb.device.type == device and rgb.dtype == torch.uint8
    np.testing.assert_array_equal(rgb.cpu().numpy(), encode_normals(v, valid))
    rand = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    for img in (rgb.cpu().numpy(), rand):
        n_t, ok_t = decode_normals(torch.from_numpy(img).to(device))
        n_np, ok_np = decode_normals(img)
        np.testing.assert_array_equal(ok_t.cpu().numpy(), ok_np)
        np.testing.assert_allclose(n_t.cpu().numpy(), n_np, atol=1e-6)


def test_bad_inputs():
    with pytest.raises(TypeError, match="float unit vectors"):
        encode_normals(np.zeros((2, 2, 3), np.int32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        encode_normals(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="valid: expected shape"):
        encode_normals(np.ones((2, 2, 3)), np.ones((3, 3), bool))
    with pytest.raises(TypeError, match="uint8"):
        decode_normals(np.zeros((2, 2, 3), np.float32))
