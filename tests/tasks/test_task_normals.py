"""The normals task: the paper's colours, round trip, instructions."""

from __future__ import annotations

import numpy as np
import pytest

import openbanana
from openbanana.tasks import TASKS


def test_paper_colours_and_round_trip():
    n = np.array([[[-1, 0, 0], [0, 1, 0], [0, 0, 1]]], np.float32)
    rgb = openbanana.encode("normals", n)
    np.testing.assert_allclose(rgb[0], [[255, 128, 128], [128, 255, 128], [128, 128, 255]], atol=1)
    answer = openbanana.decode("normals", rgb)
    out, valid = answer.value, answer.valid
    assert valid.all()
    np.testing.assert_allclose(out, n, atol=0.01)


def test_invalid_mask_is_black():
    n = np.zeros((1, 2, 3), np.float32)
    n[0, 0] = (0, 0, 1)
    rgb = openbanana.encode("normals", n, valid=np.array([[True, False]]))
    np.testing.assert_array_equal(rgb[0, 1], [0, 0, 0])
    assert openbanana.decode("normals", rgb).valid.tolist() == [[True, False]]


def test_instructions_and_spec():
    task = TASKS.get("normals")
    assert task.instruction() == "Estimate the surface normals of this image."
    assert len({task.instruction(np.random.default_rng(s)) for s in range(60)}) >= 6
    with pytest.raises(TypeError, match="takes: \\(none\\)"):
        task.instruction(None, colormap="plasma")
