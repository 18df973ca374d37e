"""Instance colours and the five-stage instance decoder (each stage has a targeted test)."""

import numpy as np
import pytest
import torch

from openbanana.tasks.codecs import (
    InstanceDecoderParams,
    decode_instances,
    encode_instances,
    instance_colors,
)
from openbanana.tasks.codecs import instances as I

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _same_partition(a, b):
    """True when two id maps describe the same segments (ids may be permuted; 0 = 0)."""
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist()))
    na, nb = len(np.unique(a)), len(np.unique(b))
    return len(pairs) == na == nb and all((x == 0) == (y == 0) for x, y in pairs)


def _rectangles(n, size=256, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((size, size), np.int64)
    for i in range(1, n + 1):
        y, x = rng.integers(0, size - 40, 2)
        h, w = rng.integers(12, 40, 2)
        ids[y : y + h, x : x + w] = i
    return ids


def _blobs(n, size=256, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    ids = np.zeros((size, size), np.int64)
    for i in range(1, n + 1):
        cy, cx = rng.uniform(20, size - 20, 2)
        ry, rx = rng.uniform(6, 22, 2)
        ids[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = i
    return ids


def _visible(ids, min_area_frac=0.0002, keep_frac=0.1):
    """Drop instances that later ones covered below the decoder's area / halo limits."""
    out = ids.copy()
    for i in np.unique(ids)[1:]:
        m = ids == i
        eroded = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
        if m.sum() < min_area_frac * ids.size or eroded.sum() < keep_frac * m.sum():
            out[m] = 0
    return out


@pytest.mark.parametrize("n", [2, 8, 16, 32, 64])
def test_instance_colours_are_well_separated(n):
    c = instance_colors(n).astype(float)
    d = np.linalg.norm(c[:, None] - c[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    bg = np.linalg.norm(c, axis=1)
    # measured minimum pairwise / background distances (RGB units), black background
    expected = {2: (289.0, 281.4), 8: (169.1, 235.6), 16: (120.2, 153.0), 32: (91.5, 99.1), 64: (68.0, 85.0)}
    assert d.min() >= expected[n][0] - 0.1 and bg.min() >= expected[n][1] - 0.1, (d.min(), bg.min())
    assert d.min() > 3 * 14  # far beyond the decoder's fill / merge tolerance
    assert len({tuple(x) for x in c}) == n


def test_instance_colours_are_deterministic_and_seeded():
    assert np.array_equal(instance_colors(10, seed=3), instance_colors(10, seed=3))
    assert not np.array_equal(instance_colors(10, seed=3), instance_colors(10, seed=4))
    white_bg = instance_colors(5, background=(255, 255, 255))
    assert white_bg[0].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="n: expected"):
        instance_colors(-1)


@pytest.mark.parametrize("shapes", [_rectangles, _blobs])
def test_exact_recovery_without_noise(shapes):
    for seed in range(3):
        ids = _visible(shapes(12, seed=seed))
        out = decode_instances(encode_instances(ids, seed=seed))
        assert out.dtype == np.int32
        assert _same_partition(out, ids)


def test_near_recovery_with_sigma_3_noise():
    rng = np.random.default_rng(5)
    # instances well clear of the area and halo limits (borderline ones may go either way)
    ids = _visible(_blobs(15, size=256, seed=7), min_area_frac=0.001, keep_frac=0.3)
    rgb = encode_instances(ids)
    noisy = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).round().astype(np.uint8)
    out = decode_instances(noisy)
    assert len(np.unique(out)) == len(np.unique(ids))
    agree = sum(np.bincount(out[ids == i]).max() for i in np.unique(ids))
    assert agree / ids.size >= 0.995


def test_stage1_background_tolerance():
    img = np.zeros((1, 3, 3), np.float32)
    img[0, 1] = [13, 0, 0]
    img[0, 2] = [15, 0, 0]
    bg = I.stage_background(img, np.zeros(3), 14.0)
    assert bg.tolist() == [[True, True, False]]


def test_stage2_flood_fill_groups_against_the_seed_colour():
    img = np.zeros((4, 12, 3), np.float32)
    img[:, :4] = [100, 100, 100]
    img[:, 4:8] = [110, 100, 100]  # within 14 of the left part: same component
    img[:, 8:] = [130, 100, 100]  # 30 from the seed colour: a new component
    lab = I.stage_flood_fill(img, np.ones((4, 12), bool), 14.0)
    assert len(np.unique(lab[:, :8])) == 1 and len(np.unique(lab[:, 8:])) == 1
    assert lab[0, 0] != lab[0, 8]
    # same colour but not connected: two components
    fg = np.ones((4, 12), bool)
    fg[:, 5] = False
    lab = I.stage_flood_fill(np.full((4, 12, 3), 50, np.float32), fg, 14.0)
    assert lab[0, 0] != lab[0, 11] and lab[:, 5].max() == 0


def test_stage3_tiny_components_are_pruned():
    ids = np.zeros((200, 200), np.int64)
    ids[20:80, 20:80] = 1
    ids[150:152, 150:152] = 2  # 4 px < 0.02% of 40000 px = 8 px
    out = decode_instances(encode_instances(ids))
    assert out[150, 150] == 0 and out[50, 50] > 0
    lab = np.zeros((10, 10), np.int32)
    lab[:3, :3] = 1
    lab[5, 5] = 2
    assert np.unique(I.stage_prune_small(lab, 2)).tolist() == [0, 1]


def test_stage4_halos_are_removed():
    rgb = np.zeros((120, 120, 3), np.uint8)
    rgb[30:90, 30:90] = [255, 255, 255]
    rgb[29, 29:91] = rgb[90, 29:91] = [120, 0, 200]  # a 1-px ring in another colour
    rgb[29:91, 29] = rgb[29:91, 90] = [120, 0, 200]
    out = decode_instances(rgb)
    assert out[29, 50] == 0 and out[50, 50] > 0 and len(np.unique(out)) == 2
    kept = decode_instances(rgb, params=InstanceDecoderParams(halo_keep_frac=0.0))
    assert kept[29, 50] > 0 and len(np.unique(kept)) == 3


def test_stage5_split_instance_is_merged_but_distant_twins_are_not():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[20:60, 20:80] = [200, 50, 50]
    rgb[20:60, 50] = [200, 62, 50]  # a seam: the left seed does not reach past it...
    rgb[20:60, 51:80] = [205, 60, 55]  # ...into a part with a slightly different colour
    ids = decode_instances(rgb, params=InstanceDecoderParams(fill_tol=9.0))
    assert ids[30, 30] == ids[30, 70] != 0
    no_merge = decode_instances(rgb, params=InstanceDecoderParams(fill_tol=9.0, merge_tol=0.0))
    assert no_merge[30, 30] != no_merge[30, 70]
    twins = np.zeros((100, 300, 3), np.uint8)
    twins[10:30, 10:30] = [200, 50, 50]
    twins[70:90, 270:290] = [200, 50, 50]  # same colour, far apart: union box >> 5x area
    t = decode_instances(twins)
    assert t[20, 20] != t[80, 280] and min(t[20, 20], t[80, 280]) > 0


@pytest.mark.parametrize("device", DEVICES)
def test_torch_and_batches(device):
    ids = np.stack([_visible(_rectangles(5, size=64, seed=s)) for s in range(2)])
    rgb = encode_instances(torch.from_numpy(ids).to(device))
    assert rgb.device.type == device and rgb.shape == (2, 64, 64, 3)
    np.testing.assert_array_equal(rgb.cpu().numpy(), encode_instances(ids))
    out = decode_instances(rgb)
    assert isinstance(out, torch.Tensor) and out.device.type == device and out.dtype == torch.int32
    for b in range(2):
        assert _same_partition(out[b].cpu().numpy(), ids[b])


def test_position_scheme_colours_each_instance_by_the_cell_of_its_centroid():
    code = instance_colors(16)
    ids = np.zeros((64, 64), np.int64)
    ids[2:10, 2:10] = 5  # centroid in cell (0, 0)
    ids[34:46, 20:30] = 2  # cell (2, 1) -> colour 9
    ids[50:64, 50:64] = 9  # cell (3, 3) -> colour 15
    rgb = encode_instances(ids, scheme="position")
    for (y, x), cell in (((5, 5), 0), ((40, 25), 9), ((60, 60), 15)):
        np.testing.assert_array_equal(rgb[y, x], code[cell])
    np.testing.assert_array_equal(rgb[30, 40], [0, 0, 0])
    assert _same_partition(decode_instances(rgb), ids)
    # the colour depends on where an instance is, not on the others: moving one leaves the rest alone
    moved = np.where(ids == 5, 0, ids)
    moved[2:10, 34:42] = 5  # now in cell (0, 2) -> colour 2
    again = encode_instances(moved, scheme="position")
    np.testing.assert_array_equal(again[5, 37], code[2])
    np.testing.assert_array_equal(again[ids == 2], rgb[ids == 2])
    np.testing.assert_array_equal(again[ids == 9], rgb[ids == 9])


def test_position_scheme_collisions_backgrounds_and_overflow():
    code = instance_colors(48)
    ids = np.zeros((64, 64), np.int64)
    ids[0:12, 0:12] = 1  # the larger of two in cell (0, 0) keeps it
    ids[2:10, 13:17] = 2  # centroid (6, 15) in cell (0, 0) too: the nearest free cell is (0, 1)
    rgb = encode_instances(ids, scheme="position")
    np.testing.assert_array_equal(rgb[5, 5], code[0])
    np.testing.assert_array_equal(rgb[5, 13], code[1])
    # on white, the white of cell (0, 0) is replaced by a spare colour far from it; the others stay
    white = encode_instances(ids, background=(255, 255, 255), scheme="position")
    assert np.sqrt(((white[5, 5].astype(float) - 255) ** 2).sum()) >= I.POSITION_MIN_BG_DISTANCE
    np.testing.assert_array_equal(white[5, 13], code[1])
    assert _same_partition(decode_instances(white, background=(255, 255, 255)), ids)
    # more instances than cells: every one still gets a distinct colour
    many = np.zeros((64, 64), np.int64)
    for i in range(20):
        many[(i // 8) * 8 : (i // 8) * 8 + 6, (i % 8) * 8 : (i % 8) * 8 + 6] = i + 1
    colours = encode_instances(many, scheme="position")
    assert len({tuple(colours[many == i + 1][0]) for i in range(20)}) == 20
    assert _same_partition(decode_instances(colours), many)


def test_bad_inputs():
    with pytest.raises(ValueError, match="scheme: expected one of"):
        encode_instances(np.zeros((2, 2), np.int64), scheme="diagonal")
    with pytest.raises(ValueError, match="positive instance ids"):
        encode_instances(np.array([[0, -3]]))
    with pytest.raises(TypeError, match="integer label map"):
        encode_instances(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="bg_tol"):
        InstanceDecoderParams(bg_tol=-1)
    with pytest.raises(ValueError, match="connectivity"):
        InstanceDecoderParams(connectivity=6)
    with pytest.raises(TypeError, match="InstanceDecoderParams"):
        decode_instances(np.zeros((4, 4, 3), np.uint8), params={"bg_tol": 3})
