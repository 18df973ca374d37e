"""scripts/hard_choices.py scores a model's mask tasks with its colour-copy head mixing and choosing."""

from __future__ import annotations

import json

import pytest
import torch
from micro_pipeline import micro_pipeline
from script_loader import load_script

hard_choices = load_script("hard_choices")


def test_a_head_that_always_copies_scores_differently_when_it_chooses():
    pipe = micro_pipeline(color_copy=4)
    with torch.no_grad():
        pipe.backend.net.copy.keep_bias.fill_(-60.0)  # never keep: an even blend of the named colours
    mixed = hard_choices.scores(pipe, False, n=4, split="val")
    hard = hard_choices.scores(pipe, True, n=4, split="val")
    assert set(mixed) == set(hard) == set(hard_choices.METRICS)
    assert pipe.backend.net.copy.hard is False  # the model's own setting is left as it was
    # a blend of every palette colour is no class; one of them (the first, on a tie) is a class somewhere
    assert mixed["semantic_miou"] < hard["semantic_miou"]


def test_command_line(tmp_path, capsys):
    model = micro_pipeline(color_copy=4).save_pretrained(tmp_path / "model")
    assert hard_choices.main(["--model", str(model), "--n", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines[:2]]
    assert [r["mode"] for r in rows] == ["mixture", "hard"] and all(r["n"] == 2 for r in rows)
    assert lines[-2].startswith("| mixture |") and lines[-1].startswith("| hard |")
    plain = micro_pipeline().save_pretrained(tmp_path / "plain")
    assert hard_choices.main(["--model", str(plain), "--n", "2"]) == 1
    assert "no colour-copy head" in capsys.readouterr().err
    for bad in (["--n", "0"], ["--model", str(tmp_path)]):
        with pytest.raises(SystemExit) as e:
            hard_choices.main(bad)
        assert e.value.code == 2
