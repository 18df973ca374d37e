"""The referring and reasoning tasks: colours and background spec, mask round trip, instructions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import openbanana
from openbanana.errors import InstructionError
from openbanana.tasks import TASKS


def _masks() -> np.ndarray:
    m = np.zeros((2, 8, 8), bool)
    m[0, 1:4, 1:4] = True
    m[1, 5:8, 2:7] = True
    return m


@pytest.mark.parametrize("task", ["referring", "reasoning"])
def test_round_trip(task):
    m = _masks()
    rgb = openbanana.encode(task, m, colors=["red", "#00ff00"], background="white")
    np.testing.assert_array_equal(rgb[2, 2], [255, 0, 0])
    np.testing.assert_array_equal(rgb[6, 3], [0, 255, 0])
    np.testing.assert_array_equal(rgb[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(openbanana.decode(task, rgb, colors=["red", "#00ff00"], background="white").value, m)


def test_default_red_single_mask_and_torch():
    m = _masks()[0]
    rgb = openbanana.encode("referring", m)
    np.testing.assert_array_equal(rgb[2, 2], [255, 0, 0])
    out = openbanana.decode("referring", torch.from_numpy(rgb)).value
    assert isinstance(out, torch.Tensor) and out.shape == (1, 8, 8)
    assert torch.equal(out[0], torch.from_numpy(m))


def test_referring_instructions():
    task = TASKS.get("referring")
    assert task.instruction(None, expressions=["dog", "man in the red shirt"], colors=["red", (1, 2, 3)]) == (
        'Highlight "dog" in red and "man in the red shirt" in (1, 2, 3) on a black background.')
    texts = {task.instruction(np.random.default_rng(s), expressions=["dog"]) for s in range(60)}
    assert len(texts) > 20


def test_reasoning_instructions():
    task = TASKS.get("reasoning")
    text = task.instruction(None, expressions=["what cuts bread?"])
    assert text == 'Reasoning segmentation. Query: "what cuts bread?" Paint the answer in red on a black background.'
    assert task.spec_from_instruction(text) == {
        "colors": [(255, 0, 0)], "background": (0, 0, 0), "expressions": ["what cuts bread?"]}
    with pytest.raises(ValueError, match="one query per instruction"):
        task.instruction(None, expressions=["a?", "b?"], colors=["red", "blue"])
    with pytest.raises(InstructionError, match="could not find the question"):
        task.spec_from_instruction("paint it red")


def test_errors():
    with pytest.raises(InstructionError, match=r"needs expressions="):
        TASKS.get("referring").instruction(None)
    with pytest.raises(ValueError, match=r"2 expression\(s\) but 1 colour"):
        TASKS.get("referring").instruction(None, expressions=["a", "b"])
    with pytest.raises(ValueError, match="non-empty list of colours"):
        openbanana.encode("referring", _masks(), colors=[])
    with pytest.raises(ValueError):
        openbanana.encode("referring", _masks(), colors=["red"])  # 2 masks, 1 colour
