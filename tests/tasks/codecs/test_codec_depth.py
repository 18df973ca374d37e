"""Depth colour code: transform, 7-edge path, lookup-table decoder, torch path, hilbertmap oracle."""

import hilbertmap
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from openbanana.tasks.codecs import (
    CORNER_DEPTHS_M,
    PATH_CORNERS,
    WHITE_DEPTH_M,
    decode_depth,
    depth_to_unit,
    encode_depth,
    unit_to_depth,
)
from openbanana.tasks.codecs import depth as D

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
PAPER_CORNERS_M = [0.0, 0.80, 1.83, 3.23, 5.28, 8.71, 16.46]


def test_transform_matches_the_paper_formula_and_inverts():
    d = np.array([0.0, 0.1, 1.0, 10.0, 80.0, 1000.0])
    f = depth_to_unit(d)
    lam, c = -3.0, 10.0 / 3.0
    np.testing.assert_allclose(f, 1 - (1 - d / (lam * c)) ** (lam + 1), rtol=1e-12)
    np.testing.assert_allclose(unit_to_depth(f), d, rtol=1e-9)
    assert unit_to_depth(1.0) == np.inf and depth_to_unit(np.inf) == 1.0
    assert depth_to_unit(0.0) == 0.0
    with pytest.raises(ValueError, match="depth"):
        depth_to_unit(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="f"):
        unit_to_depth(np.array([np.nan]))


def test_corner_depths_are_the_papers_and_map_to_the_path_corners():
    assert [round(v, 2) for v in CORNER_DEPTHS_M[:7]] == PAPER_CORNERS_M
    assert CORNER_DEPTHS_M[7] == np.inf
    rgb = encode_depth(np.array([list(CORNER_DEPTHS_M)]))
    np.testing.assert_array_equal(rgb[0], PATH_CORNERS)
    back = decode_depth(PATH_CORNERS[None])[0]
    np.testing.assert_allclose(back[:7], CORNER_DEPTHS_M[:7], rtol=1e-5, atol=1e-6)
    assert back[7] == pytest.approx(WHITE_DEPTH_M)
    # red is (255, 0, 0), yellow (255, 255, 0), ... in the paper's order
    assert D.PATH_CORNER_NAMES == ("black", "red", "yellow", "green", "cyan", "blue", "magenta", "white")
    assert PATH_CORNERS[1].tolist() == [255, 0, 0] and PATH_CORNERS[6].tolist() == [255, 0, 255]


def test_round_trip_relative_error_within_1_5_percent_over_0_1_to_80_m():
    d = np.geomspace(0.1, 80.0, 20000).reshape(100, 200)
    back = decode_depth(encode_depth(d))
    rel = np.abs(back / d - 1)
    assert rel.max() <= 0.015, rel.max()
    assert back.dtype == np.float32


def test_white_and_infinity():
    rgb = encode_depth(np.array([[np.inf, 1e6, D.WHITE_MIN_DEPTH_M + 1e-6, D.WHITE_MIN_DEPTH_M - 1.0]]))
    assert rgb[0, :3].tolist() == [[255, 255, 255]] * 3
    assert rgb[0, 3].tolist() != [255, 255, 255]
    white = np.full((1, 1, 3), 255, np.uint8)
    assert decode_depth(white)[0, 0] == pytest.approx(834.985, abs=1e-2)
    assert decode_depth(white, max_depth_m=80.0)[0, 0] == 80.0
    # white re-encodes to white
    assert encode_depth(decode_depth(white)).tolist() == white.tolist()


def test_lookup_table_equals_direct_projection_on_random_colours():
    rgb = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3)).astype(np.uint8)
    np.testing.assert_array_equal(decode_depth(rgb), D.decode_depth_reference(rgb))


def test_lookup_handles_chunk_boundaries_odd_shapes_and_strided_inputs():
    rng = np.random.default_rng(7)
    for shape in [(1, 1, 3), (1, 2, 3), (2, 70001, 3), (2, 3, 5, 3)]:
        x = rng.integers(0, 256, shape).astype(np.uint8)
        np.testing.assert_array_equal(decode_depth(x), D.decode_depth_reference(x))
    x = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)[:, ::2]
    np.testing.assert_array_equal(decode_depth(x), D.decode_depth_reference(x))


def test_encoding_agrees_with_hilbertmap_within_one_level():
    d = np.random.default_rng(1).uniform(0, 200, (64, 64))
    d[0, :5] = [0.0, 0.5, 1.0, 3.0, 16.46]
    ours = encode_depth(d).astype(int)
    theirs = np.rint(hilbertmap.depth_to_rgb(d) * 255).astype(int)
    assert np.abs(ours - theirs).max() <= 1


def _exact_ties(img):
    """Pixels equally far from two segments that give different positions (any tie-break is right)."""
    x = img.astype(np.int64)
    ds, ns = [], []
    for k, ((j0, v0), (j1, v1)), var, inc in [(k, *s) for k, s in enumerate(D._SEGS)]:
        ds.append((x[..., j0] - v0) ** 2 + (x[..., j1] - v1) ** 2)
        ns.append(255 * k + (x[..., var] if inc else 255 - x[..., var]))
    ds, ns = np.stack(ds), np.stack(ns)
    best = ds.min(0)
    at_best = ds == best
    n_lo = np.where(at_best, ns, 10**6).min(0)
    n_hi = np.where(at_best, ns, -1).max(0)
    return n_lo != n_hi


def test_decoding_agrees_with_hilbertmap_on_any_colour():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    on_path = encode_depth(rng.uniform(0, 60, (64, 64)))
    for img in (rgb, on_path):
        ours = decode_depth(img).astype(np.float64)
        with np.errstate(divide="ignore"):
            theirs = hilbertmap.rgb_to_depth(img / 255.0)
        finite = np.isfinite(theirs)  # hilbertmap decodes white to inf; we clip (documented)
        assert finite.mean() > 0.97
        assert np.all(ours[~finite] == np.float32(WHITE_DEPTH_M))
        ties = _exact_ties(img)  # exact ties: hilbertmap's float rounding picks either segment
        assert ties.mean() < 0.01
        ok = finite & ~ties
        np.testing.assert_allclose(ours[ok], theirs[ok], rtol=1e-5, atol=1e-6)


def test_gaussian_noise_sigma_3_median_relative_error_below_2_percent():
    rng = np.random.default_rng(3)
    d = np.geomspace(0.5, 20.0, 256 * 256).reshape(256, 256)
    rgb = encode_depth(d)
    noisy = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).round().astype(np.uint8)
    rel = np.abs(decode_depth(noisy) / d - 1)
    assert np.median(rel) < 0.02, np.median(rel)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (4, 5), elements=st.floats(0.0, 1e4, allow_nan=False)))
def test_property_encode_decode_encode_is_stable(d):
    rgb = encode_depth(d)
    assert np.array_equal(encode_depth(decode_depth(rgb)), rgb)


@settings(max_examples=50, deadline=None)
@given(arrays(np.uint8, (3, 4, 3)))
def test_property_any_rgb_decodes_to_finite_nonnegative_depth(rgb):
    d = decode_depth(rgb)
    assert np.all(np.isfinite(d)) and np.all(d >= 0)
    assert np.array_equal(decode_depth(encode_depth(d)), d)


@pytest.mark.parametrize("device", DEVICES)
def test_torch_path_equals_numpy(device):
    rng = np.random.default_rng(4)
    d = rng.uniform(0, 100, (2, 32, 40))
    rgb_np = encode_depth(d)
    rgb_t = encode_depth(torch.from_numpy(d).to(device))
    assert isinstance(rgb_t, torch.Tensor) and rgb_t.device.type == device and rgb_t.dtype == torch.uint8
    np.testing.assert_array_equal(rgb_t.cpu().numpy(), rgb_np)
    rand = rng.integers(0, 256, (2, 32, 40, 3)).astype(np.uint8)
    for img in (rgb_np, rand):
        out = decode_depth(torch.from_numpy(img).to(device))
        assert out.device.type == device and out.dtype == torch.float32
        np.testing.assert_array_equal(out.cpu().numpy(), decode_depth(img))
    clipped = decode_depth(torch.from_numpy(rand).to(device), max_depth_m=5.0)
    np.testing.assert_array_equal(clipped.cpu().numpy(), decode_depth(rand, max_depth_m=5.0))
    # the tensor-op decoder that CUDA tensors use, run here on this device too
    for img in (rgb_np, rand):
        out = D.decode_depth_torch(torch.from_numpy(img).to(device), max_depth_m=50.0)
        assert out.device.type == device and out.dtype == torch.float32
        np.testing.assert_array_equal(out.cpu().numpy(), decode_depth(img, max_depth_m=50.0))


def test_single_and_batched_shapes():
    d = np.full((3, 5, 7), 2.0, np.float32)
    assert encode_depth(d).shape == (3, 5, 7, 3)
    assert encode_depth(d[0]).shape == (5, 7, 3)
    assert decode_depth(encode_depth(d)).shape == (3, 5, 7)


def test_invalid_depths_are_rejected_or_masked_by_rule():
    d = np.array([[1.0, np.nan], [-0.5, -np.inf]])
    with pytest.raises(ValueError, match=r"3 invalid value\(s\), the first at index \(0, 1\)"):
        encode_depth(d)
    rgb, valid = encode_depth(d, invalid="mask")
    assert valid.tolist() == [[True, False], [False, False]]
    assert rgb[~valid].tolist() == [[0, 0, 0]] * 3
    assert rgb[0, 0].tolist() == encode_depth(np.array([[1.0]]))[0, 0].tolist()
    black = encode_depth(d, invalid="black")
    np.testing.assert_array_equal(black, rgb)
    rgb_t, valid_t = encode_depth(torch.from_numpy(d), invalid="mask")
    np.testing.assert_array_equal(rgb_t.numpy(), rgb)
    np.testing.assert_array_equal(valid_t.numpy(), valid)
    with pytest.raises(ValueError, match="invalid value"):
        encode_depth(torch.from_numpy(d))
    with pytest.raises(ValueError, match="invalid: expected one of"):
        encode_depth(d, invalid="zero")


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="uint8"):
        decode_depth(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        decode_depth(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(B, H, W\)"):
        encode_depth(np.zeros((4,)))
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        encode_depth([[1.0, 2.0]])
    with pytest.raises(ValueError, match="max_depth_m"):
        decode_depth(np.zeros((2, 2, 3), np.uint8), max_depth_m=-1)


@pytest.mark.parametrize("threads", [1, 3, None])
def test_fast_lookup_equals_reference_on_random_images_any_layout(threads):
    """The chunked (and threaded) table lookup is bit-identical to the table-free projection."""
    rng = np.random.default_rng(11)
    span = D._CHUNK
    shapes = [
        (1, 1, 3),
        (3, 1, 3),
        (1, 7, 3),
        (5, 9, 3),
        (2, 3, 5, 3),
        (1, span + 1, 3),
        (3, span // 2 + 3, 7, 3),
    ]
    for shape in shapes:
        x = rng.integers(0, 256, shape).astype(np.uint8)
        got = decode_depth(x, threads=threads)
        assert got.dtype == np.float32 and got.shape == shape[:-1]
        np.testing.assert_array_equal(got, D.decode_depth_reference(x))
    base = rng.integers(0, 256, (4, 40, 50, 3)).astype(np.uint8)
    views = [
        base[:, ::2],
        base[::-1, :, 3:],
        base[..., ::-1],
        np.asfortranarray(base[0]),
        base.transpose(0, 2, 1, 3),
    ]
    for v in views:
        np.testing.assert_array_equal(decode_depth(v, threads=threads), D.decode_depth_reference(v))
    t = torch.from_numpy(base)[:, ::3]
    np.testing.assert_array_equal(
        decode_depth(t, threads=threads).numpy(), D.decode_depth_reference(t.numpy())
    )


def test_threaded_lookup_covers_every_pixel_of_a_large_image():
    """Spans split at arbitrary points: every pixel (the last included) matches the one-thread result."""
    rng = np.random.default_rng(12)
    x = rng.integers(0, 256, (1, 5 * D._CHUNK + 17, 3)).astype(np.uint8)
    one = decode_depth(x, threads=1)
    np.testing.assert_array_equal(one, D.decode_depth_reference(x))
    for threads in (2, 5, 64):
        np.testing.assert_array_equal(decode_depth(x, threads=threads), one)
    assert D.decode_threads() >= 1


def test_threads_argument_is_validated(monkeypatch):
    x = np.zeros((2, 2, 3), np.uint8)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads"):
            decode_depth(x, threads=bad)
    monkeypatch.setenv("OPENBANANA_CODEC_THREADS", "zero")
    with pytest.raises(ValueError, match="OPENBANANA_CODEC_THREADS"):
        D.decode_threads()
    monkeypatch.setenv("OPENBANANA_CODEC_THREADS", "3")
    assert D.decode_threads() == 3


def test_threaded_lookup_works_in_a_forked_child():
    """A fork inherits the pool object but not its threads: the child must rebuild it, not hang."""
    import multiprocessing as mp

    x = np.random.default_rng(13).integers(0, 256, (1, 3 * D._CHUNK + 5, 3)).astype(np.uint8)
    want = decode_depth(x, threads=3)  # the parent's pool now exists
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(decode_depth, (x,), {"threads": 3}).get(timeout=60)
    np.testing.assert_array_equal(got, want)


def test_soft_path_position_is_the_exact_projection_with_a_gradient_along_the_path():
    g = torch.Generator().manual_seed(3)
    rgb = torch.randint(0, 256, (2, 3, 24, 24), generator=g)
    exact = D.path_position(rgb[:, 0], rgb[:, 1], rgb[:, 2]).float()  # [2, 24, 24]
    soft = D.path_unit_soft(rgb.float() / 255)
    assert soft.shape == (2, 24, 24)
    assert (soft * D.STEPS - exact).abs().max() < 1e-3  # ties go to the earlier segment in both
    # on the red -> yellow edge only green varies: d f / d green = 1/7, the other channels 0
    x = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1).requires_grad_()
    f = D.path_unit_soft(x)
    assert abs(f.item() - 1.5 / 7) < 1e-6
    f.sum().backward()
    np.testing.assert_allclose(x.grad.view(3).numpy(), [0.0, 1 / 7, 0.0], atol=1e-7)
    f = torch.linspace(0, 0.999, 50, dtype=torch.float64)
    torch.testing.assert_close(D.unit_to_depth_soft(f), unit_to_depth(f))
    # off the path (halfway to the blue corner) the position still reads along the nearest edge
    assert abs(D.path_unit_soft(torch.tensor([1.0, 0.5, 0.3]).view(1, 3, 1, 1)).item() - 1.5 / 7) < 1e-6
