"""The runner: the quick budget end to end (train, score, report), finished runs skipped, a killed job
resumed exactly from its checkpoint, an occupied --out refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from openbanana.experiments import runner
from openbanana.experiments.pretraining_ablation import make_plan
from openbanana.experiments.report import write_report
from openbanana.model_card import CARD_METRICS
from openbanana.training.config import TrainConfig
from openbanana.training.loop import train

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "default-cpu.json"


def _no_training(*args, **kwargs):
    raise AssertionError("a finished run was trained again")


@pytest.mark.slow
def test_quick_budget_end_to_end(tmp_path, monkeypatch):
    plan = make_plan("quick", BASE)
    lines: list[str] = []
    paths = runner.run_plan(plan, tmp_path, progress=False, log=lines.append)
    assert len(paths) == len(plan.runs) == 8
    # the pretraining was trained once, for the three arms that start from it
    assert len(list((tmp_path / "train").glob("pretrain-*"))) == 1
    assert sum("training pretrain-" in line for line in lines) == 1
    for path in paths:
        rec = json.loads(path.read_text())  # strict JSON (no NaN)
        assert path == tmp_path / "runs" / rec["arm"] / "seed0.json"
        for split in ("val", "shift"):
            assert set(CARD_METRICS) <= set(rec["scores"][split])
            assert rec["scores"][split]["n_scenes"] == 1
        c = rec["compute"]
        if rec["arm"] == "untrained":  # the random initialisation, scored as it is
            assert rec["steps"] == 0 and c["instruct_images"] == 0 and c["total_images"] == 0
            assert rec["generation_loss"]["before"] == pytest.approx(rec["generation_loss"]["after"], rel=1e-6)
            continue
        assert c["instruct_images"] == rec["steps"] * 4 and c["instruct_minutes"] > 0
        assert c["total_images"] == c["instruct_images"] + c["pretrain_images"]
        assert c["vision_samples_expected"] == round(c["instruct_images"] * rec["vision_share"])
        g = rec["generation_loss"]
        assert (tmp_path / g["samples_after"]).is_file()
        if rec["family"] == "head-specialist":  # a plain head cannot generate; it is scored on its task only
            assert g["before"] is None and g["after"] is None and g["relative_change"] is None
            assert rec["scores"]["val"]["depth_delta1"] >= 0
            assert rec["scores"]["val"]["normals_mean_deg"] is None  # NaN: not scored
            continue
        assert g["before"] > 0 and g["after"] > 0
        assert not (tmp_path / "train" / rec["job"] / "checkpoints").exists()  # deleted once exported
    pre = json.loads((tmp_path / "runs" / "pretrained" / "seed0.json").read_text())
    assert pre["compute"]["pretrain_images"] == 16 and pre["generation_loss"]["before_source"].startswith("train/pretrain-")
    assert [c["step"] for c in pre["curve"]] == [2, 4]  # snapshot, then the final export
    half = json.loads((tmp_path / "runs" / "pretrain-50" / "seed0.json").read_text())
    assert half["pretrain_steps"] == 2 and half["compute"]["pretrain_images"] == 8
    scratch = json.loads((tmp_path / "runs" / "scratch" / "seed0.json").read_text())
    untrained = json.loads((tmp_path / "runs" / "untrained" / "seed0.json").read_text())
    assert untrained["generation_loss"]["before"] == scratch["generation_loss"]["before"]  # the same weights
    assert scratch["compute"]["pretrain_images"] == 0 and scratch["generation_loss"]["before_source"] == "random initialisation"

    report = write_report(tmp_path).read_text()
    assert "| specialist-depth |" in report and "| head-depth |" in report
    assert "## specialists minus head specialists" in report
    assert (tmp_path / "plots" / "vision_share.png").is_file()

    # again, with --resume: every run is skipped, nothing is trained or scored
    monkeypatch.setattr(runner, "ensure_trained", _no_training)
    monkeypatch.setattr(runner, "job_scores", _no_training)
    lines.clear()
    assert runner.run_plan(plan, tmp_path, resume=True, progress=False, log=lines.append) == paths
    assert sum("skipped" in line for line in lines) == 8
    with pytest.raises(ValueError, match="--resume"):
        runner.run_plan(plan, tmp_path, progress=False, log=lines.append)


def test_finished_runs_are_skipped_and_foreign_ones_refused(tmp_path, monkeypatch):
    plan = make_plan("quick", BASE, arms=["scratch", "vision-only"])
    for spec in plan.runs:
        runner.write_json(runner.run_path(tmp_path, spec.arm, spec.seed), {"job": spec.job, "arm": spec.arm})
    monkeypatch.setattr(runner, "ensure_trained", _no_training)
    lines: list[str] = []
    assert len(runner.run_plan(plan, tmp_path, resume=True, log=lines.append)) == 2
    assert all("skipped" in line for line in lines[:2])
    assert json.loads((tmp_path / "plan.json").read_text())["experiment"] == "pretraining-ablation"
    runner.write_json(runner.run_path(tmp_path, "scratch", 0), {"job": "instruct-seed0-000000000000"})
    with pytest.raises(ValueError, match="another plan"):
        runner.run_plan(plan, tmp_path, resume=True, log=lines.append)
    with pytest.raises(ValueError, match="already holds an experiment"):
        runner.check_out(tmp_path, resume=False)
    runner.check_out(tmp_path / "new", resume=False)


def test_killed_job_resumes_exactly(tmp_path):
    plan = make_plan("quick", BASE, arms=["scratch"])
    job = plan.jobs[plan.runs[0].job]
    assert job.steps == 4 and job.config["ckpt_every"] == 2
    straight = runner.ensure_trained(job, tmp_path / "a", progress=False, log=lambda s: None)

    # "killed" after the checkpoint at step 2: the same job trained 2 steps, its export removed
    killed = tmp_path / "b" / "train" / job.key
    cfg = TrainConfig.from_dict(runner.resolve_config(job.config, tmp_path / "b"))
    cfg.stages[0].steps = 2
    train(cfg, killed, progress=False)
    (killed / "pipeline.json").unlink()
    (killed / "training_summary.json").unlink()
    assert not runner.job_finished(killed)
    lines: list[str] = []
    resumed = runner.ensure_trained(job, tmp_path / "b", progress=False, log=lines.append)
    assert any("resuming" in line and "step_0000002" in line for line in lines)
    assert json.loads((resumed / "training_summary.json").read_text())["steps"] == 4
    a = load_file(str(straight / "backend" / "model.safetensors"))
    b = load_file(str(resumed / "backend" / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
