"""scripts/primitive_rooms.py: rooms shown in other light, the shipped model and the sheet on two rooms."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from script_loader import load_script

from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource
from openbanana.evaluation.model import OracleModel
from openbanana.model_card import evaluate_rooms

primitive_rooms = load_script("primitive_rooms")


def test_rooms_shown_with_other_light_keep_their_answers():
    src = PrimitiveRoomsSource(size=16, length=2)
    grey = primitive_rooms.ShownAs(src, contrast=1.0, saturation=0.0)
    assert len(grey) == 2 and grey.record_id(1) == "room-00001"
    rec, plain = grey[1], src[1]
    assert np.abs(rec.image.astype(int) - rec.image.astype(int).mean(-1, keepdims=True)).max() <= 1
    assert np.array_equal(rec.targets[0].gt, plain.targets[0].gt)
    flat = primitive_rooms.ShownAs(src, contrast=0.5)[1].image
    assert flat.astype(float).std() < plain.image.astype(float).std()
    assert evaluate_rooms(OracleModel(grey), 2, source=grey)["depth_delta1"] == 1.0


def test_main_scores_the_shipped_model_and_draws_the_sheet(tmp_path, capsys):
    sheet = tmp_path / "rooms.png"
    assert primitive_rooms.main(["--n", "2", "--sheet", str(sheet), "--sheet-rows", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines[:3]]
    assert [r["answers"][:9] for r in rows] == ["the model", "the model", "one const"]
    assert 0 <= rows[0]["depth_delta1"] <= 1 and rows[1]["normals_mean_deg"] is None
    assert Image.open(sheet).size == (5 * 128, 2 * 128 + 16)


def test_bad_arguments_exit_cleanly(tmp_path, capsys):
    with pytest.raises(SystemExit):
        primitive_rooms.main(["--n", "0"])
    with pytest.raises(SystemExit):
        primitive_rooms.main(["--contrast", "0"])
    assert primitive_rooms.main(["--model", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
