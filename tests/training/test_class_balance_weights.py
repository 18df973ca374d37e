"""Class-balance weights: a semantic target's rare classes weigh up, nothing else changes."""

import pytest
import torch

from openbanana.backends.base import Batch
from openbanana.training.config import ObjectiveConfig, TrainConfig
from openbanana.training.objective import class_balance_weights, class_task, prepare_batch

COLOURS = torch.tensor([[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])


def _labels(counts: list[int], size: int = 8) -> torch.Tensor:
    """A target ``[3, size, size]`` whose first ``counts[0]`` pixels have colour 0, the next colour 1..."""
    ids = torch.cat([torch.full((n,), i) for i, n in enumerate(counts)])
    assert len(ids) == size * size
    return COLOURS[ids].T.reshape(3, size, size)


def test_class_tasks_follow_the_answer_kind():
    assert [t for t in ("depth", "normals", "semantic", "instance", "referring", "reasoning", "t2i")
            if class_task(t)] == ["semantic"]


def test_weights_values():
    target = torch.stack([_labels([48, 12, 3, 1]), _labels([48, 12, 3, 1]), _labels([64, 0, 0, 0])])
    w = class_balance_weights(target, ["semantic", "referring", "semantic"], max_weight=5.0)
    assert w.shape == (3, 1, 8, 8)
    flat = w[0].flatten()
    assert flat[:48].eq(1).all()  # the most frequent colour
    assert flat[48:60].tolist() == pytest.approx([2.0] * 12)  # sqrt(48 / 12)
    assert flat[60:63].tolist() == pytest.approx([4.0] * 3)  # sqrt(48 / 3)
    assert flat[63].item() == 5.0  # sqrt(48) clipped
    assert (w[1] == 1).all() and (w[2] == 1).all()  # not a class task; one class only
    assert class_balance_weights(target, ["depth"] * 3, 5.0) is None
    assert class_balance_weights(target, ["semantic"] * 3, 0.0) is None


def test_prepare_batch_combines_both_weights_and_the_config_checks_them():
    target = torch.stack([_labels([48, 12, 3, 1]), _labels([60, 4, 0, 0])])
    batch = Batch(target=target, cond=torch.zeros(2, 3, 8, 8), has_cond=torch.ones(2, dtype=torch.bool),
                  prompts=["a", "b"], tasks=["semantic", "referring"])
    gen = torch.Generator().manual_seed(0)
    assert prepare_batch(batch, ObjectiveConfig(one_step_prob=1.0), gen).weight is None
    both = prepare_batch(batch, ObjectiveConfig(one_step_prob=1.0, foreground_weight=5.0, class_balance_weight=5.0),
                         torch.Generator().manual_seed(0)).weight
    assert both[0].flatten()[48:60].tolist() == pytest.approx([2.0] * 12)  # semantic: class balance
    assert both[1].flatten()[60:].tolist() == pytest.approx([15 ** 0.5] * 4)  # referring: foreground
    only = prepare_batch(batch, ObjectiveConfig(one_step_prob=1.0, class_balance_weight=5.0),
                         torch.Generator().manual_seed(0)).weight
    assert torch.equal(only[0], both[0]) and (only[1] == 1).all()
    with pytest.raises(ValueError, match="class_balance_weight"):
        TrainConfig(objective={"class_balance_weight": 0.5})
    assert TrainConfig.from_dict(TrainConfig(objective={"class_balance_weight": 3.0}).to_dict()
                                 ).objective.class_balance_weight == 3.0
