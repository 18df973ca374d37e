"""The registry of training data sources: names, configs and streams."""

from __future__ import annotations

import pytest

from openbanana.data.training_sources import TRAINING_SOURCES, training_source
from openbanana.training.config import TrainConfig


@pytest.mark.parametrize("name", TRAINING_SOURCES.names())
def test_every_source_fills_its_config_from_a_stage(name):
    source = training_source(name)
    assert source.name == name
    needs = {"flux2": {"replay_dir": "replay"}}.get(name, {})  # what a source has no default for
    cfg = source.make_config(needs, 32, split="val")
    assert getattr(cfg, "size", 32) == 32 and getattr(cfg, "split", "val") == "val"
    with pytest.raises(ValueError, match="unknown data key"):
        source.make_config({"no_such_key": 1}, 32)


def test_toy_stream_starts_where_it_is_asked():
    source = training_source("toy")
    cfg = source.make_config({}, 16)
    whole = [s["prompt"] for s, _ in zip(source.build_dataset(cfg, seed=0), range(5), strict=False)]
    later = [s["prompt"] for s, _ in zip(source.build_dataset(cfg, seed=0, start=2), range(3), strict=False)]
    assert later == whole[2:]
    assert source.collate([next(iter(source.build_dataset(cfg, seed=0)))]).target.shape[-1] == 16


def test_a_registered_source_is_a_valid_data_source():
    with pytest.raises(ValueError, match="data_source"):
        TrainConfig(data_source="mine")
    with TRAINING_SOURCES.registered("mine", lambda: training_source("toy")):
        assert TrainConfig(data_source="mine").data_source == "mine"
