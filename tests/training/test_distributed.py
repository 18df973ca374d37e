"""A two-process CPU run (DDP over gloo) with the same code as one process."""

import json
import os
import subprocess
import sys

import pytest
from training_helpers import MICRO, free_port

from openbanana.training.config import TrainConfig


@pytest.mark.slow
def test_two_process_cpu_run(tmp_path):
    cfg = TrainConfig.from_dict({
        "backend": "tiny", "backend_config": MICRO, "data_source": "toy", "resolution": 16, "batch_size": 4,
        "fresh_per_step": 2, "replay_capacity": 16,
        "stages": [{"name": "a", "steps": 3, "lr": 1e-3, "warmup_steps": 1}], "ckpt_every": 2, "eval_batches": 1})
    cfg.save(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "openbanana.training", "--config", str(tmp_path / "train_config.json"), "--out", str(tmp_path / "run"),
           "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "training_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["ranks_in_sync"] is True
    assert summary["steps"] == 3 and summary["images_seen"] == 3 * 4 * 2 and summary["unique_samples"] == 3 * 2 * 2
    ck = tmp_path / "run" / "checkpoints" / "step_0000003"
    assert (ck / "rng_rank0.safetensors").is_file() and (ck / "rng_rank1.safetensors").is_file()
    assert (tmp_path / "run" / "pipeline.json").is_file()
