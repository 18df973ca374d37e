"""scripts/plot_compute_curve.py lines up the runs' snapshot curves on one CPU-minutes axis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from script_loader import load_script

plot_compute_curve = load_script("plot_compute_curve")


def _scores(path: Path, minutes: list[float]) -> Path:
    curve = [{"minutes": m, "depth_delta1": 0.1 * i, "normals_mean_deg": 40 - i, "semantic_miou": 0.01 * i,
              "semantic_random_miou": 0.02, "referring_ciou": 0.0, "reasoning_giou": None}
             for i, m in enumerate(minutes)]
    path.write_text(json.dumps({"curve": curve[::-1]}))  # out of order: sorted on load
    return path


def test_segments_parse_and_curves_sort(tmp_path):
    assert plot_compute_curve.parse_segment("run 1 (a=b)=x/y.json@94.5") == ("run 1 (a=b)", Path("x/y.json"), 94.5)
    for bad in ("x.json@3", "a=x.json", "a=x.json@soon"):
        with pytest.raises(ValueError, match="--segment"):
            plot_compute_curve.parse_segment(bad)
    curve = plot_compute_curve.load_curve(_scores(tmp_path / "s.json", [10, 20, 30]))
    assert [c["minutes"] for c in curve] == [10, 20, 30]
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(ValueError, match="no 'curve'"):
        plot_compute_curve.load_curve(tmp_path / "empty.json")


def test_writes_one_picture_and_reports_bad_input(tmp_path, capsys):
    a, b = _scores(tmp_path / "a.json", [5, 10]), _scores(tmp_path / "b.json", [3, 6, 9])
    out = tmp_path / "curve.png"
    assert plot_compute_curve.main(["--segment", f"run 1={a}@0", "--segment", f"run 2={b}@12", "--out", str(out),
                                    "--title", "two runs"]) == 0
    w, h = Image.open(out).size
    assert w > 800 and h > 500
    assert plot_compute_curve.main(["--segment", f"run 1={tmp_path / 'missing.json'}@0", "--out", str(out)]) == 2
    assert "not a readable scores JSON" in capsys.readouterr().err


def test_title_and_one_panel_per_metric(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    a = _scores(tmp_path / "a.json", [5, 10])
    plot_compute_curve.plot([("run 1", plot_compute_curve.load_curve(a), 0.0)], tmp_path / "c.png", "two runs")
    (fig,) = figures
    assert fig._suptitle.get_text() == "two runs"
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().rsplit(" (", 1)[0] for ax in shown] == [p[1] for p in plot_compute_curve.PANELS]
    depth = shown[0].lines[0].get_xydata().tolist()
    assert depth == [[5.0, 0.0], [10.0, 0.1]]
