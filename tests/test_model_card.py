"""The quick synthetic evaluation and the model card, on a tiny random pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from script_loader import load_script

from openbanana.backends.text import TextEncoderConfig
from openbanana.backends.tiny import TinyBackend, TinyConfig
from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource
from openbanana.evaluation.model import OracleModel
from openbanana.model_card import (
    constant_room_answers,
    evaluate_rooms,
    history_generation_losses,
    render_model_card,
    rooms_card,
)
from openbanana.pipeline import OpenBananaPipeline
from openbanana.pipeline_config import PipelineConfig

HISTORY = {"steps": 10, "images_seen": 160, "minutes": 0.5, "device": "cpu", "world_size": 1,
           "stages": [{"name": "pretrain", "data": {"vision_share": 0.0}, "planned_steps": 5, "lr": 3e-4}],
           "history": [{"event": "stage_end", "name": "pretrain", "heldout": {"gen": {"generation": 0.50}}},
                       {"event": "stage_end", "name": "instruct", "heldout": {"gen": {"generation": 0.51}}}]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = TinyConfig(channels=8, channel_mults=(1, 2), num_res_blocks=1, attn_levels=(1,), heads=2, emb_dim=32,
                     text=TextEncoderConfig(dim=32, layers=1, heads=2))
    pipe = OpenBananaPipeline(TinyBackend(cfg), PipelineConfig(backend="tiny", resolution=16, training=HISTORY))
    return pipe.save_pretrained(tmp_path_factory.mktemp("model"))


def test_history_losses_and_card_text():
    assert history_generation_losses(HISTORY) == {"pretrain": 0.50, "instruct": 0.51}
    results = {"backend": "tiny", "parameters": 1000, "resolution": 16, "n": 2, "training": HISTORY,
               "splits": {"val": {"depth_delta1": 0.5, "semantic_miou": float("nan")}},
               "generation": {"history": {"pretrain": 0.5, "instruct": 0.51}, "before_history": 0.5,
                              "after_history": 0.51, "relative_change": 0.02}}
    card = render_model_card(results, command="python scripts/evaluate_default.py --n 2")
    assert "| depth delta1 | >= 0.85 | 0.500 |" in card and "| semantic mIoU, fixed palette | >= 0.6 | n/a |" in card
    assert "+2.0%" in card and "python scripts/evaluate_default.py --n 2" in card
    assert "images seen: 160" in card
    assert "Answers as the pipeline gives them" not in card  # unknown inference settings: no claim
    mirrored = render_model_card({**results, "inference": {"one_step_dense": True, "mirror_dense": True}}, command="c")
    assert "dense tasks in one deterministic step and the test-time mirror" in mirrored
    plain = render_model_card({**results, "inference": {"one_step_dense": True, "mirror_dense": False}}, command="c")
    assert "dense tasks in one deterministic step." in plain
    noted = render_model_card(results, command="c", notes="## How it was trained\n\nthree runs\n")
    assert "## How it was trained\n\nthree runs\n\n## How these numbers were produced" in noted


def test_constant_room_answers_are_the_median_depth_and_the_camera_facing_normal():
    src = PrimitiveRoomsSource(size=16, length=3)
    constant, median = constant_room_answers(src, 3)
    assert median == pytest.approx(np.median(np.concatenate([src[i].targets[0].gt.ravel() for i in range(3)])))
    gt = src[0].targets[0].gt
    assert np.all(constant("depth", gt) == np.float32(median))
    assert np.array_equal(constant("normals", src[0].targets[1].gt)[5, 5], [0, 0, 1])
    exact = evaluate_rooms(OracleModel(src), 3, source=src)
    assert exact["depth_delta1"] == 1.0 and exact["normals_mean_deg"] < 0.5
    flat = evaluate_rooms(OracleModel(src, transform=constant, through_code=False), 3, source=src)
    assert flat["depth_delta1"] < 1.0 and flat["normals_mean_deg"] > 10
    depth_only = evaluate_rooms(OracleModel(src), 3, source=src, tasks=("depth",))
    assert depth_only["depth_delta1"] == 1.0 and np.isnan(depth_only["normals_mean_deg"])


class _Broken:
    resolution = 16

    def __call__(self, *args, **kwargs):
        raise ValueError("no answer")


def test_rooms_refuse_failed_samples():
    with pytest.raises(RuntimeError, match="primitive rooms failed"):
        evaluate_rooms(_Broken(), 2, source=PrimitiveRoomsSource(size=16, length=2))


def test_rooms_section_of_the_card(model_dir):
    pipe = OpenBananaPipeline.from_pretrained(model_dir)
    rooms = rooms_card(pipe, 2)
    assert rooms["n"] == 2 and rooms["constant_depth_m"] > 0
    assert 0 <= rooms["model"]["depth_delta1"] <= 1 and 0 <= rooms["model_scaled_depth_delta1"] <= 1
    assert rooms["constant"]["normals_mean_deg"] > 10
    results = {"backend": "tiny", "parameters": 1000, "resolution": 16, "n": 2, "training": HISTORY,
               "splits": {"val": {"depth_delta1": 0.5}}, "rooms": rooms}
    card = render_model_card(results, command="c")
    assert "## Rooms from a second renderer (2 primitive rooms)" in card
    row = next(line for line in card.splitlines() if line.startswith("| constant |"))
    assert row == (f"| constant | {rooms['constant']['depth_delta1']:.3f} | {rooms['constant']['depth_abs_rel']:.3f} | "
                   f"| {rooms['constant']['normals_mean_deg']:.1f} |")
    assert "Rooms from a second renderer" not in render_model_card({**results, "rooms": None}, command="c")


@pytest.mark.slow
def test_script_writes_card_and_scores(model_dir, capsys):
    mod = load_script("evaluate_default")
    rc = mod.main(["--model", str(model_dir), "--n", "2", "--splits", "val", "--gen-samples", "4",
                   "--baseline", str(model_dir), "--batch-size", "2"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["splits"]) == {"val"}
    assert out["rooms"]["n"] == 2 and 0 <= out["rooms"]["model"]["depth_delta1"] <= 1
    r = out["splits"]["val"]
    assert 0 <= r["depth_delta1"] <= 1 and r["depth_abs_rel"] >= 0
    assert 0 <= r["normals_mean_deg"] <= 180 and 0 <= r["semantic_miou"] <= 1
    assert r["n_scenes"] == 2 and r["n_referring"] >= 1 and 0 <= r["referring_ciou"] <= 1
    assert 0 <= r["semantic_random_miou"] <= 1 and r["n_failed"] == 0
    # at 16 px every instance is under the scored size: no instance sample, and the card says n/a
    assert r["n_instance"] == 0 and np.isnan(r["instance_f1"])
    gen = out["generation"]
    assert gen["before"] == pytest.approx(gen["after"]) and gen["relative_change"] == pytest.approx(0.0, abs=1e-9)
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert "--n 2" in card and "| depth delta1 | >= 0.85 |" in card
    scores = json.loads((model_dir / "scores.json").read_text())
    assert np.isfinite(scores["splits"]["val"]["depth_delta1"])
    assert scores["rooms"]["n"] == 2 and np.isfinite(scores["rooms"]["model"]["depth_delta1"])
    assert "primitive rooms" in card
    assert mod.main(["--model", str(model_dir / "nope"), "--n", "1"]) == 2
