"""The world builder's fast scalar paths give exactly (to the bit) what the numpy / random.Random
calls they replace give, so scene sampling stays byte-for-byte the same."""

import random

import numpy as np
import pytest

from openbanana.data.synthetic.builder import Builder, FastRng, Yaw
from openbanana.data.synthetic.materials import COLOR_NAMES, named
from openbanana.data.synthetic.scene import rot_x, rot_y, rot_z
from openbanana.data.synthetic.splits import SPLIT_CONFIGS

ANGLES = [0.0, -0.0, 8.0, -8.0, 10.0, -10.0, 35.0, 90.0, -90.0, 180.0, 270.0, 360.0, 1e-9, 123.456]


def _bits(xs):
    return [float(x).hex() for x in xs]


def _numpy_rot(axis, deg):
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def test_rotations_match_numpy_trig():
    rng = random.Random(0)
    for deg in ANGLES + [rng.uniform(-720, 720) for _ in range(2000)]:
        for axis, fn in (("x", rot_x), ("y", rot_y), ("z", rot_z)):
            got, want = fn(deg), _numpy_rot(axis, deg)
            assert got.dtype == want.dtype == np.float64 and got.tobytes() == want.tobytes(), (axis, deg)


def test_yaw_offsets_match_matmul_bit_for_bit():
    rng = random.Random(1)
    comps = [0.0, -0.0, 1.0, -1.0, 0.02, -0.385, 1e-300]
    for deg in ANGLES + [rng.uniform(-400, 400) for _ in range(300)]:
        turn, R = Yaw(deg), rot_y(deg)
        for u in comps + [rng.uniform(-3, 3) for _ in range(6)]:
            for v in comps + [rng.uniform(-3, 3) for _ in range(6)]:
                o = R @ np.array([u, 0, v])
                assert _bits(turn.offset(u, v)) == _bits((o[0], o[2])), (deg, u, v)
                if u != 0 and v != 0:  # numpy floats, as the matmul gives (specs keep their types)
                    assert all(type(x) is np.float64 for x in turn.offset(u, v))
                if v == 0:
                    assert _bits(turn.along_x(u)) == _bits((o[0], o[2]))
                if u == 0:
                    assert _bits(turn.along_z(v)) == _bits((o[0], o[2]))


def test_builder_colour_is_named_with_the_same_draws():
    for jitter in (0.0, 0.02, 0.06, 0.12, 0.5):
        for name in COLOR_NAMES:
            a, b = FastRng(7), FastRng(7)
            got = Builder(a, SPLIT_CONFIGS["train"]).color(name, jitter)
            want = named(name, b, jitter)
            assert _bits(got) == _bits(want) and a.random() == b.random(), (name, jitter)
            assert all(0.0 <= c <= 1.0 for c in got)
    assert _bits(named("red")) == _bits(np.array(COLOR_NAMES["red"]) / 255.0)
    with pytest.raises(KeyError):
        Builder(FastRng(0), SPLIT_CONFIGS["train"]).color("mauve")


def test_fast_rng_draws_what_randrange_draws():
    a, b = FastRng(3), random.Random(3)
    for n in (1, 2, 3, 4, 24, 64, 1000):
        for _ in range(50):
            assert a.integers(n) == b.randrange(n)
            assert a.integers(2, 2 + n) == b.randrange(2, 2 + n)
    seq = ("a", "b", "c", "d", "e")
    builder = Builder(a, SPLIT_CONFIGS["train"])
    for _ in range(50):
        assert builder.choice(seq) == b.choice(seq)
        assert builder.pattern() == b.choice(SPLIT_CONFIGS["train"].patterns)
    with pytest.raises(ValueError):
        a.integers(0)
    with pytest.raises(ValueError):
        a.integers(5, 5)
    with pytest.raises(ValueError):
        builder.choice(())


def test_free_decides_as_the_pow_comparison():
    rng = random.Random(4)
    builder = Builder(FastRng(0), SPLIT_CONFIGS["train"])
    for _ in range(20000):
        builder.footprints = [(rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(0.1, 1)) for _ in range(rng.randint(0, 5))]
        x, z, r = rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(0.1, 1)
        if builder.footprints and rng.random() < 0.5:  # a near tie: on the limit of the first footprint
            fx, fz, fr = builder.footprints[0]
            x = fx + (r + fr + 0.05) * rng.choice([1.0, -1.0, 0.6])
            z = fz if abs(x - fx) >= r + fr + 0.05 else fz + ((r + fr + 0.05) ** 2 - (x - fx) ** 2) ** 0.5
        want = all((x - fx) ** 2 + (z - fz) ** 2 >= (r + fr + 0.05) ** 2 for fx, fz, fr in builder.footprints)
        assert builder.free(x, z, r) == want
