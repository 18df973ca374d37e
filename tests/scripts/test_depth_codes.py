"""scripts/depth_codes.py asks a pipeline for depth in each colour code and scores it as the benchmark does."""

from __future__ import annotations

import json

import pytest
import torch
from script_loader import load_script

from openbanana.backends.text import TextEncoderConfig
from openbanana.backends.tiny import TinyBackend, TinyConfig
from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
from openbanana.evaluation.runner import EvalOptions, evaluate
from openbanana.pipeline import OpenBananaPipeline
from openbanana.pipeline_config import PipelineConfig

depth_codes = load_script("depth_codes")


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    cfg = TinyConfig(channels=8, channel_mults=(1, 2), num_res_blocks=1, attn_levels=(1,), heads=2, emb_dim=32,
                     text=TextEncoderConfig(dim=32, layers=1, heads=2))
    return OpenBananaPipeline(TinyBackend(cfg), PipelineConfig(backend="tiny", resolution=16))


class Recorder:
    """The real pipeline, remembering the colour code of every call."""

    def __init__(self, pipe):
        self.pipe, self.resolution, self.codes = pipe, pipe.resolution, []

    def _check(self, instructions, code):
        self.codes.append(code)
        assert code == "paper" or all(i.endswith(f"Use the {code} colormap.") for i in instructions)

    def __call__(self, images, **kw):  # a batch
        self._check(kw["instruction"], kw["colormap"])
        return self.pipe(images, **kw)

    def predict(self, image, instruction=None, **kw):  # a batch of one
        self._check([instruction], kw["colormap"])
        return self.pipe.predict(image, instruction=instruction, **kw)


def test_paper_code_scores_as_the_benchmark_and_each_code_is_asked(pipe):
    rec = Recorder(pipe)
    rows = depth_codes.score_codes(rec, ["paper", "grayscale"], n=3, batch_size=2)
    assert [r["code"] for r in rows] == ["paper", "grayscale"] and all(r["n"] == 3 for r in rows)
    assert rec.codes == ["paper", "paper", "grayscale", "grayscale"]  # 3 scenes: a batch of 2, then 1
    opts = EvalOptions(limit=3, grid=0, tasks=("depth",), benchmark=BenchmarkOptions(synthetic_size=16))
    bench, _ = evaluate(pipe, BENCHMARKS.get("synthetic-val"), opts, progress=False)
    assert rows[0]["delta1"] == pytest.approx(bench["metrics"]["depth"]["delta1"], abs=1e-12)
    assert rows[0]["abs_rel"] == pytest.approx(bench["metrics"]["depth"]["abs_rel"], abs=1e-12)
    assert rows[1]["delta1"] != rows[0]["delta1"]
    assert rows[1]["n"] == 3


def test_command_line(pipe, tmp_path, capsys):
    model = pipe.save_pretrained(tmp_path / "model")
    assert depth_codes.main(["--model", str(model), "--n", "2", "--codes", "paper,plasma"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["code"] for line in lines[:2]] == ["paper", "plasma"]
    assert "| code | depth delta1 | AbsRel | RMSE (m) |" in lines
    for bad in (["--codes", "jet"], ["--n", "0"], ["--model", str(tmp_path)]):
        with pytest.raises(SystemExit) as e:
            depth_codes.main(bad)
        assert e.value.code == 2
