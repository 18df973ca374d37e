"""scripts/mirror_gain.py: the shipped model with and without the test-time mirror."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loader import load_script

from openbanana.model_card import evaluate_split, load_model

mirror_gain = load_script("mirror_gain")
SHIPPED = Path(__file__).resolve().parents[2] / "src" / "openbanana" / "weights" / "default"


def test_both_settings_on_a_scene_and_a_room(capsys):
    assert mirror_gain.main(["--model", str(SHIPPED), "--n", "1", "--splits", "val", "--rooms", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in out[:2]]
    assert [r["mirror"] for r in rows] == [False, True]
    for r in rows:
        assert set(r) == {"mirror", "val", "rooms"} and set(r["val"]) == set(mirror_gain.COLUMNS)
        assert 0 <= r["val"]["depth_delta1"] <= 1 and 0 <= r["rooms"]["normals_mean_deg"] <= 180
    assert rows[0]["val"]["normals_mean_deg"] != rows[1]["val"]["normals_mean_deg"]  # the mirror changes answers
    plain = load_model(SHIPPED)
    plain.config.inference.mirror_dense = False
    assert rows[0]["val"]["depth_delta1"] == pytest.approx(
        evaluate_split(plain, "val", 1, tasks=("depth",))["depth_delta1"], abs=1e-4)
    assert "| 1 val scenes | with its mirror |" in "\n".join(out)


def test_bad_arguments_are_usage_errors():
    with pytest.raises(SystemExit) as e:
        mirror_gain.main(["--splits", "train"])
    assert e.value.code == 2
