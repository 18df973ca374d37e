"""A micro ``tiny`` pipeline for tests of the scripts that ask a model about synthetic scenes."""

from __future__ import annotations

import torch

from openbanana.backends.tiny import TinyBackend, TinyConfig
from openbanana.pipeline import OpenBananaPipeline
from openbanana.pipeline_config import PipelineConfig

MICRO = {"size": "tiny-xs", "channels": 8, "channel_mults": [1, 2], "attn_levels": [1], "heads": 2, "emb_dim": 32,
         "prediction": "x", "text": {"dim": 32, "layers": 1, "heads": 2, "tokenizer": "words", "buckets": 64}}


def micro_pipeline(resolution: int = 32, **config) -> OpenBananaPipeline:
    """A randomly initialised (seed 0) micro pipeline; ``config``: TinyConfig fields over MICRO."""
    torch.manual_seed(0)
    backend = TinyBackend(TinyConfig.from_dict({**MICRO, **config}))
    return OpenBananaPipeline(backend, PipelineConfig(backend="tiny", resolution=resolution))
