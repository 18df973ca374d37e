"""scripts/prompt_objects.py: the judge's table for a model's text-to-image samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from micro_pipeline import micro_pipeline
from script_loader import load_script

po = load_script("prompt_objects")


def test_samples_are_seeded_per_batch():
    pipe = micro_pipeline(resolution=16)
    for p in pipe.backend.parameters():  # a net whose samples depend on their noise
        p.data.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    a = po.samples(pipe, ["a kitchen"] * 3, steps=1, seed=4, batch_size=2)
    b = po.samples(pipe, ["a kitchen"] * 3, steps=1, seed=4, batch_size=2)
    assert a.shape == (3, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[2])  # the second batch has its own noise


def test_command_line_trains_a_judge_once_and_prints_three_rows(tmp_path, capsys):
    model = micro_pipeline(resolution=32).save_pretrained(tmp_path / "model")
    argv = ["--model", str(model), "--n", "3", "--steps", "1", "--judge", str(tmp_path / "judge"),
            "--train-scenes", "8", "--epochs", "1"]
    assert po.main(argv) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["pictures"] for r in rows] == ["val renders (ceiling)", "model samples",
                                             "model samples, another scene's prompt (floor)"]
    assert all(0 <= r[k] <= 1 for r in rows for k in ("place_accuracy", "object_recall", "object_precision"))
    assert "judge trained and saved" in err and (tmp_path / "judge" / "judge.safetensors").is_file()
    assert po.main(argv) == 0  # the second time the judge is read back, not trained
    out2, err2 = capsys.readouterr()
    assert "judge: " in err2 and out2 == out
    for bad in (["--model", str(model), "--n", "1"], ["--model", str(tmp_path)],
                ["--model", str(model), "--epochs", "0", "--judge", str(tmp_path / "other")]):
        with pytest.raises(SystemExit) as e:
            po.main(bad)
        assert e.value.code == 2
