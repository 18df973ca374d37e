"""scripts/instance_choices.py measures what a model paints on the pixels of the instances asked for."""

from __future__ import annotations

import json

import pytest
import torch
from micro_pipeline import micro_pipeline
from script_loader import load_script

choices = load_script("instance_choices")


def test_a_head_that_always_paints_the_first_code_colour(tmp_path, capsys):
    pipe = micro_pipeline(color_copy=4, color_copy_vocab=16)
    with torch.no_grad():
        head = pipe.backend.net.copy
        head.keep_bias.fill_(60.0)  # keep (and the vocabulary, relative to it) far above the named colours
        head.vocab_bias.fill_(-1.0)
        head.vocab_bias[0] = 1.0  # white, the first instance's colour, wins everywhere
    model = pipe.save_pretrained(tmp_path / "model")
    assert choices.main(["--model", str(model), "--n", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "instance colour scheme: rank; colour-copy head: mixture"  # no train_config.json: as before
    rows = _rows(lines)
    assert rows, "no instance target in the first 6 val scenes"
    for r in rows:
        assert r["coded"] == 1.0 and r["black"] == 0.0  # every instance pixel white
        assert r["vocab"] > 0.99 and r["keep"] < 0.01
        assert r["exact"] == pytest.approx(r["own_slot"], abs=1e-3)  # right exactly on the first instance
        assert r["own_top"] == pytest.approx(r["exact"], abs=1e-3)  # white is every pixel's heaviest slot
        assert 0.0 < r["exact"] <= 1.0
    assert lines[-4].startswith("|---") and lines[-3].startswith(f"| {len(rows)} |")
    for r in rows:  # white is the heaviest option everywhere
        assert r["top_keep"] == r["top_named"] == 0.0 and r["top_vocab"][0] == 1.0 and sum(r["top_vocab"]) == 1.0
    assert lines[-1].startswith("most chosen vocabulary colour: (255, 255, 255) (slot 0), the heaviest option on 1.000")
    # measured against the position scheme (white = the top-left cell), read from the model's training
    # config: right exactly on the instances whose centroid lies in the top-left quarter-by-quarter
    (model / "train_config.json").write_text(json.dumps({"stages": [{"data": {"instance_scheme": "position"}}]}))
    assert choices.main(["--model", str(model), "--n", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "instance colour scheme: position; colour-copy head: mixture"
    position = _rows(lines)
    assert [r["scene"] for r in position] == [r["scene"] for r in rows]
    assert any(r["exact"] != p["exact"] for r, p in zip(rows, position))
    for r in position:
        assert r["exact"] == pytest.approx(r["own_slot"], abs=1e-3) and 0.0 <= r["exact"] <= 1.0
    assert choices.main(["--model", str(model), "--n", "6", "--scheme", "rank"]) == 0
    assert _rows(capsys.readouterr().out.splitlines()) == rows
    # a snapshot has no training config of its own: its run's is read
    snapshot = pipe.save_pretrained(tmp_path / "run" / "snapshots" / "step_0000450")
    (tmp_path / "run" / "train_config.json").write_text((model / "train_config.json").read_text())
    assert choices.trained_scheme(snapshot) == "position"
    assert choices.trained_scheme(tmp_path / "run") == "position"
    assert choices.trained_scheme(tmp_path / "elsewhere" / "step") == "rank"


def _rows(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_models_without_a_head_or_vocabulary(tmp_path, capsys):
    plain = micro_pipeline().save_pretrained(tmp_path / "plain")
    assert choices.main(["--model", str(plain), "--n", "6"]) == 0
    row = _rows(capsys.readouterr().out.splitlines())[0]
    assert "keep" not in row and 0.0 <= row["exact"] <= row["coded"] <= 1.0
    head = micro_pipeline(color_copy=4).save_pretrained(tmp_path / "head")
    assert choices.main(["--model", str(head), "--n", "6"]) == 0
    row = _rows(capsys.readouterr().out.splitlines())[0]
    assert row["vocab"] == 0.0 and "own_slot" not in row and row["keep"] > 0.99  # a new head keeps
    for bad in (["--n", "0"], ["--model", str(tmp_path)], ["--scheme", "diagonal"]):
        with pytest.raises(SystemExit) as e:
            choices.main(bad)
        assert e.value.code == 2
