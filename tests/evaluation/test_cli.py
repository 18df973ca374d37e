"""`openbanana eval`, `openbanana report` and `openbanana convert-refs` from the command line."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from openbanana.cli import main
from openbanana.data.sources.fixtures import write_nyuv2, write_refcocog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from surfaces_helpers import build_tiny_pipeline_dir

RESULT_KEYS = {
    "benchmark",
    "split",
    "protocol",
    "prompts",
    "metrics",
    "n_images",
    "n_failed",
    "failures",
    "model",
    "package_version",
    "seed",
    "expected_len",
    "complete",
}


def _run(argv, capsys):
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_nyuv2(root / "nyuv2", n=2)
    return root


def test_eval_oracle_writes_result_grid_predictions_and_table(data, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, stderr = _run(
        [
            "eval",
            "-b",
            "nyuv2",
            "--model",
            "oracle",
            "--data-root",
            str(data),
            "--out",
            str(out),
            "--save-predictions",
        ],
        capsys,
    )
    assert code == 0
    assert "| nyuv2 | depth | 2 | 0 |" in stdout
    res = json.loads((out / "nyuv2.json").read_text())
    assert RESULT_KEYS <= set(res)
    assert res["complete"] is False and res["expected_len"] == 654  # a 2-image fixture, said so
    assert "2 images found, the official split has 654" in stderr
    assert res["metrics"]["depth"]["delta1"] == 1.0
    assert (out / "nyuv2-grid.png").is_file()
    preds = sorted((out / "nyuv2" / "predictions").glob("*.npy"))
    assert len(preds) == 2 and np.load(preds[0]).shape == (480, 640)


def test_eval_real_pipeline_records_model_hash(data, tmp_path, capsys):
    model = build_tiny_pipeline_dir(tmp_path / "model")
    out = tmp_path / "out"
    code, _, stderr = _run(
        [
            "eval",
            "-b",
            "nyuv2",
            "--model",
            str(model),
            "--data-root",
            str(data),
            "--out",
            str(out),
            "--limit",
            "2",
        ],
        capsys,
    )
    assert code == 0, stderr
    res = json.loads((out / "nyuv2.json").read_text())
    weights = sorted(model.rglob("*.safetensors"))
    h = hashlib.sha256(b"".join(w.read_bytes() for w in weights)).hexdigest()
    assert res["model"]["sha256"] == h
    n_scored = res["n_samples"].get("depth", 0)
    assert n_scored + res["n_failed"] == 2  # every image either scored or counted as failed
    if n_scored:
        assert 0.0 <= res["metrics"]["depth"]["delta1"] <= 1.0


def test_batched_and_single_calls_agree_on_the_pipeline(data, tmp_path):
    from openbanana.evaluation.benchmarks import BENCHMARKS
    from openbanana.evaluation.runner import EvalOptions, evaluate
    from openbanana.pipeline import load_model

    pipe = load_model(build_tiny_pipeline_dir(tmp_path / "model"))
    b = BENCHMARKS.get("nyuv2")
    src = b.source(data)
    one, _ = evaluate(pipe, b, EvalOptions(batch_size=1), source=src)
    two, _ = evaluate(pipe, b, EvalOptions(batch_size=2), source=src)
    assert one["n_failed"] == two["n_failed"]
    for k, v in one["metrics"].get("depth", {}).items():
        assert two["metrics"]["depth"][k] == pytest.approx(v, rel=1e-4, abs=1e-6)


def test_report_has_paper_numbers_and_plots(data, tmp_path, capsys):
    out = tmp_path / "out"
    _run(["eval", "-b", "nyuv2", "--model", "oracle", "--data-root", str(data), "--out", str(out)], capsys)
    code, stdout, _ = _run(["report", str(out / "nyuv2.json"), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0
    assert "| nyuv2 | 1.000 |" in stdout and "0.948" in stdout and "UniK3D" in stdout
    assert (tmp_path / "rep" / "report.md").is_file() and (tmp_path / "rep" / "report-depth.png").is_file()


def test_usage_errors_are_one_line(data, tmp_path, capsys):
    code, _, err = _run(["eval", "-b", "nope"], capsys)
    assert code == 2 and "unknown benchmark 'nope'" in err
    code, _, err = _run(["eval", "-b", "nyuv2", "--model", "oracle", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--data-root" in err
    code, _, err = _run(["eval", "-b", "nyuv2", "--model", "oracle", "--data-root", str(tmp_path)], capsys)
    assert code == 2 and "expected benchmark 'nyuv2''s data here" in err
    (tmp_path / "empty" / "nyuv2").mkdir(parents=True)
    code, _, err = _run(
        ["eval", "-b", "nyuv2", "--model", "oracle", "--data-root", str(tmp_path / "empty")], capsys
    )
    assert code == 2 and "filename_list_test.txt" in err
    code, _, err = _run(["report", str(tmp_path / "missing.json")], capsys)
    assert code == 2 and "does not exist" in err
    assert "Traceback" not in err


def test_convert_refs_command(tmp_path, capsys):
    write_refcocog(tmp_path)
    src, dst = tmp_path / "refcocog" / "refs(umd).p", tmp_path / "refcocog" / "refs_umd.json"
    code, stdout, _ = _run(["convert-refs", str(src), str(dst)], capsys)
    assert code == 0 and "wrote 4 refs" in stdout
    assert len(json.loads(dst.read_text())) == 4
