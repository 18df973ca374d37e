"""scripts/depth_scale.py: per-scene medians, ratios and the scale slope of a model's metric depth."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from script_loader import load_script

from openbanana.backends.text import TextEncoderConfig
from openbanana.backends.tiny import TinyBackend, TinyConfig
from openbanana.data.synthetic.generate import render_scene
from openbanana.pipeline import OpenBananaPipeline
from openbanana.pipeline_config import PipelineConfig

depth_scale = load_script("depth_scale")


def test_scale_slope():
    t = np.array([1.0, 2.0, 4.0, 8.0])
    assert depth_scale.scale_slope(t, 3 * t) == pytest.approx(1.0)
    assert depth_scale.scale_slope(t, np.full(4, 2.5)) == pytest.approx(0.0, abs=1e-12)
    assert depth_scale.scale_slope(t, np.sqrt(t)) == pytest.approx(0.5)
    assert np.isnan(depth_scale.scale_slope(np.ones(3), t[:3]))


class TwiceTheTruth:
    """A pipeline answering every scene's true depth times 2 (scenes in the order asked)."""

    resolution = 16

    def __init__(self, n):
        self.depths = [render_scene(i, split="val", size=16).depth_m for i in range(n)]
        self.calls = 0

    def __call__(self, images, task, batch_size):
        assert task == "depth"
        preds = []
        for _ in images:
            d = self.depths[self.calls]
            preds.append(SimpleNamespace(answer=np.where(np.isfinite(d), 2 * d, 1.0).astype(np.float32)))
            self.calls += 1
        return SimpleNamespace(predictions=preds)


def test_per_scene_rows_and_summary_of_a_known_answer():
    pipe = TwiceTheTruth(5)
    rows = depth_scale.per_scene(pipe, n=5, batch_size=2)
    assert pipe.calls == 5 and [r["scene"] for r in rows] == list(range(5))
    for r in rows:
        assert r["ratio"] == pytest.approx(2.0, abs=1e-3)
        assert r["delta1"] == 0.0 and r["delta1_scale"] == 1.0  # twice too far; exact once scaled
    summary = depth_scale.summarise(rows)
    assert summary[0]["kind"] == "all" and summary[0]["n"] == 5
    seen = []
    depth_scale.per_scene(TwiceTheTruth(2), n=2, batch_size=2, shown=lambda rgb: seen.append(rgb) or rgb // 2)
    assert len(seen) == 2 and seen[0].dtype == np.uint8
    assert summary[0]["slope"] == pytest.approx(1.0, abs=1e-3)
    assert sum(s["n"] for s in summary[1:]) == 5


def test_command_line(tmp_path, capsys):
    torch.manual_seed(0)
    cfg = TinyConfig(channels=8, channel_mults=(1, 2), num_res_blocks=1, attn_levels=(1,), heads=2, emb_dim=32,
                     text=TextEncoderConfig(dim=32, layers=1, heads=2))
    model = OpenBananaPipeline(TinyBackend(cfg), PipelineConfig(backend="tiny", resolution=16)).save_pretrained(
        tmp_path / "model")
    assert depth_scale.main(["--model", str(model), "--n", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["scene"] for line in lines[:3]] == [0, 1, 2]
    assert json.loads(lines[3])["kind"] == "all"
    assert any(line.startswith("| all | 3 |") for line in lines)
    assert depth_scale.main(["--model", str(model), "--n", "2", "--grey-world"]) == 0
    assert any(line.startswith("| all | 2 |") for line in capsys.readouterr().out.splitlines())
    for bad in (["--n", "1"], ["--model", str(tmp_path)], ["--split", "train"]):
        with pytest.raises(SystemExit) as e:
            depth_scale.main(bad)
        assert e.value.code == 2
