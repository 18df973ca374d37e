"""Train a micro model on the toy source, export, load the pipeline back, start a stage from it."""

import json

import pytest
import torch
from safetensors.torch import load_file

from openbanana.backends import BACKENDS
from openbanana.pipeline_config import PipelineConfig, backend_dir
from openbanana.training.config import TrainConfig
from openbanana.training.loop import train

MICRO = {"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1], "emb_dim": 32,
         "text": {"dim": 32, "layers": 1, "heads": 2}}


def _cfg(**kw):
    d = {"backend": "tiny", "backend_config": MICRO, "data_source": "toy", "resolution": 16, "batch_size": 8,
         "stages": [{"name": "pretrain", "data": {"vision_share": 0.3}, "steps": 20, "lr": 3e-3, "warmup_steps": 2}],
         "ckpt_every": 0, "eval_batches": 2, "ema_decay": 0.9, "inference": {"num_inference_steps": 4}}
    d.update(kw)
    return TrainConfig.from_dict(d)


@pytest.mark.slow
def test_train_export_load_and_init_from(tmp_path):
    out = train(_cfg(), tmp_path / "run", progress=False)
    pc = PipelineConfig.load(out)
    assert pc.backend == "tiny" and pc.resolution == 16 and pc.inference.num_inference_steps == 4
    assert pc.training["steps"] == 20 and pc.training["images_seen"] == 160
    hist = pc.training["history"]
    init, end = hist[0]["heldout"]["gen"], hist[-1]["heldout"]["gen"]
    assert end["generation"] < 0.9 * init["generation"]  # it learned something
    assert end["depth"] < init["depth"]

    backend = BACKENDS.get(pc.backend).from_pretrained(backend_dir(out))
    ema = load_file(str(out / "checkpoints" / "step_0000020" / "ema.safetensors"))
    for name, p in backend.named_parameters():
        assert torch.equal(p, ema[name]), name
    img = backend.sample(None, ["a red square at the top left on blue"], height=16, width=16,
                         num_inference_steps=pc.inference.num_inference_steps,
                         generator=torch.Generator().manual_seed(0))
    assert img.shape == (1, 3, 16, 16)

    # stage 2 alone, started from the exported pipeline: its first evaluation sees the same weights
    run2 = train(_cfg(init_from=str(out), stages=[{"name": "instruct", "data": {"vision_share": 0.3}, "steps": 1,
                                                    "lr": 1e-4, "warmup_steps": 1}]),
                 tmp_path / "run2", progress=False)
    hist2 = json.loads((run2 / "training_summary.json").read_text())["history"]
    for k, v in end.items():
        assert hist2[0]["heldout"]["gen"][k] == pytest.approx(v, rel=1e-5)
