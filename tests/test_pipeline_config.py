import json

import pytest

from openbanana.pipeline_config import DENSE_TASKS, InferenceDefaults, PipelineConfig, backend_dir


def test_round_trip_and_layout(tmp_path):
    pc = PipelineConfig(backend="tiny", resolution=64, inference=InferenceDefaults(num_inference_steps=8),
                        training={"steps": 3})
    f = pc.save(tmp_path)
    assert f == tmp_path / "pipeline.json"
    d = json.loads(f.read_text())
    assert d["inference"]["dense_tasks"] == list(DENSE_TASKS) and d["inference"]["one_step_dense"] is True
    assert PipelineConfig.load(tmp_path) == pc == PipelineConfig.load(f)
    assert backend_dir(tmp_path) == tmp_path / "backend"


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="pipeline.json"):
        PipelineConfig.load(tmp_path)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['resolutoin'\] in PipelineConfig"):
        PipelineConfig.from_dict({"backend": "tiny", "resolutoin": 3})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['steps'\] in PipelineConfig.inference"):
        PipelineConfig.from_dict({"inference": {"steps": 3}})
    with pytest.raises(ValueError, match="multiple of 8"):
        PipelineConfig.from_dict({"resolution": 30})
    with pytest.raises(ValueError, match="num_inference_steps"):
        PipelineConfig.from_dict({"inference": {"num_inference_steps": 0}})
