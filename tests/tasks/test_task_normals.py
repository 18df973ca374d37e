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


def test_unmirror_turns_the_answer_for_a_mirrored_input_into_the_inputs_own():
    rng = np.random.default_rng(0)
    n = rng.normal(size=(5, 7, 3)).astype(np.float32)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    mirrored = n[:, ::-1] * np.array([-1, 1, 1], np.float32)  # the mirror image's normals
    back = TASKS.get("normals").unmirror(openbanana.encode("normals", mirrored))
    assert back.dtype == np.uint8 and back.shape == (5, 7, 3)
    np.testing.assert_allclose(back.astype(int), openbanana.encode("normals", n).astype(int), atol=1)
    np.testing.assert_allclose(openbanana.decode("normals", back).value, n, atol=0.01)
    assert TASKS.get("normals").mirrorable and TASKS.get("depth").mirrorable


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


def test_answer_loss_is_the_angle_between_the_drawn_normals():
    import torch

    def image(n):
        rgb = openbanana.encode("normals", np.asarray(n, np.float32))
        return torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 127.5 - 1

    pred = image([[[[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]]])
    target = image([[[[0, 0, 1], [0, 0, 1], [0, -1, 0], [0, 0, 1]]]])
    target[0, :, 0, 3] = -1.0  # black: no normal there
    loss, valid = TASKS.get("normals").answer_loss(pred, target)
    np.testing.assert_allclose(np.degrees(loss[0, 0, :3].numpy()), [0.0, 90.0, 180.0], atol=1.0)  # 8-bit: 128 is not 127.5
    assert valid.tolist() == [[[True, True, True, False]]]
    # half the length, same direction: the decoder normalises, so the loss sees no error
    loss, _ = TASKS.get("normals").answer_loss(pred * 0.5, pred)
    assert loss.max() < 0.01
