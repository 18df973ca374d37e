"""Replay shards from the frozen tiny FLUX.2 [klein] base, and the generation-drift measure."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("webdataset")

from openbanana.backends.flux2_klein import Flux2KleinBackend, Flux2KleinConfig
from openbanana.backends.flux2_random import OUT_LAYERS, save_random_pipeline
from openbanana.data.flux2_replay import (
    MANIFEST,
    ReplayConfig,
    ReplayDataset,
    generation_drift,
    plan_sample,
    write_replay_shards,
)
from openbanana.errors import DataLayoutError

SIZE = 32


def _cfg(**kw) -> Flux2KleinConfig:
    d = {"bf16": False, "text_encoder_out_layers": OUT_LAYERS["tiny"], "max_sequence_length": 24, "lora_rank": 4,
             "lora_alpha": 8.0, "gradient_checkpointing": False}
    d.update(kw)
    return Flux2KleinConfig(**d)


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    base_dir = save_random_pipeline(root / "base", "tiny", seed=0)
    base = Flux2KleinBackend.from_pretrained(base_dir, _cfg(finetune="none"))
    cfg = ReplayConfig(num_samples=8, resolution=SIZE, num_inference_steps=2, edit_share=0.5, holdout_share=0.5,
                       shard_size=3, batch_size=3, seed=1)
    summaries = [write_replay_shards(base, cfg, root / "replay", rank=r, world_size=2, progress=False)
                 for r in (0, 1)]
    return base_dir, root / "replay", cfg, summaries


def test_plan_is_a_pure_function_of_seed_and_index():
    cfg = ReplayConfig(num_samples=100, edit_share=0.5, holdout_share=0.2, seed=3)
    plans = [plan_sample(cfg, i) for i in range(100)]
    assert plans == [plan_sample(cfg, i) for i in range(100)]
    tasks = [p["task"] for p in plans]
    assert 30 < tasks.count("edit") < 70 and set(tasks) == {"t2i", "edit"}
    assert len({p["seed"] for p in plans}) == 100
    assert all("instruction" in p for p in plans if p["task"] == "edit")
    with pytest.raises(ValueError, match="edit_share"):
        ReplayConfig(edit_share=1.5)


def test_shards_hold_every_sample_once(replay):
    _, root, _, summaries = replay
    manifest = json.loads((root / MANIFEST).read_text())
    assert manifest["config"]["num_samples"] == 8 and manifest["world_size"] == 2
    total = sum(s["counts"][sp]["samples"] for s in summaries for sp in ("train", "val"))
    assert total == 8
    from openbanana.data.flux2_replay import iter_samples, replay_shards

    seen = []
    for split in ("train", "val"):
        for s in iter_samples(replay_shards(root, split)):
            assert s["target"].shape == (SIZE, SIZE, 3) and s["target"].dtype == np.uint8
            assert s["meta"]["split"] == split
            if s["task"] == "edit":
                assert s["cond"].shape == (SIZE, SIZE, 3) and s["prompt"] == s["meta"]["instruction"]
            else:
                assert s["cond"] is None and s["prompt"] == s["meta"]["prompt"]
            seen.append(s["meta"]["index"])
    assert sorted(seen) == list(range(8))


def test_replay_dataset_streams_for_training(replay):
    _, root, _, _ = replay
    it = iter(ReplayDataset(root, split="train", size=16, seed=0, rank=1, world_size=2))
    samples = [next(it) for _ in range(12)]  # more than one epoch: the stream is endless
    assert all(s["target"].shape == (16, 16, 3) for s in samples)
    assert {s["task"] for s in samples} <= {"t2i", "edit"}
    with pytest.raises(DataLayoutError, match="no replay shards"):
        ReplayDataset(root / "nothing")


def test_generation_drift_is_zero_for_the_base_and_grows_with_tuning(replay):
    base_dir, root, _, _ = replay
    torch.manual_seed(0)
    tuned = Flux2KleinBackend.from_pretrained(base_dir, _cfg())
    untouched = generation_drift(tuned, root, max_samples=4)
    assert untouched["after"]["pixel_l1"] == 0.0  # fixed seeds reproduce the stored base outputs exactly
    assert untouched["after"]["fm_loss"] == pytest.approx(untouched["before"]["fm_loss"])
    opt = torch.optim.AdamW(tuned.trainable_parameters(), lr=5e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        batch_target = torch.rand(2, 3, SIZE, SIZE, generator=g) * 2 - 1
        from openbanana.backends.base import Batch

        loss = tuned.training_loss(Batch(target=batch_target, cond=torch.zeros_like(batch_target),
                                         has_cond=torch.tensor([False, False]), prompts=["noise", "noise"]), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    drift = generation_drift(tuned, root, max_samples=4)
    assert drift["before"]["pixel_l1"] == 0.0  # adapters off = the base
    assert drift["after"]["pixel_l1"] > 0.0 and drift["delta"]["pixel_l1"] > 0.0
    assert drift["after"]["fm_loss"] != pytest.approx(drift["before"]["fm_loss"])
