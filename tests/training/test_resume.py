"""Exact resume: N steps straight == k steps, checkpoint, resume, N - k steps (bit-identical)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from openbanana.training.config import TrainConfig
from openbanana.training.loop import train


def _cfg(**kw) -> TrainConfig:
    d = {
        "backend": "tiny",
        "backend_config": {"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1],
                           "emb_dim": 32, "text": {"dim": 32, "layers": 1, "heads": 2}},
        "data_source": "toy", "resolution": 16, "batch_size": 4,
        "stages": [{"name": "a", "data": {"vision_share": 0.0}, "steps": 3, "lr": 1e-3, "warmup_steps": 1},
                   {"name": "b", "data": {"vision_share": 0.5}, "steps": 3, "lr": 5e-4, "warmup_steps": 1}],
        "ckpt_every": 2, "keep_checkpoints": 0, "eval_batches": 1, "log_every": 1,
    }
    d.update(kw)
    return TrainConfig.from_dict(d)


@pytest.mark.slow
@pytest.mark.parametrize("replay", [False, True])
def test_resume_is_exact(tmp_path, replay):
    # with replay, the pool (capacity 5 < 8 samples seen at step 4) is rebuilt from the stream
    cfg = _cfg(**({"fresh_per_step": 2, "replay_capacity": 5} if replay else {}))
    full = train(cfg, tmp_path / "full", progress=False)
    # step 2 lies inside stage "a", step 4 inside stage "b": resume across the stage boundary too
    for k in (2, 4):
        part = train(cfg, tmp_path / f"part{k}", resume=full / "checkpoints" / f"step_{k:07d}", progress=False)
        a = load_file(str(full / "checkpoints" / "step_0000006" / "model.safetensors"))
        b = load_file(str(part / "checkpoints" / "step_0000006" / "model.safetensors"))
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), (k, name)
        ea = load_file(str(full / "checkpoints" / "step_0000006" / "ema.safetensors"))
        eb = load_file(str(part / "checkpoints" / "step_0000006" / "ema.safetensors"))
        assert all(torch.equal(ea[n], eb[n]) for n in ea)
        oa = load_file(str(full / "checkpoints" / "step_0000006" / "optimizer.safetensors"))
        ob = load_file(str(part / "checkpoints" / "step_0000006" / "optimizer.safetensors"))
        assert all(torch.equal(oa[n], ob[n]) for n in oa)
    summary = json.loads((full / "training_summary.json").read_text())
    assert summary["steps"] == 6 and summary["images_seen"] == 24
    assert summary["unique_samples"] == (12 if replay else 24)


def test_resume_refuses_other_model(tmp_path):
    cfg = _cfg(stages=[{"name": "a", "steps": 2, "lr": 1e-3, "warmup_steps": 1}], eval_batches=0)
    run = train(cfg, tmp_path / "r", progress=False)
    other = _cfg(stages=[{"name": "a", "steps": 2, "lr": 1e-3, "warmup_steps": 1}], eval_batches=0,
                 backend_config={"size": "tiny-xs"})
    with pytest.raises(ValueError, match="checkpoint is a tiny"):
        train(other, tmp_path / "r2", resume=run, progress=False)
