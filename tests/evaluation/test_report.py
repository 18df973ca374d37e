import json

import numpy as np
import pytest

from openbanana.errors import OpenBananaError
from openbanana.evaluation.grid import make_grid
from openbanana.evaluation.reference import REFERENCES, best_open, paper_value
from openbanana.evaluation.report import load_results, markdown_summary, paper_tables, plot_tasks


def _result(bench, task, metrics, align="none", reference=None):
    return {
        "benchmark": bench,
        "reference": reference or bench,
        "metrics": {task: metrics},
        "protocol": {task: {"alignment": align}},
        "n_samples": {task: 10},
        "n_failed": 0,
    }


def _depth(d1, ar):
    return {"delta1": d1, "abs_rel": ar, "rmse": 0.3}


RESULTS = [
    _result("nyuv2", "depth", _depth(0.90, 0.10)),
    _result("kitti", "depth", _depth(0.80, 0.12)),
    _result("eth3d", "depth", _depth(0.70, 0.20)),
    _result("diode-indoor", "depth", _depth(0.60, 0.30)),
    _result("nyuv2", "depth", _depth(0.95, 0.06), align="scale_shift"),
    _result("dsine-scannet", "normals", {"mean": 20.0, "median": 10.0, "a11_25": 50.0}),
    _result("cityscapes", "semantic", {"miou": 0.5, "pixel_accuracy": 0.9}),
    _result("refcocog", "referring", {"ciou": 0.6, "giou": 0.62}),
    _result("reasonseg", "reasoning", {"giou": 0.4, "ciou": 0.45}),
    _result("synthetic-val", "instance", {"f1": 0.7, "matched_miou": 0.8}),
]


def test_reference_lookups():
    assert paper_value("nyuv2", "depth", "delta1") == 0.948
    assert paper_value("cityscapes", "semantic", "miou") == 0.699
    assert best_open("nyuv2", "depth", "delta1").system == "UniK3D"
    assert best_open("dsine-scannet", "normals", "mean", higher_is_better=False).value == 12.8
    assert best_open("refcocog", "referring", "ciou").value == 0.677  # the closed-MLLM rival is not "open"
    assert best_open("reasonseg", "reasoning", "giou").value == 0.626
    assert all(r.source for r in REFERENCES)


def test_paper_tables_put_published_numbers_beside_ours():
    text = paper_tables(RESULTS)
    assert "| nyuv2 | 0.900 | 0.100 | 0.948 | 0.081 | 0.965 (UniK3D) |" in text
    assert (
        "mean delta1, NYU + ETH3D + DIODE-indoor + KITTI** | 0.750 |  | 0.929 |" in text
    )  # (0.9+0.8+0.7+0.6)/4
    assert "| nyuv2 | 0.060 | 0.950 | 0.041 (Lotus-2) | 0.976 (Lotus-2) |" in text  # affine table
    assert "| dsine-scannet | 20.00 | 10.00 | 15.05 | 7.47 | 12.80 (MoGe-2) |" in text
    assert "| cityscapes | semantic, miou | 0.500 | 0.699 | 0.652 (SAM 3) |" in text
    assert "| reasonseg | reasoning, giou | 0.400 | 0.793 | 0.626 (best fully open) |" in text
    assert "Synthetic benchmarks" in text and "F1@0.5 0.700" in text


def test_summary_and_plots(tmp_path):
    s = markdown_summary(RESULTS)
    assert "| nyuv2 | depth (scale_shift) | 10 | 0 |" in s
    written = plot_tasks(RESULTS, tmp_path)
    names = {p.name for p in written}
    assert {"report-depth.png", "report-normals.png", "report-semantic.png"} <= names
    assert all(p.stat().st_size > 1000 for p in written)


def test_load_results_refuses_other_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(RESULTS[0]))
    assert load_results([tmp_path])[0]["benchmark"] == "nyuv2"
    (tmp_path / "b.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(OpenBananaError, match="b.json.*openbanana result"):
        load_results([tmp_path])
    (tmp_path / "b.json").write_text("{broken")
    with pytest.raises(OpenBananaError, match="invalid JSON"):
        load_results([tmp_path / "b.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(OpenBananaError, match="no result files"):
        load_results([tmp_path / "empty"])


def test_grid_layout():
    img = np.zeros((10, 20, 3), np.uint8)
    g = make_grid([("a", img, None, img), ("b", img, img, None)], cell_h=40, cell_w=50)
    assert g.shape == (18 + 2 * (40 + 14), 150, 3) and g.dtype == np.uint8
    with pytest.raises(ValueError, match="at least one row"):
        make_grid([])


def test_several_models_are_told_apart():
    a = {**_result("nyuv2", "depth", _depth(0.9, 0.1)), "model": {"name": "runs/a"}}
    b = {**_result("nyuv2", "depth", _depth(0.8, 0.2)), "model": {"name": "runs/b"}}
    text = paper_tables([a, b])
    assert "| nyuv2 [runs/a] | 0.900 |" in text and "| nyuv2 [runs/b] | 0.800 |" in text
    single = paper_tables([_result("nyuv2", "depth", _depth(0.9, 0.1))])
    assert "| nyuv2 | 0.900 |" in single


def test_normals_aggregate_row_when_the_papers_three_sets_are_present():
    rs = [
        _result("dsine-nyuv2", "normals", {"mean": 18.0, "median": 9.0, "a11_25": 50.0}),
        _result(
            "diode-indoor-normals",
            "normals",
            {"mean": 14.0, "median": 11.0, "a11_25": 50.0},
            reference="diode-indoor",
        ),
        _result("dsine-scannet", "normals", {"mean": 16.0, "median": 8.0, "a11_25": 50.0}),
    ]
    text = paper_tables(rs)
    assert "| **mean angle, NYUv2 + DIODE-indoor + ScanNet** | 16.00 |  | 15.55 |" in text
    assert "| diode-indoor-normals | 14.00 | 11.00 | 13.82 | 11.56 |" in text
