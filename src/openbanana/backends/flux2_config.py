"""The typed configuration of the FLUX.2 [klein] backend, saved as JSON beside its weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openbanana.errors import check_config_keys

#: Linear layers inside the transformer blocks that LoRA adapts by default (name suffixes)
DEFAULT_LORA_TARGETS = (
    "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0",
    "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out",
    "ff.linear_in", "ff.linear_out", "ff_context.linear_in", "ff_context.linear_out",
    "attn.to_qkv_mlp_proj", "attn.to_out",
)


@dataclass
class Flux2KleinConfig:
    """Everything that defines a FLUX.2 [klein] backend; saved as JSON beside its weights.

    Attributes:
        pretrained: base pipeline: a local diffusers directory or a hub id.
        revision: hub revision of ``pretrained`` (None = default branch).
        finetune: ``"lora"`` (adapters only), ``"full"`` (every transformer weight) or ``"none"``
            (frozen: inference, replay generation, benchmarks).
        lora_rank, lora_alpha, lora_dropout: LoRA shape; the update is scaled by alpha / rank.
        lora_targets: suffixes of the transformer's Linear layers to adapt.
        bf16: keep frozen weights (VAE, text encoder, LoRA's base transformer) in bfloat16 and run the
            transformer under bf16 autocast; trainable weights stay float32.
        gradient_checkpointing: recompute transformer blocks in the backward pass (less memory).
        text_encoder_out_layers: Qwen3 hidden-state layers concatenated into the prompt features.
        max_sequence_length: prompts are padded/truncated to this many tokens (the base uses 512).
        text_cache_dir: directory of cached prompt embeddings (None: memory only).
        offload_text_encoder: keep the text encoder on the CPU when the model moves to a GPU (prompts
            missing from the cache are then encoded on the CPU, slowly): use after precomputing.
        timestep_sampling: training noise levels: ``"logit_normal"`` or ``"uniform"`` in (0, 1).
        logit_mean, logit_std: parameters of the logit-normal.
        shift_train_sigmas: apply the resolution-dependent shift the sampler uses to training sigmas.
        one_step_fraction: fraction of training samples drawn at sigma = 1 (pure noise), the level a
            noisy one-step sample starts from. (The deterministic one-step mode, zeros in at
            sigma = 1, is chosen per sample by the training loop through ``Batch.one_step``.)
        ref_scale: the input image enters as reference tokens at this fraction of its size (1 = as
            the base model edits; 0.5 = a quarter of the reference tokens, about half the compute
            of a 1024 px one-step prediction). Training and sampling use the same value.
        default_steps: denoising steps when a caller does not say.
        is_distilled: whether the base is the step-distilled model (text CFG off by default).
    """

    pretrained: str = "black-forest-labs/FLUX.2-klein-4B"
    revision: str | None = None
    finetune: str = "lora"
    lora_rank: int = 32
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS
    bf16: bool = True
    gradient_checkpointing: bool = True
    text_encoder_out_layers: tuple[int, ...] = (9, 18, 27)
    max_sequence_length: int = 512
    text_cache_dir: str | None = None
    offload_text_encoder: bool = False
    timestep_sampling: str = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    shift_train_sigmas: bool = True
    one_step_fraction: float = 0.0
    ref_scale: float = 1.0
    default_steps: int = 4
    is_distilled: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lora_targets = tuple(self.lora_targets)
        self.text_encoder_out_layers = tuple(int(i) for i in self.text_encoder_out_layers)
        problems = []
        if self.finetune not in ("lora", "full", "none"):
            problems.append(f"finetune must be 'lora', 'full' or 'none', got {self.finetune!r}")
        if self.lora_rank < 1:
            problems.append(f"lora_rank must be >= 1, got {self.lora_rank}")
        if self.timestep_sampling not in ("logit_normal", "uniform"):
            problems.append(f"timestep_sampling must be 'logit_normal' or 'uniform', got {self.timestep_sampling!r}")
        if not 0.0 <= self.one_step_fraction <= 1.0:
            problems.append(f"one_step_fraction must be in [0, 1], got {self.one_step_fraction}")
        if self.max_sequence_length < 1:
            problems.append(f"max_sequence_length must be >= 1, got {self.max_sequence_length}")
        if not 0 < self.ref_scale <= 1:
            problems.append(f"ref_scale must be in (0, 1], got {self.ref_scale}")
        if not self.text_encoder_out_layers:
            problems.append("text_encoder_out_layers must name at least one layer")
        if problems:
            raise ValueError("invalid Flux2KleinConfig:\n  " + "\n  ".join(problems))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flux2KleinConfig:
        check_config_keys(cls, data, "Flux2KleinConfig")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Flux2KleinConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
