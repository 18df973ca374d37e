"""Answer-space training losses summed over a batch (tasks/answer_loss.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import openbanana
from openbanana.tasks import TASKS
from openbanana.tasks.answer_loss import answer_loss, check_answer_loss_weights


def _depth_image(depth_m: float) -> torch.Tensor:
    rgb = openbanana.encode("depth", np.full((1, 4, 4), depth_m, np.float32))
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 127.5 - 1  # [1, 3, 4, 4]


def test_rows_of_weighted_tasks_add_their_mean_error_over_the_batch_size():
    pred = torch.cat([_depth_image(2.0), _depth_image(2.0), _depth_image(2.0)])
    target = torch.cat([_depth_image(1.0), _depth_image(1.0), _depth_image(1.0)])
    prompts = ["Estimate the metric depth of this image.", "depth (grayscale colormap)", "a mask"]
    tasks = ["depth", "depth", "referring"]
    one = TASKS.get("depth").answer_loss(pred[:1], target[:1])[0].mean().item()
    got = answer_loss(pred, target, prompts, tasks, {"depth": 0.5}, batch_size=8)
    # row 2 names another colormap (no answer loss), row 3 is another task: only row 1 counts
    assert abs(got.item() - 0.5 * one / 8) < 1e-6
    assert answer_loss(pred, target, prompts, tasks, {"depth": 0.0}, batch_size=8) is None
    assert answer_loss(pred[2:], target[2:], prompts[2:], tasks[2:], {"depth": 1.0}, batch_size=8) is None


def test_weights_are_checked():
    check_answer_loss_weights({"depth": 0.5})
    with pytest.raises(ValueError, match="unknown task 'detph'"):
        check_answer_loss_weights({"detph": 1.0})
    with pytest.raises(ValueError, match="'semantic' has no answer loss"):
        check_answer_loss_weights({"semantic": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        check_answer_loss_weights({"depth": -1.0})
    with pytest.raises(ValueError, match=">= 0"):
        check_answer_loss_weights({"depth": "half"})
    with pytest.raises(ValueError, match="expected a mapping"):
        check_answer_loss_weights(["depth"])
