"""The depth task: codec binding, colormap spec, instructions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import openbanana
from openbanana.tasks import TASKS

DEPTH = np.array([[0.1, 0.5, 1.0], [3.0, 10.0, 40.0]], np.float32)


def test_paper_code_round_trip_and_known_colours():
    rgb = openbanana.encode("depth", np.array([[0.0, 0.8, 16.46]], np.float32))
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 3, 3)
    np.testing.assert_array_equal(rgb[0, 0], [0, 0, 0])  # 0 m: black
    np.testing.assert_allclose(rgb[0, 1], [255, 0, 0], atol=2)  # first corner: red at 0.80 m
    np.testing.assert_allclose(rgb[0, 2], [255, 0, 255], atol=2)  # magenta at 16.46 m
    out = openbanana.decode("depth", openbanana.encode("depth", DEPTH)).value
    np.testing.assert_allclose(out, DEPTH, rtol=0.015)


@pytest.mark.parametrize("cmap", ["plasma", "inferno", "viridis", "grayscale"])
def test_colormap_spec(cmap):
    rgb = openbanana.encode("depth", DEPTH, colormap=cmap)
    assert not np.array_equal(rgb, openbanana.encode("depth", DEPTH))
    np.testing.assert_allclose(openbanana.decode("depth", rgb, colormap=cmap).value, DEPTH, rtol=0.05)
    text = TASKS.get("depth").instruction(np.random.default_rng(0), colormap=cmap)
    assert TASKS.get("depth").spec_from_instruction(text) == {"colormap": cmap}


def test_torch_matches_numpy():
    rgb_t = openbanana.encode("depth", torch.from_numpy(DEPTH))
    assert isinstance(rgb_t, torch.Tensor)
    np.testing.assert_array_equal(rgb_t.numpy(), openbanana.encode("depth", DEPTH))


def test_instructions():
    task = TASKS.get("depth")
    assert task.instruction() == "Estimate the metric depth of this image."
    texts = {task.instruction(np.random.default_rng(s)) for s in range(60)}
    assert len(texts) >= 6 and all("depth" in t or "how far" in t.lower() for t in texts)
    assert "plasma colormap" in task.instruction(None, colormap="plasma")


def test_bad_spec():
    with pytest.raises(ValueError, match="unknown colormap 'jet'"):
        openbanana.encode("depth", DEPTH, colormap="jet")
    with pytest.raises(TypeError, match=r"unexpected spec key\(s\) \['palette'\]"):
        openbanana.decode("depth", np.zeros((2, 2, 3), np.uint8), palette={})
    with pytest.raises(ValueError, match="NaN"):
        openbanana.encode("depth", np.array([[np.nan]], np.float32))


def _image(depth_m: np.ndarray, **spec) -> torch.Tensor:
    """Depths drawn in a code, as the model sees its targets: float [N, 3, H, W] in [-1, 1]."""
    rgb = openbanana.encode("depth", depth_m, **spec)
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 127.5 - 1


def test_answer_loss_is_the_log_depth_error_read_off_the_colours():
    task = TASKS.get("depth")
    target = _image(np.array([[[1.0, 4.0, 0.0, np.inf]]], np.float32))  # [1, 3, 1, 4]
    pred = _image(np.array([[[2.0, 4.0, 1.0, 1.0]]], np.float32)).requires_grad_()
    loss, valid = task.answer_loss(pred, target)
    assert loss.shape == valid.shape == (1, 1, 4)
    assert valid.tolist() == [[[True, True, False, False]]]  # black (no depth) and white (sky) left out
    assert abs(loss[0, 0, 0].item() - np.log(2.05 / 1.05)) < 0.01  # 8-bit steps: ~0.3 % at 1-2 m
    assert loss[0, 0, 1].item() < 0.005
    (loss * valid).sum().backward()
    assert pred.grad[0, :, 0, 0].abs().sum() > 0 and pred.grad[0, :, 0, 2:].abs().sum() == 0
    # only the paper's code has it: a colormap's answer is trained by the squared error alone
    assert task.answer_loss(pred, target, colormap="grayscale") is None
