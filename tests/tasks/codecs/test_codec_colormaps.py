"""Augmentation colormaps (plasma, inferno, viridis, grayscale) and the registered paper code."""

import matplotlib
import numpy as np
import pytest
import torch

from openbanana.tasks.codecs import (
    COLORMAPS,
    decode_depth,
    decode_depth_colormap,
    encode_depth,
    encode_depth_colormap,
    get_colormap,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
LOG_MAPS = ["plasma", "inferno", "viridis"]


def test_registry_has_the_papers_colormaps_with_documented_ranges():
    assert set(COLORMAPS.names()) == {"paper", "plasma", "inferno", "viridis", "grayscale"}
    for name, cmap in COLORMAPS.items():
        assert cmap.name == name and cmap.lut.dtype == np.uint8 and cmap.lut.shape[1] == 3
        assert cmap.scale in ("log", "power") and cmap.depth_min_m < cmap.depth_max_m
    assert get_colormap("paper").lut.shape == (1786, 3)
    with pytest.raises(ValueError, match="unknown colormap 'jet'"):
        get_colormap("jet")


@pytest.mark.parametrize("name", LOG_MAPS)
def test_tables_come_from_matplotlib(name):
    ref = np.rint(matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    np.testing.assert_array_equal(get_colormap(name).lut, ref)
    lut = get_colormap(name).lut
    assert lut[0].sum() < lut[-1].sum()  # near = dark


@pytest.mark.parametrize("name", LOG_MAPS)
def test_log_maps_round_trip_within_half_a_level(name):
    d = np.geomspace(0.1, 80.0, 5000).reshape(50, 100)
    back = decode_depth_colormap(encode_depth_colormap(d, name), name)
    level = np.log(800.0) / 255  # log-spaced levels
    lut = get_colormap(name).lut
    has_runs = bool((lut[1:] == lut[:-1]).all(1).any())  # viridis: 8-bit rounding repeats colours
    bound = level if has_runs else level / 2
    assert np.abs(np.log(back / d)).max() <= bound + 1e-6
    # outside the range: clipped to it
    edge = decode_depth_colormap(encode_depth_colormap(np.array([[0.0, 0.01, 500.0, np.inf]]), name), name)
    np.testing.assert_allclose(edge[0], [0.1, 0.1, 80.0, 80.0], rtol=1e-5)


def test_grayscale_uses_the_power_transform():
    d = np.geomspace(0.1, 50.0, 1000).reshape(10, 100)
    rgb = encode_depth_colormap(d, "grayscale")
    assert np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2])
    f = 1 - (1 + d / 10) ** -2
    np.testing.assert_array_equal(rgb[..., 0], np.rint(f * 255).astype(np.uint8))
    back = decode_depth_colormap(rgb, "grayscale")
    fb = 1 - (1 + back / 10) ** -2
    assert np.abs(fb - f).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("name", ["plasma", "inferno"])
def test_decoding_interpolates_between_neighbouring_colours(name):
    cmap = get_colormap(name)
    a, b = cmap.lut[100].astype(int), cmap.lut[101].astype(int)
    mid = np.rint((a + b) / 2).astype(np.uint8)[None, None]
    da = decode_depth_colormap(cmap.lut[100][None, None], name)[0, 0]
    db = decode_depth_colormap(cmap.lut[101][None, None], name)[0, 0]
    dm = decode_depth_colormap(mid, name)[0, 0]
    assert da < dm < db


def test_noisy_colours_decode_near_the_truth():
    rng = np.random.default_rng(0)
    d = np.geomspace(0.5, 20.0, 128 * 128).reshape(128, 128)
    rgb = encode_depth_colormap(d, "viridis")
    noisy = np.clip(rgb + rng.normal(0, 2, rgb.shape), 0, 255).round().astype(np.uint8)
    rel = np.abs(decode_depth_colormap(noisy, "viridis") / d - 1)
    assert np.median(rel) < 0.05


def test_paper_entry_is_the_7_edge_code():
    d = np.random.default_rng(1).uniform(0, 30, (8, 8))
    np.testing.assert_array_equal(encode_depth_colormap(d, "paper"), encode_depth(d))
    rgb = encode_depth(d)
    np.testing.assert_array_equal(decode_depth_colormap(rgb, "paper"), decode_depth(rgb))


@pytest.mark.parametrize("device", DEVICES)
def test_torch_matches_numpy(device):
    d = np.random.default_rng(2).uniform(0.1, 80, (2, 16, 16))
    for name in ("inferno", "grayscale"):
        rgb = encode_depth_colormap(torch.from_numpy(d).to(device), name)
        assert isinstance(rgb, torch.Tensor) and rgb.device.type == device
        np.testing.assert_array_equal(rgb.cpu().numpy(), encode_depth_colormap(d, name))
        back = decode_depth_colormap(rgb, name)
        assert back.device.type == device
        np.testing.assert_array_equal(back.cpu().numpy(), decode_depth_colormap(rgb.cpu().numpy(), name))


def test_invalid_values_follow_the_depth_rule():
    d = np.array([[1.0, np.nan]])
    with pytest.raises(ValueError, match=r"1 invalid value\(s\)"):
        encode_depth_colormap(d, "plasma")
    rgb, valid = encode_depth_colormap(d, "plasma", invalid="mask")
    assert valid.tolist() == [[True, False]]
    assert rgb[0, 1].tolist() == get_colormap("plasma").lut[0].tolist()
    with pytest.raises(TypeError, match="uint8"):
        decode_depth_colormap(np.zeros((2, 2, 3)), "plasma")
