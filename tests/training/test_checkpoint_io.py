import json
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from openbanana.training.checkpoint import (
    MANIFEST_KEY,
    STATE_FILE,
    CheckpointError,
    checkpoint_dir,
    expected_files,
    latest_checkpoint,
    load_checkpoint,
    optimizer_from_files,
    optimizer_to_files,
    prune_checkpoints,
    resumable_checkpoint,
    save_checkpoint,
    verify_checkpoint,
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


def _write(run, step, **kw):
    """A small real checkpoint of ``run`` at ``step`` (every file, committed)."""
    m, opt = _opt_with_state()
    return save_checkpoint(checkpoint_dir(run, step), model_state=m.state_dict(), ema_state={"w": torch.ones(2)},
                           optimizer_state=opt.state_dict(), generators={"noise": torch.Generator()},
                           state={"step": step, "world_size": 1}, **kw)


def test_latest_and_prune(tmp_path):
    for s in (1, 2, 3):
        _write(tmp_path, s)
    (tmp_path / "checkpoints" / "step_0000004").mkdir()  # incomplete: no state.json
    assert latest_checkpoint(tmp_path).name == "step_0000003"
    prune_checkpoints(tmp_path, keep=1)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_0000003", "step_0000004"]
    with pytest.raises(FileNotFoundError):
        latest_checkpoint(tmp_path / "nothing")


def test_writes_are_aside_synced_and_listed_in_state_json(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")
                                                              if os.path.exists("/proc/self/fd") else fd)
                        or real_fsync(fd))
    d = _write(tmp_path, 5)
    state = json.loads((d / STATE_FILE).read_text())
    assert set(state[MANIFEST_KEY]) == set(expected_files(1))
    for name, rec in state[MANIFEST_KEY].items():
        assert rec["bytes"] == (d / name).stat().st_size and len(rec["sha256"]) == 64
    assert not list(d.glob(".tmp-*"))  # nothing left beside the files
    if os.path.exists("/proc/self/fd"):
        names = [Path(s).name for s in synced]
        assert names.count(d.name) >= 2  # the folder: after the files and after state.json
        assert any(n.startswith(".tmp-state.json") for n in names)  # state.json synced before its rename
    assert verify_checkpoint(d)["step"] == 5
    assert load_checkpoint(d)["state"] == {"step": 5, "world_size": 1}  # the list stays out of the state


def _flip_last_byte(p):
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda d: (d / STATE_FILE).write_bytes(b""), r"state\.json: empty file \(0 bytes\)"),
    (lambda d: (d / STATE_FILE).write_text('{"step": 6, "wor'), r"state\.json: not valid JSON"),
    (lambda d: (d / STATE_FILE).unlink(), r"state\.json: missing"),
    (lambda d: os.truncate(d / "model.safetensors", 100), r"model\.safetensors: 100 bytes, state\.json recorded"),
    (lambda d: (d / "optimizer.safetensors").unlink(), r"optimizer\.safetensors: missing"),
    (lambda d: (d / "optimizer.json").write_text("{"), r"optimizer\.json: 1 bytes, state\.json recorded"),
    (lambda d: (d / "rng_rank0.json").write_text(" " * (d / "rng_rank0.json").stat().st_size),
     r"rng_rank0\.json: not valid JSON"),
    (lambda d: _flip_last_byte(d / "ema.safetensors"), r"ema\.safetensors: contents differ from the SHA-256"),
])
def test_a_damaged_newest_checkpoint_is_skipped_with_one_line(tmp_path, damage, reason):
    _write(tmp_path, 2)
    bad = _write(tmp_path, 4)
    damage(bad)
    with pytest.raises(CheckpointError, match=reason):
        verify_checkpoint(bad)
    lines = []
    assert resumable_checkpoint(tmp_path, warn=lines.append).name == "step_0000002"
    assert len(lines) == 1 and "skipped checkpoint step_0000004" in lines[0] and "step_0000002" in lines[0]
    assert re.search(reason, lines[0]) and str(bad) in lines[0]
    # named directly, a damaged checkpoint is refused with the file and the reason, not replaced
    with pytest.raises(CheckpointError, match=reason):
        resumable_checkpoint(bad)


def test_torn_safetensors_without_a_recorded_size_fails_on_its_header(tmp_path):
    d = _write(tmp_path, 1)
    state = json.loads((d / STATE_FILE).read_text())
    del state[MANIFEST_KEY]  # a checkpoint of the code before the list: headers are still checked
    (d / STATE_FILE).write_text(json.dumps(state))
    assert verify_checkpoint(d)["step"] == 1 and load_checkpoint(d)["state"]["step"] == 1
    size = (d / "model.safetensors").stat().st_size
    os.truncate(d / "model.safetensors", size - 1)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: .* bytes, but its header describes .*truncated"):
        verify_checkpoint(d)
    os.truncate(d / "model.safetensors", 4)
    with pytest.raises(CheckpointError, match="no safetensors header"):
        load_checkpoint(d)


def test_no_good_checkpoint_lists_every_reason(tmp_path):
    d = _write(tmp_path, 1)
    (d / STATE_FILE).write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"no complete checkpoint in .*step_0000001: .*empty file"):
        resumable_checkpoint(tmp_path)


def test_writing_a_checkpoint_again_uncommits_it_first(tmp_path, monkeypatch):
    d = _write(tmp_path, 3)
    import openbanana.training.checkpoint as ckpt

    def crash(tensors, path):
        if "ema" in str(path):
            raise OSError("disk full")
        return real(tensors, path)

    real = ckpt.save_file
    monkeypatch.setattr(ckpt, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path, 3)
    assert not (d / STATE_FILE).exists()  # the half-rewritten folder is not a checkpoint any more
    assert not list(d.glob(".tmp-*"))
    assert (d / "ema.safetensors").is_file()  # the old file is still whole (written aside, never torn)


def test_prune_removes_half_written_folders_older_than_the_newest_good_one(tmp_path):
    for s in (1, 2, 3, 5, 6):
        _write(tmp_path, s)
    (checkpoint_dir(tmp_path, 2) / STATE_FILE).unlink()  # interrupted before its commit
    os.truncate(checkpoint_dir(tmp_path, 3) / "model.safetensors", 10)  # torn
    (checkpoint_dir(tmp_path, 5) / ".tmp-model.safetensors.123").write_bytes(b"x")  # a crash's leftover
    (checkpoint_dir(tmp_path, 7)).mkdir()  # newer than every good one: maybe being written, kept
    os.truncate(checkpoint_dir(tmp_path, 6) / "ema.safetensors", 10)  # the newest is torn too
    prune_checkpoints(tmp_path, keep=0)  # keep every good one, still drop the broken older ones
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "step_0000001", "step_0000005", "step_0000006", "step_0000007"]
    assert not list(checkpoint_dir(tmp_path, 5).glob(".tmp-*"))
    prune_checkpoints(tmp_path, keep=1)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "step_0000005", "step_0000006", "step_0000007"]
