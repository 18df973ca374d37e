"""Exact resume: N steps straight == k steps, checkpoint, resume, N - k steps (bit-identical); a torn
newest checkpoint falls back to the previous one; kill -9 at a random step, then --resume."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from openbanana.training.checkpoint import verify_checkpoint
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


# ---------------------------------------------------------------------------- torn checkpoints
def _fallback_cfg() -> TrainConfig:
    return _cfg(eval_batches=0)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """6 steps straight, a checkpoint every 2 (steps 2, 4, 6)."""
    return train(_fallback_cfg(), tmp_path_factory.mktemp("uninterrupted") / "run", progress=False)


def _tensors_equal(a_dir, b_dir, name):
    a, b = load_file(str(a_dir / name)), load_file(str(b_dir / name))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _same_weights_file(a, b) -> bool:
    """The same header (as JSON: safetensors writes ``__metadata__`` in a random key order) and the
    same tensor bytes."""
    ra, rb = a.read_bytes(), b.read_bytes()
    na, nb = int.from_bytes(ra[:8], "little"), int.from_bytes(rb[:8], "little")
    return json.loads(ra[8:8 + na]) == json.loads(rb[8:8 + nb]) and ra[8 + na:] == rb[8 + nb:]


@pytest.mark.slow
@pytest.mark.parametrize(("damage", "reason"), [
    (lambda d: (d / "state.json").write_bytes(b""), "state.json: empty file (0 bytes)"),
    (lambda d: os.truncate(d / "model.safetensors", (d / "model.safetensors").stat().st_size // 2),
     "model.safetensors: "),
    (lambda d: (d / "optimizer.safetensors").unlink(), "optimizer.safetensors: missing"),
], ids=["empty-state-json", "truncated-model", "missing-optimizer"])
def test_resume_falls_back_past_a_torn_newest_checkpoint(tmp_path, capsys, uninterrupted, damage, reason):
    # a run killed while writing step 4: step 2 is whole, step 4 is torn
    run = tmp_path / "run"
    for step in (2, 4):
        shutil.copytree(uninterrupted / "checkpoints" / f"step_{step:07d}", run / "checkpoints" / f"step_{step:07d}")
    damage(run / "checkpoints" / "step_0000004")
    capsys.readouterr()
    train(_fallback_cfg(), run, resume=run, progress=False)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("resume:")]
    assert len(err) == 1, err
    assert "skipped checkpoint step_0000004" in err[0] and reason in err[0] and "falling back to step_0000002" in err[0]
    # the resumed run went on from step 2 exactly: it rewrote step 4 whole and ends where the straight run did
    for step in (4, 6):
        a, b = uninterrupted / "checkpoints" / f"step_{step:07d}", run / "checkpoints" / f"step_{step:07d}"
        verify_checkpoint(b)
        for name in ("model.safetensors", "ema.safetensors", "optimizer.safetensors"):
            assert _tensors_equal(a, b, name), (step, name)
    assert _same_weights_file(run / "backend" / "model.safetensors", uninterrupted / "backend" / "model.safetensors")


@pytest.mark.slow
def test_resume_from_a_named_torn_checkpoint_says_which_file(tmp_path, capsys, uninterrupted):
    from openbanana.cli import main

    ck = tmp_path / "step_0000004"
    shutil.copytree(uninterrupted / "checkpoints" / "step_0000004", ck)
    (ck / "state.json").write_bytes(b"")
    _fallback_cfg().save(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--config", str(tmp_path / "train_config.json"), "--out", str(tmp_path / "out"),
              "--resume", str(ck), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot resume from {ck}: {ck / 'state.json'}: empty file (0 bytes)"), err
    assert "\n" not in err


# ---------------------------------------------------------------------------- kill -9, then --resume
def _losses(run) -> dict[int, list[float]]:
    """Every ``train/loss`` value logged to TensorBoard by every process that wrote to ``run/tb``."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out: dict[int, list[float]] = {}
    for f in sorted((run / "tb").glob("events.*")):
        for ev in EventFileLoader(str(f)).Load():
            for v in ev.summary.value:
                if v.tag == "train/loss":
                    out.setdefault(ev.step, []).append(v.tensor.float_val[0] if v.HasField("tensor") else v.simple_value)
    return out


@pytest.mark.slow
def test_kill_9_at_a_random_step_then_resume_equals_the_uninterrupted_run(tmp_path):
    """One process, the CLI as a user runs it: kill -9 at a step drawn at random (seeded) while
    checkpoints are written every step, then ``--resume`` the run folder: the losses logged after
    the resume and the final weights equal those of a run that was never interrupted, byte for byte."""
    steps = 14
    cfg = _cfg(eval_batches=0, ckpt_every=1, keep_checkpoints=3,
               stages=[{"name": "a", "data": {"vision_share": 0.0}, "steps": 7, "lr": 1e-3, "warmup_steps": 1},
                       {"name": "b", "data": {"vision_share": 0.5}, "steps": 7, "lr": 5e-4, "warmup_steps": 1}])
    cfg.save(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}

    def cmd(out, *extra):
        return [sys.executable, "-m", "openbanana.training", "--config", str(tmp_path / "train_config.json"),
                "--out", str(out), "--no-progress", *extra]

    straight = tmp_path / "straight"
    subprocess.run(cmd(straight), env=env, check=True, capture_output=True, timeout=600)

    rng = random.Random(16)
    kill_after = rng.randint(2, steps - 4)  # the checkpoint that must exist when the kill lands
    run = tmp_path / "killed"
    proc = subprocess.Popen(cmd(run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = run / "checkpoints" / f"step_{kill_after:07d}" / "state.json"
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.05))  # anywhere in the following step(s), a checkpoint write included
    assert proc.poll() is None, "the run ended before the kill; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (run / "training_summary.json").exists()

    resumed = subprocess.run(cmd(run, "--resume", str(run)), env=env, capture_output=True, text=True, timeout=600,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    want, got = _losses(straight), _losses(run)
    assert sorted(want) == list(range(1, steps + 1))
    assert set(got) <= set(want) and max(got) == steps
    for step, values in got.items():  # the killed process's and the resumed one's, wherever both logged
        assert all(v == want[step][0] for v in values), (step, values, want[step])
    for name in ("model.safetensors", "ema.safetensors", "optimizer.safetensors"):
        a = (straight / "checkpoints" / f"step_{steps:07d}" / name).read_bytes()
        assert a == (run / "checkpoints" / f"step_{steps:07d}" / name).read_bytes(), name
    assert _same_weights_file(straight / "backend" / "model.safetensors", run / "backend" / "model.safetensors")
    summary = json.loads((run / "training_summary.json").read_text())
    assert summary["steps"] == steps and summary["unique_samples"] == steps * 4
