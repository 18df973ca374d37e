"""Semantic palette code: exact round trips, black-as-void, max distance, noise, torch."""

import numpy as np
import pytest
import torch

from openbanana.tasks.codecs import VOID, decode_labels, encode_labels

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _separated_palette(k, min_dist=40.0, seed=0, avoid_black=True):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < k:
        c = rng.integers(0, 256, 3)
        others = out + ([np.zeros(3)] if avoid_black else [])
        if all(np.linalg.norm(c - o) >= min_dist for o in others):
            out.append(c)
    return np.array(out, np.uint8)


def test_round_trip_is_exact_including_void():
    pal = _separated_palette(19)
    labels = np.random.default_rng(1).integers(0, 19, (2, 64, 48))
    labels[0, :5] = VOID
    rgb = encode_labels(labels, pal)
    assert rgb.shape == (2, 64, 48, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0].tolist() == [0, 0, 0]
    back = decode_labels(rgb, pal)
    assert back.dtype == np.int64
    np.testing.assert_array_equal(back, labels)


def test_black_means_void_only_when_black_is_not_in_the_palette():
    pal = np.array([[200, 0, 0], [0, 200, 0]])
    rgb = np.array([[[0, 0, 0], [10, 5, 0], [190, 10, 0], [90, 10, 0]]], np.uint8)
    assert decode_labels(rgb, pal).tolist() == [[VOID, VOID, 0, VOID]]
    assert decode_labels(rgb, pal, black_is_void=False).tolist() == [[0, 0, 0, 0]]
    pal_black = np.array([[0, 0, 0], [200, 0, 0]])
    assert decode_labels(rgb, pal_black).tolist() == [[0, 0, 1, 0]]


def test_max_distance():
    pal = np.array([[200, 0, 0], [0, 0, 200]])
    rgb = np.array([[[200, 0, 0], [200, 30, 0], [200, 60, 0]]], np.uint8)
    assert decode_labels(rgb, pal, max_distance=40).tolist() == [[0, 0, VOID]]
    assert decode_labels(rgb, pal).tolist() == [[0, 0, 0]]


def test_sigma_3_noise_keeps_99_percent_pixel_accuracy_on_40_apart_palettes():
    rng = np.random.default_rng(2)
    for seed in range(3):
        pal = _separated_palette(25, seed=seed)
        labels = rng.integers(0, 25, (128, 128))
        rgb = encode_labels(labels, pal)
        noisy = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).round().astype(np.uint8)
        acc = (decode_labels(noisy, pal) == labels).mean()
        assert acc >= 0.99, acc


@pytest.mark.parametrize("device", DEVICES)
def test_torch_matches_numpy(device):
    pal = _separated_palette(10, seed=3)
    labels = np.random.default_rng(4).integers(0, 10, (2, 32, 32))
    labels[1, 3] = VOID
    rgb = encode_labels(torch.from_numpy(labels).to(device), pal)
    assert rgb.device.type == device
    np.testing.assert_array_equal(rgb.cpu().numpy(), encode_labels(labels, pal))
    rand = np.random.default_rng(5).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    for img in (rgb.cpu().numpy(), rand):
        out = decode_labels(torch.from_numpy(img).to(device), pal, max_distance=60)
        assert out.device.type == device and out.dtype == torch.int64
        np.testing.assert_array_equal(out.cpu().numpy(), decode_labels(img, pal, max_distance=60))


def test_bad_inputs():
    pal = np.array([[200, 0, 0], [0, 200, 0]])
    with pytest.raises(ValueError, match=r"out-of-range label\(s\), the first 7 at index \(0, 1\)"):
        encode_labels(np.array([[0, 7]]), pal)
    with pytest.raises(ValueError, match="empty palette"):
        decode_labels(np.zeros((2, 2, 3), np.uint8), [])
    with pytest.raises(ValueError, match="distinct colours"):
        encode_labels(np.zeros((2, 2), np.int64), [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(ValueError, match="0..255"):
        encode_labels(np.zeros((2, 2), np.int64), [[1, 2, 300]])
    with pytest.raises(TypeError, match="integer label map"):
        encode_labels(np.zeros((2, 2), np.float32), pal)
    with pytest.raises(ValueError, match=r"shape \(K, 3\)"):
        decode_labels(np.zeros((2, 2, 3), np.uint8), [[1, 2]])
    with pytest.raises(TypeError, match="uint8"):
        decode_labels(np.zeros((2, 2, 3), np.int64), pal)


def test_device_nearest_colour_kernel_equals_the_numpy_one():
    # CPU tensors take the numpy path; this checks the kernel used for CUDA tensors on the CPU
    from openbanana.tasks.codecs._array import nearest_color_np, nearest_color_torch

    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, (5000, 3)).astype(np.uint8)
    pal = rng.integers(0, 256, (30, 3))
    pal[7] = pal[3] + 0  # duplicate entries: ties go to the lower index in both
    i_np, d_np = nearest_color_np(x, pal)
    i_t, d_t = nearest_color_torch(torch.from_numpy(x), pal)
    np.testing.assert_array_equal(i_t.numpy(), i_np)
    np.testing.assert_array_equal(d_t.numpy(), d_np)
    assert not (i_np == 7).any()


@pytest.mark.parametrize("shape", [(63, 65, 3), (2, 128, 128, 3), (600, 450, 3)])
def test_per_distinct_colour_decoding_equals_per_pixel_nearest_colour(shape):
    """Both distinct-colour paths (sort below SORT_UNIQUE_MAX_PIXELS, presence table above) equal
    the direct per-pixel nearest colour, on noisy palette images and on non-contiguous views."""
    from openbanana.tasks.codecs._array import SORT_UNIQUE_MAX_PIXELS, color_inverse, nearest_color_np

    rng = np.random.default_rng(8)
    pal = _separated_palette(12, seed=2)
    lab = rng.integers(0, 12, shape[:-1])
    rgb = np.clip(encode_labels(lab, pal) + rng.normal(0, 30, shape), 0, 255).round().astype(np.uint8)
    assert (rgb.size // 3 > SORT_UNIQUE_MAX_PIXELS) == (shape == (600, 450, 3))
    for x in (rgb, rgb[..., ::-1, :]):
        colours, inverse = color_inverse(x)
        np.testing.assert_array_equal(colours[inverse], x.reshape(-1, 3))
        assert len(np.unique(colours, axis=0)) == len(colours)
        i, d = nearest_color_np(
            x.reshape(-1, 3), np.concatenate([pal, np.zeros((1, 3), np.uint8)]).astype(np.int32)
        )
        want = np.where(i >= 12, VOID, i).reshape(shape[:-1])
        np.testing.assert_array_equal(decode_labels(x, pal), want)
        want_far = np.where((want != VOID) & (d.reshape(shape[:-1]) > 20**2), VOID, want)
        np.testing.assert_array_equal(decode_labels(x, pal, max_distance=20), want_far)
