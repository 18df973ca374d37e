"""The instance task: background spec, id round trip, instructions."""

from __future__ import annotations

import numpy as np
import pytest

import openbanana
from openbanana.tasks import TASKS


def _ids() -> np.ndarray:
    ids = np.zeros((40, 40), np.int64)
    ids[2:15, 2:15] = 3
    ids[20:35, 5:18] = 7
    ids[5:30, 25:38] = 9
    return ids


@pytest.mark.parametrize("scheme", ["rank", "position"])
@pytest.mark.parametrize("background", [(0, 0, 0), "white", "#102030"])
def test_round_trip(background, scheme):
    ids = _ids()
    rgb = openbanana.encode("instance", ids, background=background, scheme=scheme)
    bg = np.array(openbanana.tasks.parse_color(background))
    np.testing.assert_array_equal(rgb[0, 0], bg)
    out = openbanana.decode("instance", rgb, background=background).value
    assert out.dtype == np.int32
    # same partition: every input instance maps to exactly one decoded id and back
    pairs = {(int(a), int(b)) for a, b in zip(ids.ravel(), out.ravel())}
    assert (0, 0) in pairs and len(pairs) == 4
    assert {a for a, _ in pairs} == {0, 3, 7, 9} and len({b for _, b in pairs}) == 4


def test_instructions():
    task = TASKS.get("instance")
    assert task.instruction() == "Instance segmentation: paint every object in a different colour on a black background."
    assert task.instruction(None, category="car", background="white") == (
        "Instance segmentation: paint every car in a different colour on a white background.")
    for seed in range(40):
        text = task.instruction(np.random.default_rng(seed), category="traffic sign", background=(1, 2, 3))
        assert task.spec_from_instruction(text) == {"background": (1, 2, 3), "category": "traffic sign"}


def test_errors():
    with pytest.raises(TypeError, match="unexpected spec key"):
        openbanana.encode("instance", _ids(), colors=[(1, 2, 3)])
    with pytest.raises(ValueError, match="unknown colour name"):
        openbanana.encode("instance", _ids(), background="blak")
    with pytest.raises(ValueError, match="scheme: expected one of"):
        openbanana.encode("instance", _ids(), scheme="diagonal")
