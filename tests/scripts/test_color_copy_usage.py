"""scripts/color_copy_usage.py measures how much a model's colour-copy head copies, per task."""

from __future__ import annotations

import json

import pytest
import torch
from micro_pipeline import micro_pipeline
from script_loader import load_script

usage = load_script("color_copy_usage")

def _pipe(color_copy: int):
    return micro_pipeline(16, color_copy=color_copy)


def test_keep_weights_follow_the_head():
    pipe = _pipe(4)
    with torch.no_grad():
        fresh = usage.keep_weights(pipe, "semantic", n=2)
        assert len(fresh) == 2 and fresh[0].shape == (16, 16)
        assert all(0.99 < float(k.min()) < 1.0 for k in fresh)  # a new head keeps (keep logit 9)
        pipe.backend.net.copy.keep_bias.fill_(-60.0)
        assert all(float(k.max()) < 1e-6 for k in usage.keep_weights(pipe, "semantic", n=2))  # always copies
        assert all(float(k.min()) == 1.0 for k in usage.keep_weights(pipe, "depth", n=2))  # nothing named
    with pytest.raises(ValueError, match="no colour-copy head"):
        usage.keep_weights(_pipe(0), "semantic", n=1)


def test_command_line(tmp_path, capsys):
    model = _pipe(4).save_pretrained(tmp_path / "model")
    assert usage.main(["--model", str(model), "--n", "2", "--tasks", "semantic,depth"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines[:2]]
    assert [r["task"] for r in rows] == ["semantic", "depth"] and rows[1]["mean_keep"] == 1.0
    assert "| semantic | 2 |" in "\n".join(lines)
    plain = _pipe(0).save_pretrained(tmp_path / "plain")
    for bad in (["--tasks", "colour"], ["--n", "0"], ["--model", str(tmp_path)], ["--model", str(plain)]):
        with pytest.raises(SystemExit) as e:
            usage.main(bad)
        assert e.value.code == 2
