"""Foreground weights: region targets weigh their few foreground pixels up, nothing else changes."""

import pytest
import torch

from openbanana.backends.base import Batch
from openbanana.backends.tiny import TinyBackend
from openbanana.training.config import ObjectiveConfig, TrainConfig
from openbanana.training.objective import foreground_weights, prepare_batch, region_task


def _target(fg_pixels: int, size: int = 8, bg: float = -1.0) -> torch.Tensor:
    t = torch.full((3, size, size), bg)
    t.view(3, -1)[0, :fg_pixels] = 1.0  # red foreground on the background
    return t


def test_region_tasks_follow_the_answer_kind():
    assert [t for t in ("depth", "normals", "semantic", "instance", "referring", "reasoning", "t2i")
            if region_task(t)] == ["instance", "referring", "reasoning"]


def test_weights_values():
    target = torch.stack([_target(4), _target(4), _target(0), _target(40, bg=0.0)])
    w = foreground_weights(target, ["referring", "depth", "referring", "instance"], max_weight=5.0)
    assert w.shape == (4, 1, 8, 8)
    # 4 of 64 pixels: sqrt(60 / 4) = 3.873
    assert w[0].flatten()[:4].tolist() == pytest.approx([15 ** 0.5] * 4)
    assert (w[0].flatten()[4:] == 1).all()
    assert (w[1] == 1).all() and (w[2] == 1).all()  # not a region task; no foreground at all
    # 40 of 64 are red, so red is the background (the most frequent colour): the 24 others weigh
    # sqrt(40 / 24) = 1.29
    assert w[3].flatten()[:40].eq(1).all() and w[3].flatten()[40:].tolist() == pytest.approx([(40 / 24) ** 0.5] * 24)
    w = foreground_weights(torch.stack([_target(1)]), ["referring"], max_weight=5.0)
    assert w.max().item() == 5.0  # sqrt(63) clipped
    assert foreground_weights(target, ["depth"] * 4, 5.0) is None


def test_prepare_batch_and_weighted_loss():
    torch.manual_seed(0)
    target = torch.stack([_target(4, size=16), _target(4, size=16)])
    batch = Batch(target=target, cond=torch.zeros(2, 3, 16, 16), has_cond=torch.ones(2, dtype=torch.bool),
                  prompts=["mask the ball in red", "depth"], tasks=["referring", "depth"])
    off = prepare_batch(batch, ObjectiveConfig(one_step_prob=1.0), torch.Generator().manual_seed(0))
    on = prepare_batch(batch, ObjectiveConfig(one_step_prob=1.0, foreground_weight=4.0),
                       torch.Generator().manual_seed(0))
    assert off.weight is None and on.weight.shape == (2, 1, 16, 16)
    model = TinyBackend.from_config({"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1],
                                     "emb_dim": 32, "text": {"dim": 32, "layers": 1, "heads": 2}})
    # the zero-initialised model predicts 0: its one-step error is the target's square, 1 per pixel
    # in every channel (targets are +-1), so both means are 1 whatever the weights
    assert model.training_loss(off).item() == pytest.approx(1.0)
    assert model.training_loss(on).item() == pytest.approx(1.0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.05)
    l_off = model.training_loss(off, torch.Generator().manual_seed(1))
    l_on = model.training_loss(on, torch.Generator().manual_seed(1))
    assert abs(l_on.item() - l_off.item()) > 1e-4  # the weights change what is minimised
    on.weight = on.weight * 0 + 1
    assert model.training_loss(on, torch.Generator().manual_seed(1)).item() == pytest.approx(l_off.item())


def test_config_refuses_weights_below_one():
    with pytest.raises(ValueError, match="foreground_weight"):
        TrainConfig(objective={"foreground_weight": 0.5})


def test_only_the_named_tasks_are_weighted():
    target = torch.stack([_target(4), _target(4)])
    w = foreground_weights(target, ["referring", "instance"], max_weight=5.0, only=("referring", "reasoning"))
    assert w[0].max().item() == pytest.approx(15 ** 0.5)
    assert (w[1] == 1).all()  # instance is a region task but not named
    assert foreground_weights(target, ["instance", "instance"], 5.0, only=("referring",)) is None
    batch = Batch(target=target, cond=torch.zeros(2, 3, 8, 8), has_cond=torch.ones(2, dtype=torch.bool),
                  prompts=["a", "b"], tasks=["instance", "referring"])
    cfg = ObjectiveConfig(one_step_prob=1.0, foreground_weight=5.0, foreground_tasks=["referring"])
    w = prepare_batch(batch, cfg, torch.Generator().manual_seed(0)).weight
    assert (w[0] == 1).all() and w[1].max().item() > 1


def test_config_foreground_tasks_json_round_trip_and_errors():
    cfg = TrainConfig(objective={"foreground_weight": 5.0, "foreground_tasks": ["referring", "reasoning"]})
    assert cfg.objective.foreground_tasks == ("referring", "reasoning")
    d = cfg.to_dict()
    assert d["objective"]["foreground_tasks"] == ["referring", "reasoning"]
    assert TrainConfig.from_dict(d).objective == cfg.objective
    assert TrainConfig().to_dict()["objective"]["foreground_tasks"] is None  # default: every region task
    with pytest.raises(ValueError, match=r"foreground_tasks \['depth'\]"):
        TrainConfig(objective={"foreground_weight": 5.0, "foreground_tasks": ["depth", "referring"]})
