import json
from pathlib import Path

import pytest

from openbanana.training.config import StageConfig, TrainConfig, apply_overrides
from openbanana.training.loop import lr_at

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.json"))


def test_json_round_trip(tmp_path):
    cfg = TrainConfig(stages=[StageConfig(name="a", steps=5), StageConfig(name="b", steps=7, data={"vision_share": 0.1})])
    cfg.save(tmp_path)
    back = TrainConfig.load(tmp_path)
    assert back == cfg and back.stages[1].data == {"vision_share": 0.1}


def test_overrides_dotted_paths_and_types():
    d = apply_overrides({"stages": [{"steps": 1}], "backend_config": {"size": "tiny-xs"}},
                        ["stages.0.steps=30", "backend_config.size=tiny-m", "max_minutes=2.5", "init_from=null"])
    assert d == {"stages": [{"steps": 30}], "backend_config": {"size": "tiny-m"}, "max_minutes": 2.5, "init_from": None}
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides({}, ["steps"])
    with pytest.raises(ValueError, match="not an index"):
        apply_overrides({"stages": [{}]}, ["stages.3.steps=1"])


def test_unknown_keys_and_bad_values_fail_loudly(tmp_path):
    with pytest.raises(ValueError, match="unknown key.*batch_sise"):
        TrainConfig.from_dict({"batch_sise": 3})
    with pytest.raises(ValueError, match=r"stages\[0\]"):
        TrainConfig.from_dict({"stages": [{"stepz": 3}]})
    with pytest.raises(ValueError) as e:
        TrainConfig.from_dict({"batch_size": 0, "resolution": 30, "objective": {"p_drop_text": 2}})
    msg = str(e.value)
    assert "batch_size" in msg and "resolution" in msg and "p_drop_text" in msg
    with pytest.raises(FileNotFoundError):
        TrainConfig.load(tmp_path / "nope.json")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load_with_their_data_config(path):
    from openbanana.data.training_sources import training_source

    cfg = TrainConfig.load(path)
    source = training_source(cfg.data_source)
    for stage in cfg.stages:
        dc = source.make_config(stage.data, cfg.resolution)
        assert dc.size == cfg.resolution


def test_recipe_configs_follow_the_paper():
    pre, ins = TrainConfig.load(CONFIGS[0].parent / "pretrain.json"), TrainConfig.load(CONFIGS[0].parent / "instruct.json")
    assert pre.stages[0].data["vision_share"] == 0.0
    assert ins.stages[0].data["vision_share"] == 0.1 and ins.init_from
    gpu = json.loads((CONFIGS[0].parent / "default-gpu.json").read_text())
    assert [s["name"] for s in gpu["stages"]] == ["pretrain", "instruct"]


def test_lr_schedule_values():
    s = StageConfig(steps=110, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, s) == pytest.approx(0.1)
    assert lr_at(9, s) == pytest.approx(1.0)
    assert lr_at(10, s) == pytest.approx(1.0)
    assert lr_at(60, s) == pytest.approx(0.55)
    assert lr_at(110, s) == pytest.approx(0.1)
    assert lr_at(500, s) == pytest.approx(0.1)
