"""scripts/compare_rooms.py: per-room scores, the paired bootstrap, the shipped model against itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script

from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource
from openbanana.evaluation.model import OracleModel
from openbanana.model_card import evaluate_rooms

compare_rooms = load_script("compare_rooms")
SHIPPED = Path(__file__).resolve().parents[2] / "src" / "openbanana" / "weights" / "default"


def test_one_room_is_that_room_of_the_source():
    src = PrimitiveRoomsSource(size=16, length=3)
    one = compare_rooms.OneRoom(src, 2)
    assert len(one) == 1 and one.record_id(0) == src.record_id(2) == "room-00002"
    assert np.array_equal(one[0].image, src[2].image)
    with pytest.raises(IndexError):
        one[1]


def test_per_room_scores_average_to_the_benchmark_numbers():
    src = PrimitiveRoomsSource(size=16, length=3)
    oracle = OracleModel(src)
    scores = compare_rooms.per_room(oracle, src, 3)
    assert np.allclose(scores["depth_delta1"], 1.0) and np.all(scores["normals_mean_deg"] < 0.5)  # through the colour code
    blind = OracleModel(src, transform=lambda task, gt: np.full_like(gt, 2.0) if task == "depth" else gt,
                        through_code=False)
    per = compare_rooms.per_room(blind, src, 3)
    whole = evaluate_rooms(blind, 3, source=src)
    assert per["depth_delta1"].mean() == pytest.approx(whole["depth_delta1"], abs=1e-6)
    assert per["depth_abs_rel"].mean() == pytest.approx(whole["depth_abs_rel"], abs=1e-6)
    assert len(set(np.round(per["depth_abs_rel"], 6))) == 3  # the rooms differ


def test_paired_bootstrap_counts_and_interval():
    old = np.array([0.5, 0.5, 0.5, 0.5])
    r = compare_rooms.paired_bootstrap(old, old + [0.1, 0.2, 0.1, 0.2], higher_better=True, resamples=2000)
    assert r["diff"] == pytest.approx(0.15) and 0.1 - 1e-9 <= r["lo"] <= r["diff"] <= r["hi"] <= 0.2 + 1e-9
    assert (r["new_better"], r["old_better"]) == (4, 0)
    # lower is better: a larger error counts for the old model
    r = compare_rooms.paired_bootstrap(old, old + [0.1, -0.1, 0.2, 0.0], higher_better=False, resamples=2000)
    assert (r["new_better"], r["old_better"]) == (1, 2) and r["lo"] < 0 < r["hi"]


def test_shipped_model_against_itself_differs_by_nothing(capsys):
    assert compare_rooms.main(["--old", str(SHIPPED), "--n", "2", "--resamples", "200"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:3]]
    assert [r["metric"] for r in rows] == ["depth_delta1", "depth_abs_rel", "normals_mean_deg"]
    for r in rows:
        assert r["diff"] == r["lo"] == r["hi"] == 0 and r["new_better"] == r["old_better"] == 0


def test_bad_arguments_exit_cleanly(tmp_path, capsys):
    with pytest.raises(SystemExit):
        compare_rooms.main(["--old", str(tmp_path), "--n", "1"])
    with pytest.raises(SystemExit):
        compare_rooms.main([])
    assert compare_rooms.main(["--old", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
