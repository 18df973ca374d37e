"""DeepSpeed ZeRO stage 2 through ``accelerate launch``: two CPU processes over gloo.

The project's one training loop runs under ``configs/accelerate/deepspeed_zero2_cpu.yaml`` (ZeRO-2:
gradients and AdamW states partitioned between the processes) and must train exactly what the DDP
run of the same config trains (same seed, same global batch); its checkpoints hold full tensors
gathered from the partitions (safetensors + JSON, keyed like FSDP's), resume from them is exact,
and the exported pipeline loads through ``openbanana.load_model`` and predicts.

The first DeepSpeed launch on a machine JIT-compiles DeepSpeed's CPU shared-memory op (needs a C++
compiler; cached in ``~/.cache/torch_extensions``); training traffic goes through gloo either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (pip install deepspeed)")

from training_helpers import MICRO, free_port

import openbanana
from openbanana.backends.tiny import TinyBackend
from openbanana.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
ZERO2_CPU = ROOT / "configs" / "accelerate" / "deepspeed_zero2_cpu.yaml"


def _run(cfg: TrainConfig, tmp: Path, out: Path, *, zero2: bool, resume: Path | None = None) -> dict:
    """Two CPU processes: ZeRO-2 via ``accelerate launch``, else DDP via torchrun; the run's summary."""
    cfg_dir = tmp / f"cfg_{out.name}"
    cfg.save(cfg_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "DS_ACCELERATOR": "cpu"}
    if zero2:
        launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ZERO2_CPU),
                    "--main_process_port", str(free_port())]
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    "--master_port", str(free_port())]
    cmd = [*launcher, "-m", "openbanana.training", "--config", str(cfg_dir / "train_config.json"),
           "--out", str(out), "--no-progress", *(["--resume", str(resume)] if resume else [])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "training_summary.json").read_text())


def _files(ck: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(ck / f"{name}.safetensors"))


def _assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str, atol: float = 1e-6,
                  loose: dict[str, float] | None = None) -> None:
    """Equal up to float32 reduction order; names in ``loose`` get their own tolerance."""
    assert a.keys() == b.keys(), what
    for k, v in a.items():
        tol = (loose or {}).get(k, atol)
        assert v.shape == b[k].shape and torch.allclose(v, b[k], atol=tol, rtol=1e-5), (
            what, k, float((v - b[k]).abs().max()), tol)


def _noise_driven(steps: int, lr: float, prefix: str = "") -> dict[str, float]:
    """Parameters whose exact gradient is zero, with the tolerance the arithmetic allows them.

    A bias feeding a GroupNorm whose groups are single channels (``MICRO``: 16 channels, 16 groups)
    is removed by the normalisation, so its exact gradient is 0 and its computed gradient is
    rounding noise (~1e-12), which depends on the order in which the two ranks' gradients are
    summed: gloo's all-reduce under DDP, DeepSpeed's bucketed reduce-scatter under ZeRO-2. AdamW
    normalises that noise (``m / (sqrt(v) + eps)`` with ``eps = 1e-8``, the same size as the noise),
    so such a weight moves by a noise-driven amount of at most ``lr`` per step either way: the two
    runs may differ by up to ``2 * steps * lr`` there (seen: 1.3e-6 after 4 steps of 1e-3), while
    every other weight agrees to 1e-6. The set is found, not listed: one backward pass on a batch.
    """
    from training_helpers import MICRO as micro

    from openbanana.backends.base import Batch

    torch.manual_seed(0)
    m = TinyBackend.from_config(micro)
    with torch.no_grad():  # make every path live (zero-initialised layers hide the others' gradients)
        for p in m.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.05)
    g = torch.Generator().manual_seed(0)
    b = Batch(target=torch.rand(4, 3, 16, 16, generator=g) * 2 - 1, cond=torch.rand(4, 3, 16, 16, generator=g) * 2 - 1,
              has_cond=torch.ones(4, dtype=torch.bool), prompts=["a", "bb", "ccc", ""],
              one_step=torch.tensor([True, False, True, False]))
    m.training_loss(b).backward()
    scale = max(float(p.grad.abs().max()) for p in m.parameters() if p.grad is not None)
    return {f"{prefix}{n}": 2.0 * steps * lr for n, p in m.named_parameters()
            if p.grad is None or float(p.grad.abs().max()) <= 1e-6 * scale}


def _losses(summary: dict) -> list[float]:
    """The smoothed training loss and every held-out loss at the end of each stage."""
    out = []
    for h in summary["history"]:
        if h["event"] == "stage_end":
            out.append(h["train_loss_smooth"])
            out += [v for r in h["heldout"].values() for v in r.values()]
    return out


@pytest.mark.slow
def test_zero2_two_cpu_processes_match_ddp_resume_exactly_and_export(tmp_path):
    cfg = TrainConfig.from_dict({
        "backend": "tiny", "backend_config": MICRO, "data_source": "toy", "resolution": 16, "batch_size": 4,
        "stages": [{"name": "a", "steps": 4, "lr": 1e-3, "warmup_steps": 1}], "ckpt_every": 2,
        "keep_checkpoints": 0, "eval_batches": 1, "log_every": 1})
    zero, ddp, part = tmp_path / "zero2", tmp_path / "ddp", tmp_path / "part"
    s_zero = _run(cfg, tmp_path, zero, zero2=True)
    assert s_zero["world_size"] == 2 and s_zero["steps"] == 4 and s_zero["images_seen"] == 4 * 4 * 2
    assert s_zero["ranks_in_sync"] is True  # ZeRO-2 partitions gradients and optimiser state, not weights
    s_ddp = _run(cfg, tmp_path, ddp, zero2=False)
    # same seed and global batch: the same losses, weights, EMA and AdamW state as DDP
    assert np.allclose(_losses(s_zero), _losses(s_ddp), rtol=1e-5, atol=1e-6)
    ck_z, ck_d = zero / "checkpoints" / "step_0000004", ddp / "checkpoints" / "step_0000004"
    loose = _noise_driven(steps=4, lr=1e-3)
    assert loose and all("bias" in k for k in loose), loose  # only biases removed by a normalisation
    for name in ("model", "ema"):
        _assert_close(_files(ck_z, name), _files(ck_d, name), name, loose=loose)
    fresh = TinyBackend.from_config(MICRO)
    names = [f"backend.{n}" for n, p in fresh.named_parameters() if p.requires_grad]  # DDP's index order
    opt_d = {f"{names[int(k.split('.', 1)[0])]}.{k.split('.', 1)[1]}": v for k, v in _files(ck_d, "optimizer").items()}
    opt_z = _files(ck_z, "optimizer")  # gathered from the two partitions, keyed by parameter name
    assert {k.rsplit(".", 1)[1] for k in opt_z} == {"exp_avg", "exp_avg_sq", "step"}
    _assert_close(opt_z, opt_d, "optimizer")
    assert all(float(v) == 4.0 for k, v in opt_z.items() if k.endswith(".step"))
    # exact resume from the step-2 checkpoint: bit-identical step-4 checkpoint
    _run(cfg, tmp_path, part, zero2=True, resume=zero / "checkpoints" / "step_0000002")
    ck_p = part / "checkpoints" / "step_0000004"
    for name in ("model", "ema", "optimizer"):
        a, b = _files(ck_z, name), _files(ck_p, name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    # the exported pipeline (EMA weights) loads and predicts
    exported = TinyBackend.from_pretrained(zero / "backend").state_dict()
    assert not all(torch.equal(v, fresh.state_dict()[k]) for k, v in exported.items())  # it trained
    pipe = openbanana.load_model(zero)
    rgb = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    depth_m = np.asarray(pipe.predict(rgb, task="depth").answer)
    assert depth_m.shape == (20, 24) and np.isfinite(depth_m).all()


@pytest.mark.slow
def test_zero2_flux2_klein_lora_matches_ddp_and_loads(tmp_path):
    pytest.importorskip("diffusers")
    pytest.importorskip("peft")
    from openbanana.backends.flux2_klein import LORA_WEIGHTS_NAME, Flux2KleinConfig
    from openbanana.backends.flux2_random import OUT_LAYERS, save_random_pipeline

    base = save_random_pipeline(tmp_path / "base", "tiny", seed=0)
    backend_cfg = Flux2KleinConfig(pretrained=str(base), finetune="lora", lora_rank=4, lora_alpha=8.0, bf16=False,
                                   gradient_checkpointing=True, text_encoder_out_layers=OUT_LAYERS["tiny"],
                                   max_sequence_length=24)
    cfg = TrainConfig.from_dict({
        "backend": "flux2-klein", "backend_config": asdict(backend_cfg), "data_source": "toy", "resolution": 32,
        "batch_size": 2, "mixed_precision": "no", "num_workers": 0,
        "stages": [{"name": "instruct", "data": {"vision_share": 0.5}, "steps": 3, "lr": 1e-3, "warmup_steps": 1}],
        "ckpt_every": 0, "keep_checkpoints": 1, "eval_batches": 1, "log_every": 1})
    zero, ddp = tmp_path / "zero2", tmp_path / "ddp"
    s_zero = _run(cfg, tmp_path, zero, zero2=True)
    s_ddp = _run(cfg, tmp_path, ddp, zero2=False)
    assert s_zero["world_size"] == 2 and s_zero["steps"] == 3 and s_zero["ranks_in_sync"] is True
    assert np.allclose(_losses(s_zero), _losses(s_ddp), rtol=1e-5, atol=1e-6)
    ck_z, ck_d = zero / "checkpoints" / "step_0000003", ddp / "checkpoints" / "step_0000003"
    for name in ("model", "ema"):
        a, b = _files(ck_z, name), _files(ck_d, name)
        assert a and all("lora_" in k for k in a)  # only the adapters train and are checkpointed
        _assert_close(a, b, name)
    opt = _files(ck_z, "optimizer")
    assert {k.rsplit(".", 1)[0] for k in opt} == {f"backend.{k}" for k in _files(ck_z, "model")}
    # the exported pipeline holds the adapters in diffusers' format and predicts through load_model
    assert (zero / "backend" / LORA_WEIGHTS_NAME).is_file()
    pipe = openbanana.load_model(zero)
    rgb = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    pred = pipe.predict(rgb, task="depth")
    depth_m = np.asarray(pred.answer)
    valid = np.ones(depth_m.shape, bool) if pred.valid is None else pred.valid
    assert depth_m.shape == (32, 32) and valid.any() and np.isfinite(depth_m[valid]).all()
