"""``openbanana experiment pretraining-ablation``: the plan, the report from existing runs, and one
clear line (exit 2, no traceback) for every bad flag."""

from __future__ import annotations

import pytest

from openbanana.cli import main
from openbanana.experiments.runner import run_path, write_json


def _run(argv, capsys):
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_plan(capsys):
    code, out, err = _run(["experiment", "pretraining-ablation", "--plan", "--budget", "quick"], capsys)
    assert code == 0, err
    assert "budget quick" in out and "specialist-depth" in out and "estimate" in out
    code, out, _ = _run(["experiment", "pretraining-ablation", "--plan", "--arms", "generalist", "--seeds", "5"], capsys)
    assert code == 0 and "5 seed(s)" in out and "arms (2): pretrained, scratch" in out


@pytest.mark.parametrize(("flags", "message"), [
    (["--budget", "fast"], "--budget must be one of"),
    (["--budget", "-3"], "--budget minutes must be a positive number"),
    (["--arms", "nope"], "unknown arm(s) ['nope']"),
    (["--arms", " , "], "--arms is empty"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--base-config", "/nonexistent.json"], "not found"),
    (["--report-only"], "--plan and --report-only exclude each other"),
])
def test_bad_flags(flags, message, capsys):
    code, out, err = _run(["experiment", "pretraining-ablation", "--plan", *flags], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err + out


def test_occupied_out_and_report_only(tmp_path, capsys):
    write_json(run_path(tmp_path, "scratch", 0), {"job": "instruct-seed0-000000000000", "arm": "scratch"})
    code, _, err = _run(["experiment", "pretraining-ablation", "--budget", "quick", "--out", str(tmp_path)], capsys)
    assert code == 2 and "pass --resume" in err
    code, out, err = _run(["experiment", "pretraining-ablation", "--budget", "quick", "--out", str(tmp_path / "x"),
                           "--report-only"], capsys)
    assert code == 2 and "no runs under" in err
    write_json(run_path(tmp_path, "scratch", 0), {
        "arm": "scratch", "family": "generalist", "seed": 0, "job": "j", "tasks": ["depth"], "vision_share": 0.75,
        "steps": 4, "pretrain_steps": 0, "scores": {"val": {"depth_delta1": 0.3}, "shift": {"depth_delta1": 0.2}},
        "generation_loss": {}, "compute": {}})
    code, out, err = _run(["experiment", "pretraining-ablation", "--out", str(tmp_path), "--report-only"], capsys)
    assert code == 0, err
    assert (tmp_path / "report.md").is_file() and "report:" in out
