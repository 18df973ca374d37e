"""``init_from`` with ``init_exclude``: keep a model's image weights, start a new text encoder."""

import pytest
import torch

from openbanana.backends.tiny import TinyBackend
from openbanana.pipeline_config import PipelineConfig
from openbanana.training.loop import _load_init_weights

BASE = {"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1], "emb_dim": 32,
        "text": {"dim": 32, "layers": 1, "heads": 2}}


def _saved(tmp_path) -> TinyBackend:
    torch.manual_seed(0)
    src = TinyBackend.from_config(BASE)
    src.save_pretrained(tmp_path / "backend")
    PipelineConfig(backend="tiny", resolution=16).save(tmp_path)
    return src


def test_init_exclude_keeps_image_weights_and_fresh_text(tmp_path):
    src = _saved(tmp_path)
    torch.manual_seed(1)
    dst = TinyBackend.from_config({**BASE, "text": {**BASE["text"], "tokenizer": "words", "buckets": 64}})
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    with pytest.raises(ValueError, match="another shape"):
        _load_init_weights(dst, tmp_path)
    _load_init_weights(dst, tmp_path, ["net.text."])
    own, ref = dst.state_dict(), src.state_dict()
    assert any(k.startswith("net.text.") for k in own)
    for k, v in own.items():
        expected = fresh[k] if k.startswith("net.text.") else ref[k]
        assert torch.equal(v, expected), k
