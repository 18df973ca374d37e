"""FSDP2 (``fsdp: true``): two CPU processes over gloo, the tiny backend at the micro size.

Checks that training runs sharded, that checkpoints and the export hold full tensors equal (to float
round-off) to a DDP run of the same config, and that resume is exact under FSDP.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import MICRO, free_port

from openbanana.backends.tiny import TinyBackend
from openbanana.pipeline_config import backend_dir
from openbanana.training.checkpoint import optimizer_from_files, optimizer_to_files
from openbanana.training.config import TrainConfig


def _launch(cfg: TrainConfig, tmp, out, resume=None) -> None:
    cfg_dir = tmp / f"cfg_{out.name}"
    cfg.save(cfg_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "openbanana.training", "--config", str(cfg_dir / "train_config.json"), "--out", str(out),
           "--no-progress", *(["--resume", str(resume)] if resume else [])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _cfg(fsdp: bool) -> TrainConfig:
    return TrainConfig.from_dict({
        "backend": "tiny", "backend_config": MICRO, "data_source": "toy", "resolution": 16, "batch_size": 4,
        "stages": [{"name": "a", "steps": 4, "lr": 1e-3, "warmup_steps": 1}], "ckpt_every": 2,
        "keep_checkpoints": 0, "eval_batches": 1, "log_every": 1, "fsdp": fsdp})


@pytest.mark.slow
def test_fsdp_two_process_cpu_run_export_and_exact_resume(tmp_path):
    fsdp, ddp, part = tmp_path / "fsdp", tmp_path / "ddp", tmp_path / "part"
    _launch(_cfg(True), tmp_path, fsdp)
    summary = json.loads((fsdp / "training_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4 and summary["ranks_in_sync"] is None
    # the exported pipeline loads in one process, holds full finite tensors
    exported = TinyBackend.from_pretrained(backend_dir(fsdp)).state_dict()
    fresh = TinyBackend.from_config(MICRO).state_dict()
    assert exported.keys() == fresh.keys()
    for k, v in exported.items():
        assert v.shape == fresh[k].shape and torch.isfinite(v).all(), k
    # the same run with DDP: same weights, EMA and optimiser state up to float round-off
    _launch(_cfg(False), tmp_path, ddp)
    ck_f, ck_d = fsdp / "checkpoints" / "step_0000004", ddp / "checkpoints" / "step_0000004"
    for name in ("model", "ema"):
        a, b = load_file(str(ck_f / f"{name}.safetensors")), load_file(str(ck_d / f"{name}.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].shape == b[k].shape and torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), (name, k)
    ddp_exported = TinyBackend.from_pretrained(backend_dir(ddp)).state_dict()
    assert all(torch.allclose(exported[k], ddp_exported[k], atol=1e-5, rtol=1e-4) for k in exported)
    assert not all(torch.equal(exported[k], fresh[k]) for k in exported)  # it did train
    # full optimiser state keyed by parameter name, one entry per trainable tensor
    opt = load_file(str(ck_f / "optimizer.safetensors"))
    assert {k.rsplit(".", 1)[0] for k in opt} == {f"backend.{k}" for k, _ in
                                                  TinyBackend.from_config(MICRO).named_parameters()}
    # exact resume: 4 steps == 2 steps + resume + 2 steps (bit-identical checkpoints and export)
    _launch(_cfg(True), tmp_path, part, resume=fsdp / "checkpoints" / "step_0000002")
    ck_p = part / "checkpoints" / "step_0000004"
    for name in ("model", "ema", "optimizer"):
        a, b = load_file(str(ck_f / f"{name}.safetensors")), load_file(str(ck_p / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    resumed = TinyBackend.from_pretrained(backend_dir(part)).state_dict()
    assert all(torch.equal(exported[k], resumed[k]) for k in exported)


def test_optimizer_files_round_trip_name_keys():
    # full FSDP optimiser state dicts key the state by dotted parameter name
    state = {"state": {"backend.net.0.weight": {"step": torch.tensor(3.0), "exp_avg": torch.ones(2, 2)},
                       "backend.b": {"step": torch.tensor(3.0), "exp_avg": torch.zeros(3)}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.99), "params": ["backend.net.0.weight", "backend.b"]}]}
    tensors, meta = optimizer_to_files(state)
    back = optimizer_from_files(tensors, json.loads(json.dumps(meta)))
    assert set(back["state"]) == {"backend.net.0.weight", "backend.b"}
    assert torch.equal(back["state"]["backend.net.0.weight"]["exp_avg"], torch.ones(2, 2))
    assert back["param_groups"][0]["betas"] == (0.9, 0.99)
    # index keys (plain optimizer.state_dict()) stay ints
    t2, m2 = optimizer_to_files({"state": {0: {"exp_avg": torch.ones(1)}}, "param_groups": []})
    assert list(optimizer_from_files(t2, m2)["state"]) == [0]
