"""The report's numbers: t-intervals and paired differences on known values; the Markdown and plots
from hand-made run records (no training)."""

from __future__ import annotations

import json
import math

import pytest

from openbanana.experiments.pretraining_ablation import TASK_METRICS
from openbanana.experiments.report import (
    load_runs,
    markdown,
    paired_difference,
    summarize,
    t_interval,
    verdict,
    write_report,
)
from openbanana.experiments.runner import run_path, write_json


def test_t_interval_known_numbers():
    iv = t_interval([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.302653
    assert iv.mean == pytest.approx(2.0) and iv.n == 3
    assert iv.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert (iv.low, iv.high) == pytest.approx((2.0 - 2.484138, 2.0 + 2.484138), rel=1e-6)
    iv = t_interval([0.30, 0.34, 0.32, None, float("nan")])  # missing values left out
    assert iv.n == 3 and iv.mean == pytest.approx(0.32)
    assert iv.half_width == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-6)
    five = t_interval([10, 12, 11, 13, 14])  # sd 1.5811, t(0.975, 4) = 2.776445
    assert five.half_width == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert t_interval([0.5, 0.5]).half_width == 0.0


def test_t_interval_too_few():
    one = t_interval([0.7])
    assert one.mean == 0.7 and math.isnan(one.half_width) and one.format() == "0.700 (1 seed)"
    none = t_interval([None])
    assert none.n == 0 and none.format() == "n/a"
    assert t_interval([1.0, 2.0, 3.0]).format(2) == "2.00 ± 2.48"


def test_paired_difference_and_verdict():
    d = paired_difference([0.5, 0.6, 0.7], [0.3, 0.42, 0.48])  # differences 0.2, 0.18, 0.22
    assert d.mean == pytest.approx(0.2) and d.n == 3
    assert d.half_width == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-6)
    assert verdict(d, "depth_delta1") == "pretraining helps"
    assert verdict(d, "normals_mean_deg") == "pretraining hurts"  # degrees: lower is better
    assert verdict(paired_difference([1, 2, 3], [2, 1, 3]), "depth_delta1") == "no detectable difference"
    assert verdict(paired_difference([1.0], [0.0]), "depth_delta1").startswith("n/a")
    assert paired_difference([1.0, None], [0.5, 0.2]).n == 1


def _run(arm, family, seed, value, *, tasks=tuple(TASK_METRICS), share=0.75, curve=()):
    scores = {m: value + 0.01 * seed for m in TASK_METRICS.values()}
    return {"arm": arm, "family": family, "seed": seed, "job": f"{arm}-{seed}", "budget": "quick", "tasks": list(tasks),
            "vision_share": share, "steps": 8, "pretrain_steps": 4 if arm == "pretrained" else 0,
            "pretrain_fraction": 1.0 if arm == "pretrained" else 0.0,
            "scores": {"val": scores, "shift": {k: v / 2 for k, v in scores.items()}},
            "generation_loss": {"before": 1.0, "after": 0.9, "samples_after": f"train/{arm}/samples.png"},
            "compute": {"instruct_minutes": 1.0, "total_minutes": 2.0, "instruct_images": 64,
                        "vision_samples_expected": 48, "total_images": 128},
            "curve": [{"step": s, "total_images": 16 * s, "val": scores} for s in curve]}


def _write(tmp_path, runs):
    for r in runs:
        write_json(run_path(tmp_path, r["arm"], r["seed"]), r)


def test_summary_markdown_and_plots(tmp_path):
    runs = []
    for seed in range(3):
        runs += [_run("pretrained", "generalist", seed, 0.5, curve=(4, 8)),
                 _run("scratch", "generalist", seed, 0.3, curve=(4, 8)),
                 _run("share-10", "vision-share", seed, 0.4, share=0.1),
                 _run("specialist-depth", "specialist", seed, 0.6, tasks=("depth",))]
    _write(tmp_path, runs)
    loaded = load_runs(tmp_path)
    assert len(loaded) == 12
    s = summarize(loaded, ["pretrained", "scratch", "share-10", "specialist-depth", "specialists"])
    assert s["arms"] == ["pretrained", "scratch", "share-10", "specialist-depth", "specialists"]
    iv = s["scores"]["pretrained"]["val"]["depth"]
    assert iv["mean"] == pytest.approx(0.51) and iv["n"] == 3
    assert s["scores"]["specialist-depth"]["val"]["normals"]["n"] == 0  # not its task
    assert s["scores"]["specialists"]["val"]["depth"]["mean"] == pytest.approx(0.61)
    diff = s["differences"]["scratch"]["val"]["depth"]
    assert diff["mean"] == pytest.approx(0.2) and diff["high"] - diff["low"] == pytest.approx(0.0, abs=1e-9)
    md = markdown(s, loaded)
    assert "## Scores on synthetic shift" in md and "0.510 ± 0.025" in md
    assert "| specialists | 0.610 ± 0.025 |" in md
    report = write_report(tmp_path)
    text = report.read_text()
    assert "Pretrained minus other arms" in text
    for plot in ("vision_share.png", "pretrain_compute.png", "score_vs_compute.png"):
        assert (tmp_path / "plots" / plot).stat().st_size > 1000
        assert f"plots/{plot}" in text
    summary = json.loads((tmp_path / "summary.json").read_text())  # strict JSON: no NaN
    assert summary["scores"]["specialist-depth"]["val"]["normals"]["mean"] is None


def test_report_without_runs(tmp_path):
    with pytest.raises(ValueError, match="no runs"):
        write_report(tmp_path)
