"""The semantic task: palette or instruction spec, label round trip, void, noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import openbanana
from openbanana.errors import InstructionError
from openbanana.tasks import TASKS

PALETTE = {"road": (128, 64, 128), "sky": "#4682B4", "car": "light blue"}
LABELS = np.array([[0, 1, 2], [255, 2, 0]], np.int64)


def test_round_trip_with_palette_and_instruction():
    rgb = openbanana.encode("semantic", LABELS, palette=PALETTE)
    np.testing.assert_array_equal(rgb[0], [[128, 64, 128], [70, 130, 180], [173, 216, 230]])
    np.testing.assert_array_equal(rgb[1, 0], [0, 0, 0])  # void = black
    np.testing.assert_array_equal(openbanana.decode("semantic", rgb, palette=PALETTE).value, LABELS)
    text = "the road is (128, 64, 128), the sky is #4682B4 and cars are shown in light blue"
    np.testing.assert_array_equal(openbanana.decode("semantic", rgb, instruction=text).value, LABELS)


def test_noise_and_max_distance():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (32, 32))
    rgb = openbanana.encode("semantic", labels, palette=PALETTE).astype(np.float64)
    noisy = np.clip(np.rint(rgb + rng.normal(0, 3, rgb.shape)), 0, 255).astype(np.uint8)
    assert (openbanana.decode("semantic", noisy, palette=PALETTE).value == labels).mean() >= 0.99
    far = np.full((1, 1, 3), 100, np.uint8)
    assert openbanana.decode("semantic", far, palette=PALETTE, max_distance=10).value.item() == 255


def test_torch():
    rgb = openbanana.encode("semantic", torch.from_numpy(LABELS), palette=PALETTE)
    assert isinstance(rgb, torch.Tensor)
    out = openbanana.decode("semantic", rgb, palette=PALETTE).value
    assert torch.equal(out.long(), torch.from_numpy(LABELS))


def test_instruction_round_trip():
    task = TASKS.get("semantic")
    assert task.instruction(None, palette={"road": (1, 2, 3)}) == (
        "Semantic segmentation. Paint every pixel with the colour of its class: road: (1, 2, 3)")
    for seed in range(30):
        text = task.instruction(np.random.default_rng(seed), palette=PALETTE)
        assert task.spec_from_instruction(text)["palette"] == {
            "road": (128, 64, 128), "sky": (70, 130, 180), "car": (173, 216, 230)}


def test_errors():
    with pytest.raises(InstructionError, match="needs palette="):
        openbanana.decode("semantic", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(TypeError, match="not both"):
        openbanana.decode("semantic", np.zeros((2, 2, 3), np.uint8), palette=PALETTE, instruction="x")
    with pytest.raises(ValueError, match="non-empty mapping"):
        openbanana.encode("semantic", LABELS, palette={})
    with pytest.raises(ValueError, match="classes 'a' and 'b' have the same colour"):
        openbanana.encode("semantic", LABELS, palette={"a": "red", "b": (255, 0, 0)})
    with pytest.raises(InstructionError, match=r"palette\['a'\]: unknown colour name 'blurple'"):
        openbanana.encode("semantic", LABELS, palette={"a": "blurple"})
    with pytest.raises(ValueError, match="out-of-range"):
        openbanana.encode("semantic", np.array([[7]]), palette=PALETTE)
