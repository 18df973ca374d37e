import random

import numpy as np
import pytest
import torch

from openbanana.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    optimizer_from_files,
    optimizer_to_files,
    prune_checkpoints,
    save_checkpoint,
)


def _opt_with_state():
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, betas=(0.9, 0.95))
    for _ in range(3):
        m(torch.randn(4, 3)).pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    return m, opt


def test_optimizer_split_round_trip_continues_identically():
    m, opt = _opt_with_state()
    tensors, meta = optimizer_to_files(opt.state_dict())
    assert all(torch.is_tensor(v) for v in tensors.values())
    m2 = torch.nn.Linear(3, 2)
    m2.load_state_dict(m.state_dict())
    opt2 = torch.optim.AdamW(m2.parameters(), lr=1.0)
    opt2.load_state_dict(optimizer_from_files(tensors, meta))
    assert opt2.param_groups[0]["betas"] == (0.9, 0.95) and opt2.param_groups[0]["lr"] == 1e-2
    x = torch.randn(4, 3)
    for mm, oo in ((m, opt), (m2, opt2)):
        mm(x).pow(2).sum().backward()
        oo.step()
    assert torch.equal(m.weight, m2.weight)


def test_save_load_restores_every_rng(tmp_path):
    m, opt = _opt_with_state()
    gen = torch.Generator().manual_seed(5)
    gen.manual_seed(5)
    torch.manual_seed(11), random.seed(12), np.random.seed(13)
    d = save_checkpoint(tmp_path / "checkpoints" / "step_0000003", model_state=m.state_dict(),
                        ema_state={"w": torch.ones(2)}, optimizer_state=opt.state_dict(),
                        generators={"noise": gen}, state={"step": 3})
    expect = (torch.rand(3, generator=gen), torch.rand(3), random.random(), np.random.rand())
    gen.manual_seed(0), torch.manual_seed(0), random.seed(0), np.random.seed(0)
    ck = load_checkpoint(d)
    from openbanana.training.checkpoint import rng_from_files

    rng_from_files(ck["rng_tensors"], ck["rng_meta"], {"noise": gen})
    got = (torch.rand(3, generator=gen), torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(got[0], expect[0]) and torch.equal(got[1], expect[1]) and got[2:] == expect[2:]
    assert ck["state"] == {"step": 3} and torch.equal(ck["model"]["weight"], m.weight)
    assert latest_checkpoint(tmp_path) == d
    with pytest.raises(ValueError, match="rank 1"):
        load_checkpoint(d, rank=1)


def test_latest_and_prune(tmp_path):
    for s in (1, 2, 3):
        (tmp_path / "checkpoints" / f"step_{s:07d}").mkdir(parents=True)
        (tmp_path / "checkpoints" / f"step_{s:07d}" / "state.json").write_text("{}")
    (tmp_path / "checkpoints" / "step_0000004").mkdir()  # incomplete: no state.json
    assert latest_checkpoint(tmp_path).name == "step_0000003"
    prune_checkpoints(tmp_path, keep=1)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_0000003", "step_0000004"]
    with pytest.raises(FileNotFoundError):
        latest_checkpoint(tmp_path / "nothing")
