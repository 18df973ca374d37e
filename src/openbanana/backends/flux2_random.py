"""Randomly initialised FLUX.2 [klein] pipelines built from the real diffusers/transformers classes.

Nothing can be downloaded in tests or on an offline benchmark machine, and a model's speed and memory
do not depend on its weights' values. This module builds ``Flux2KleinPipeline`` components with
random weights (fixed seed) at two sizes:

- ``"tiny"``: 1 double + 1 single block, 2 heads of 16, a two-block 16-channel VAE with 4 latent
  channels, a 3-layer Qwen3 of width 16: seconds on a CPU, for tests and ``--tiny`` smoke runs;
- ``"klein-4b"``: the published FLUX.2 [klein] 4B geometry, for speed/memory benchmarks.

Source of the ``klein-4b`` values: the ``klein-4b`` entry of diffusers'
``scripts/convert_flux2_to_diffusers.py`` (transformer: 5 double + 20 single blocks, 24 heads of 128,
``in_channels`` 128, ``joint_attention_dim`` 7680, ``mlp_ratio`` 3, RoPE axes 4 x 32, theta 2000,
no guidance embedding), Qwen3-4B for the text encoder (hidden 2560, 36 layers, 32 heads / 8 KV heads of
128, MLP 9728, vocab 151936; prompt features from layers 9, 18, 27 -> 3 x 2560 = 7680) and the
``AutoencoderKLFlux2`` defaults for the VAE (32 latent channels, blocks 128/256/512/512).

The tokenizer is a byte-level BPE trained here on a few sentences, wrapped in
``PreTrainedTokenizerFast`` with a Qwen-style chat template: its ids are valid for either text encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

#: the prompt-feature layers the pipeline reads for each size (``text_encoder_out_layers``)
OUT_LAYERS: dict[str, tuple[int, ...]] = {"tiny": (1, 2, 3), "klein-4b": (9, 18, 27)}

_TRANSFORMER: dict[str, dict[str, Any]] = {
    "tiny": {
        "patch_size": 1, "in_channels": 16, "num_layers": 1, "num_single_layers": 1, "attention_head_dim": 16,
        "num_attention_heads": 2, "joint_attention_dim": 48, "timestep_guidance_channels": 32, "mlp_ratio": 3.0,
        "axes_dims_rope": (4, 4, 4, 4), "rope_theta": 2000, "eps": 1e-6, "guidance_embeds": False,
    },
    "klein-4b": {
        "patch_size": 1, "in_channels": 128, "num_layers": 5, "num_single_layers": 20, "attention_head_dim": 128,
        "num_attention_heads": 24, "joint_attention_dim": 7680, "timestep_guidance_channels": 256, "mlp_ratio": 3.0,
        "axes_dims_rope": (32, 32, 32, 32), "rope_theta": 2000, "eps": 1e-6, "guidance_embeds": False,
    },
}

_VAE: dict[str, dict[str, Any]] = {
    "tiny": {
        "down_block_types": ("DownEncoderBlock2D",) * 2, "up_block_types": ("UpDecoderBlock2D",) * 2,
        "block_out_channels": (16, 16), "layers_per_block": 1, "latent_channels": 4, "norm_num_groups": 4,
        "sample_size": 32,
    },
    "klein-4b": {},  # the class defaults are the FLUX.2 VAE
}

_TEXT: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2,
        "num_key_value_heads": 1, "head_dim": 8, "max_position_embeddings": 1024,
    },
    "klein-4b": {
        "hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 40960, "vocab_size": 151936,
        "rope_theta": 1_000_000, "tie_word_embeddings": True,
    },
}

_SCHEDULER = {
    "num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": True, "base_shift": 0.5, "max_shift": 1.15,
    "base_image_seq_len": 256, "max_image_seq_len": 4096, "time_shift_type": "exponential",
}

_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)

_SENTENCES = [
    "estimate the metric depth of this image and draw it with the depth colour code",
    "draw the surface normals of this image in camera coordinates",
    "segment the road, the sky and the cars with the given colours on black",
    "a photo of a red chair in a sunny room, high quality",
    "replace the sky with a sunset and keep everything else",
    "paint the person on the left in magenta",
]


def _require_frontier() -> None:
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the FLUX.2 [klein] backend needs diffusers and transformers: pip install 'openbanana[frontier]'"
        ) from err


def build_tokenizer(vocab_size: int = 400):
    """A byte-level BPE trained on a few sentences, as a ``PreTrainedTokenizerFast`` with a chat template."""
    _require_frontier()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(_SENTENCES, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="right"
    )
    tok.chat_template = _CHAT_TEMPLATE
    return tok


def build_components(size: str = "tiny", *, seed: int = 0, device: str | torch.device = "cpu",
                     dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """Build the five pipeline components with random weights.

    Args:
        size: ``"tiny"`` or ``"klein-4b"`` (the published 4B geometry).
        seed: torch seed for the weights (the same seed gives the same weights).
        device: where to allocate the weights (``"cuda"`` for the full size: it skips a CPU copy).
        dtype: parameter dtype.

    Returns:
        ``{"transformer", "vae", "text_encoder", "tokenizer", "scheduler"}``, ready for
        ``Flux2KleinPipeline(**components)``.
    """
    if size not in _TRANSFORMER:
        raise ValueError(f"size must be one of {sorted(_TRANSFORMER)}, got {size!r}")
    _require_frontier()
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = build_tokenizer()
    text_kwargs = dict(_TEXT[size])
    text_kwargs.setdefault("vocab_size", len(tokenizer))
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # allocate directly in ``dtype`` (no float32 copy of a 4B model)
    try:
        with torch.device(device):
            transformer = Flux2Transformer2DModel(**_TRANSFORMER[size])
            vae = AutoencoderKLFlux2(**_VAE[size])
            text_encoder = Qwen3ForCausalLM(Qwen3Config(**text_kwargs))
    finally:
        torch.set_default_dtype(previous)
    # Random latent statistics, so the VAE's batch-norm (de)normalisation is exercised, not the identity.
    gen = torch.Generator().manual_seed(seed + 1)
    n = vae.bn.running_mean.numel()
    vae.bn.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
    vae.bn.running_var.copy_(1.0 + 0.5 * torch.rand(n, generator=gen))
    for module in (transformer, vae, text_encoder):
        module.eval()
    scheduler = FlowMatchEulerDiscreteScheduler(**_SCHEDULER)
    return {"transformer": transformer, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
                "scheduler": scheduler}


def save_random_pipeline(path: str | Path, size: str = "tiny", *, seed: int = 0) -> Path:
    """Write a random ``Flux2KleinPipeline`` as a diffusers directory (safetensors) and return it."""
    from diffusers import Flux2KleinPipeline

    path = Path(path)
    pipe = Flux2KleinPipeline(**build_components(size, seed=seed), is_distilled=True)
    pipe.save_pretrained(path, safe_serialization=True)
    return path
