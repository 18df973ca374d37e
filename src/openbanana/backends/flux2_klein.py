"""FLUX.2 [klein] through diffusers: a frontier open generator behind :class:`GeneratorBackend`.

The model (``Flux2KleinPipeline``: a rectified-flow DiT, a Qwen3 text encoder and the FLUX.2 VAE)
is used the way it edits images: the input image is VAE-encoded, patchified, normalised with the
VAE's latent batch-norm statistics and appended to the noisy target tokens as *reference tokens*
whose RoPE time coordinate is 10 (the target's is 0); the transformer's output on the target tokens
is the flow velocity ``noise - x0``. Instruction tuning is the ordinary rectified-flow loss on that
velocity in latent space, with the instruction as prompt, so the tuned model stays a FLUX.2 model
that diffusers can load (merged weights) or patch (LoRA files in diffusers' format).

Launch (see docs/frontier.md)::

    # 1 GPU, LoRA
    accelerate launch --config_file configs/accelerate/single_gpu.yaml -m openbanana.training ...
    # 8 GPUs, DDP / FSDP / ZeRO-2: pick the matching configs/accelerate/*.yaml
    # several nodes: configs/accelerate/multi_node.yaml with --machine_rank/--main_process_ip

Example:
    >>> backend = Flux2KleinBackend.from_pretrained("black-forest-labs/FLUX.2-klein-4B")  # doctest: +SKIP
    >>> loss = backend.training_loss(batch)                                               # doctest: +SKIP
    >>> rgb = backend.sample(cond, ["estimate the depth"], height=1024, width=1024)        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from openbanana.backends.base import BACKENDS, Batch
from openbanana.backends.flux2_config import DEFAULT_LORA_TARGETS, Flux2KleinConfig
from openbanana.backends.flux2_text_cache import TextEmbeddingCache
from openbanana.errors import check_config_keys
from openbanana.pipeline_config import InferenceDefaults, PipelineConfig, backend_dir

__all__ = ["DEFAULT_LORA_TARGETS", "Flux2KleinBackend", "Flux2KleinConfig", "write_pipeline_dir"]

CONFIG_NAME = "flux2_klein_config.json"
LORA_WEIGHTS_NAME = "pytorch_lora_weights.safetensors"  # diffusers' LoRA file name
REF_TIME_COORD = 10  # RoPE time coordinate of the first reference image (diffusers' ``scale``)

def _require_diffusers():
    try:
        import diffusers
        import peft  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the flux2-klein backend needs diffusers, transformers and peft: pip install 'openbanana[frontier]'"
        ) from err
    return diffusers


def _empirical_mu(image_seq_len: int, num_steps: int) -> float:
    from diffusers.pipelines.flux2.pipeline_flux2_klein import compute_empirical_mu

    return compute_empirical_mu(image_seq_len=image_seq_len, num_steps=num_steps)


def _exp_time_shift(sigma: torch.Tensor, mu: float) -> torch.Tensor:
    """The sampler's exponential time shift ``e^mu / (e^mu + 1/sigma - 1)`` (sigma = 1 stays 1)."""
    return math.exp(mu) / (math.exp(mu) + (1.0 / sigma - 1.0))


@BACKENDS.register("flux2-klein")
class Flux2KleinBackend(nn.Module):
    """FLUX.2 [klein] as a :class:`~openbanana.backends.base.GeneratorBackend`.

    An ``nn.Module`` whose only registered child is the transformer, so DDP, FSDP and DeepSpeed
    wrap, shard and all-reduce exactly the trained network; ``forward(batch)`` is
    :meth:`training_loss`. The VAE and the text encoder are frozen helpers held outside the module
    tree (moved with :meth:`to`), and the text encoder can be released once prompts are cached.

    Build with :meth:`from_pretrained` (a base pipeline, or a directory :meth:`save_pretrained` wrote).
    """

    name = "flux2-klein"

    def __init__(self, pipeline: Any, config: Flux2KleinConfig):
        super().__init__()
        _require_diffusers()
        self.config = config
        self.transformer = pipeline.transformer
        # Frozen helpers live outside the module tree (see class docstring).
        self.__dict__["vae"] = pipeline.vae
        self.__dict__["text_encoder"] = pipeline.text_encoder
        self.__dict__["tokenizer"] = pipeline.tokenizer
        self.__dict__["scheduler"] = pipeline.scheduler
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.multiple_of = self.vae_scale_factor * 2  # pixels per latent token
        self.text_cache = TextEmbeddingCache(self._text_fingerprint(), config.text_cache_dir, max_in_memory=64)
        self._setup_weights()

    # ------------------------------------------------------------------ construction
    def _setup_weights(self) -> None:
        cfg = self.config
        frozen_dtype = torch.bfloat16 if cfg.bf16 else torch.float32
        for module in (self.vae, self.text_encoder):
            if module is not None:
                _cast(module.requires_grad_(False).eval(), frozen_dtype)
        self.transformer.requires_grad_(False)
        if cfg.finetune == "lora":
            _cast(self.transformer, frozen_dtype)
            if not self.has_lora:
                self._add_lora()
        elif cfg.finetune == "full":
            _cast(self.transformer, torch.float32).requires_grad_(True)
        else:
            _cast(self.transformer, frozen_dtype)
        self.transformer.train(cfg.finetune != "none")
        if cfg.gradient_checkpointing:
            self.transformer.enable_gradient_checkpointing()

    @property
    def compute_dtype(self) -> torch.dtype:
        """dtype of the transformer's frozen weights and inputs (bf16 for LoRA with ``bf16``, else float32)."""
        return torch.bfloat16 if (self.config.bf16 and self.config.finetune != "full") else torch.float32

    @property
    def has_lora(self) -> bool:
        return bool(getattr(self.transformer, "peft_config", None))

    def _lora_target_names(self) -> list[str]:
        names = []
        for name, module in self.transformer.named_modules():
            if (isinstance(module, nn.Linear) and "_blocks." in name
                    and any(name == t or name.endswith("." + t) for t in self.config.lora_targets)):
                names.append(name)
        if not names:
            raise ValueError(f"lora_targets {list(self.config.lora_targets)} match no Linear layer of the transformer")
        return names

    def _add_lora(self) -> None:
        from peft import LoraConfig

        cfg = self.config
        lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=self._lora_target_names(), init_lora_weights=True)
        self.transformer.add_adapter(lora)
        for p in self.transformer.parameters():  # adapters train in float32 whatever the base dtype
            if p.requires_grad:
                p.data = p.data.float()

    @classmethod
    def from_pretrained(cls, path: str | Path, config: Flux2KleinConfig | None = None, *,
                        device: str | torch.device | None = None, **overrides: Any) -> Flux2KleinBackend:
        """Load a base pipeline, or a directory written by :meth:`save_pretrained`.

        Args:
            path: a diffusers ``Flux2KleinPipeline`` directory or hub id (the base), or a directory
                holding ``flux2_klein_config.json`` (a tuned backend: LoRA file or full transformer).
            config: backend config for a base (ignored keys: ``pretrained``); default
                :class:`Flux2KleinConfig`.
            device: where to put the model (default: stay on the CPU).
            **overrides: config fields to change (e.g. ``finetune="full"``, ``bf16=False``).

        Only safetensors weights are read.
        """
        diffusers = _require_diffusers()
        local = Path(path)
        tuned = local.is_dir() and (local / CONFIG_NAME).is_file()
        if tuned:
            cfg = Flux2KleinConfig.load(local / CONFIG_NAME)
        else:
            cfg = copy.deepcopy(config) if config is not None else Flux2KleinConfig()
            cfg.pretrained = str(local.resolve()) if local.is_dir() else str(path)  # saved configs work from any cwd
        check_config_keys(Flux2KleinConfig, overrides, "Flux2KleinConfig overrides")
        for key, value in overrides.items():
            setattr(cfg, key, value)
        cfg.__post_init__()
        dtype = torch.bfloat16 if cfg.bf16 else torch.float32
        parts = {}
        if tuned and (local / "transformer").is_dir():  # full fine-tune: its transformer, not the base's
            parts["transformer"] = diffusers.Flux2Transformer2DModel.from_pretrained(
                local / "transformer", dtype=torch.float32, use_safetensors=True
            )
        pipe = diffusers.Flux2KleinPipeline.from_pretrained(
            cfg.pretrained, revision=cfg.revision, dtype=dtype, use_safetensors=True, **parts
        )
        backend = cls(pipe, cfg)
        if tuned and (local / LORA_WEIGHTS_NAME).is_file():
            backend.load_lora(local / LORA_WEIGHTS_NAME)
        if device is not None:
            backend.to(device)
        return backend

    @classmethod
    def from_components(cls, components: dict[str, Any], config: Flux2KleinConfig) -> Flux2KleinBackend:
        """Build from in-memory pipeline components (``transformer, vae, text_encoder, tokenizer,
        scheduler``), e.g. :func:`openbanana.backends.flux2_random.build_components`."""
        diffusers = _require_diffusers()
        pipe = diffusers.Flux2KleinPipeline(**components, is_distilled=config.is_distilled)
        return cls(pipe, config)

    @classmethod
    def from_config(cls, config: dict[str, Any] | Flux2KleinConfig) -> Flux2KleinBackend:
        """Build from a config (dict or dataclass): loads ``config.pretrained`` as the base."""
        cfg = config if isinstance(config, Flux2KleinConfig) else Flux2KleinConfig.from_dict(dict(config))
        return cls.from_pretrained(cfg.pretrained, cfg)

    # ------------------------------------------------------------------ devices
    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    def _apply(self, fn, recurse=True):  # keep the frozen helpers beside the transformer
        super()._apply(fn, recurse)
        probe = fn(torch.zeros(()))
        self.vae.to(probe.device)
        if self.text_encoder is not None and not self.config.offload_text_encoder:
            self.text_encoder.to(probe.device)
        return self

    def release_text_encoder(self) -> None:
        """Drop the text encoder (after :meth:`precompute_text_embeddings`); cached prompts still work."""
        self.__dict__["text_encoder"] = None

    # ------------------------------------------------------------------ text
    def _text_fingerprint(self) -> str:
        te = self.text_encoder.config if self.text_encoder is not None else None
        parts = {
            "pretrained": self.config.pretrained,
            "revision": self.config.revision,
            "layers": list(self.config.text_encoder_out_layers),
            "max_len": self.config.max_sequence_length,
            "encoder": None if te is None else [te.hidden_size, te.num_hidden_layers, te.vocab_size],
            "bf16": self.config.bf16,
        }
        return json.dumps(parts, sort_keys=True)

    def _encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        from diffusers.pipelines.flux2.pipeline_flux2_klein import Flux2KleinPipeline

        n_layers = self.text_encoder.config.num_hidden_layers
        bad = [i for i in self.config.text_encoder_out_layers if not 0 <= i <= n_layers]
        if bad:
            raise ValueError(f"text_encoder_out_layers {bad} out of range for a {n_layers}-layer text encoder")
        with torch.no_grad():
            return Flux2KleinPipeline._get_qwen3_prompt_embeds(
                text_encoder=self.text_encoder, tokenizer=self.tokenizer, prompt=prompts,
                max_sequence_length=self.config.max_sequence_length,
                hidden_states_layers=self.config.text_encoder_out_layers,
            )

    def precompute_text_embeddings(self, prompts: list[str], batch_size: int = 8) -> int:
        """Encode every not-yet-cached prompt once; returns how many were new."""
        before = self.text_cache.misses
        self.text_cache.lookup(prompts, self._encode_prompts if self.text_encoder is not None else None,
                               batch_size=batch_size)
        return self.text_cache.misses - before

    def prompt_embeddings(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``([B, L, D] embeddings, [L, 4] text position ids)`` on the transformer's device."""
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise TypeError(f"prompts must be a non-empty list of str, got {prompts!r}")
        encode = self._encode_prompts if self.text_encoder is not None else None
        embeds = self.text_cache.lookup(prompts, encode)
        embeds = embeds.to(self.device, self.compute_dtype)
        txt_ids = torch.cartesian_prod(torch.arange(1), torch.arange(1), torch.arange(1),
                                       torch.arange(embeds.shape[1])).to(self.device)  # [L, 4] (t, h, w, l)
        return embeds, txt_ids

    # ------------------------------------------------------------------ latents
    def _check_size(self, height: int, width: int, what: str) -> None:
        m = self.multiple_of
        if height < m or width < m or height % m or width % m:
            raise ValueError(f"{what} must be positive multiples of {m} pixels, got {height}x{width}")

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` in [-1, 1] -> normalised, patchified latents ``[B, 4C, H/16, W/16]`` (real model)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images [B, 3, H, W], got shape {tuple(images.shape)}")
        self._check_size(images.shape[2], images.shape[3], "image size")
        vae = self.vae
        with torch.no_grad():
            latents = vae.encode(images.to(vae.device, vae.dtype)).latent_dist.mode()  # [B, C, H/8, W/8]
            latents = _patchify(latents)  # [B, 4C, H/16, W/16]
            mean, std = self._bn_stats(latents)
            return ((latents - mean) / std).float()

    def encode_reference(self, images: torch.Tensor) -> torch.Tensor:
        """Latents of an input image as reference tokens: :meth:`encode_images` after resizing by
        ``config.ref_scale`` (to a multiple of :attr:`multiple_of`, at least one token)."""
        scale = self.config.ref_scale
        if scale != 1.0:
            m = self.multiple_of
            h = max(m, round(images.shape[2] * scale / m) * m)
            w = max(m, round(images.shape[3] * scale / m) * m)
            images = torch.nn.functional.interpolate(images.float(), size=(h, w), mode="bilinear",
                                                     antialias=True, align_corners=False)
        return self.encode_images(images)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode_images`: ``[B, 4C, h, w]`` -> ``[B, 3, 16h, 16w]`` in [-1, 1]."""
        vae = self.vae
        mean, std = self._bn_stats(latents)
        latents = _unpatchify(latents.float() * std + mean)
        image = vae.decode(latents.to(vae.device, vae.dtype), return_dict=False)[0]
        return image.float().clamp(-1.0, 1.0)

    def _bn_stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bn, eps = self.vae.bn, self.vae.config.batch_norm_eps
        mean = bn.running_mean.view(1, -1, 1, 1).to(like.device, torch.float32)
        std = torch.sqrt(bn.running_var.view(1, -1, 1, 1).to(like.device, torch.float32) + eps)
        return mean, std

    @staticmethod
    def _image_ids(h: int, w: int, t: int, device: torch.device) -> torch.Tensor:
        """RoPE coordinates ``[h*w, 4]`` = (t, row, col, 0) of an ``h x w`` token grid, row-major."""
        return torch.cartesian_prod(torch.tensor([t]), torch.arange(h), torch.arange(w), torch.arange(1)).to(device)

    # ------------------------------------------------------------------ the network
    def predict_velocity(self, x_t: torch.Tensor, sigma: torch.Tensor, ref: torch.Tensor | None,
                         embeds: torch.Tensor, txt_ids: torch.Tensor) -> torch.Tensor:
        """Flow velocity ``noise - x0`` on the target tokens.

        Args:
            x_t: ``[B, C, h, w]`` noisy target latents (patchified, normalised).
            sigma: ``[B]`` noise level in [0, 1] (1 = pure noise).
            ref: ``[B, C, h', w']`` reference-image latents, or None (text-to-image).
            embeds: ``[B, L, D]`` prompt embeddings; txt_ids: ``[L, 4]``.

        Returns:
            ``[B, C, h, w]`` float32 velocity.
        """
        b, c, h, w = x_t.shape
        dev = self.device
        tokens = x_t.flatten(2).transpose(1, 2)  # [B, h*w, C]
        ids = self._image_ids(h, w, 0, dev)  # [h*w, 4]
        if ref is not None:
            tokens = torch.cat([tokens, ref.flatten(2).transpose(1, 2)], dim=1)  # [B, h*w + h'*w', C]
            ids = torch.cat([ids, self._image_ids(ref.shape[2], ref.shape[3], REF_TIME_COORD, dev)], dim=0)
        dtype = self.compute_dtype
        use_autocast = self.config.bf16 and dev.type in ("cuda", "cpu") and dtype == torch.float32
        amp = torch.autocast(dev.type, dtype=torch.bfloat16) if use_autocast else contextlib.nullcontext()
        with amp:
            out = self.transformer(
                hidden_states=tokens.to(dev, dtype), encoder_hidden_states=embeds.to(dtype),
                timestep=sigma.to(dev, dtype), img_ids=ids, txt_ids=txt_ids, guidance=None, return_dict=False,
            )[0]
        out = out[:, : h * w].float()  # [B, h*w, C]: drop the reference tokens
        return out.transpose(1, 2).reshape(b, c, h, w)

    # ------------------------------------------------------------------ training
    def _sample_sigmas(self, n: int, seq_len: int, generator: torch.Generator | None) -> torch.Tensor:
        cfg = self.config
        gdev = _gen_device(generator, self.device)
        if cfg.timestep_sampling == "logit_normal":
            u = torch.sigmoid(cfg.logit_mean + cfg.logit_std * torch.randn(n, generator=generator, device=gdev))
        else:
            u = torch.rand(n, generator=generator, device=gdev)
        u = u.clamp(1e-3, 1.0)
        if cfg.shift_train_sigmas:
            u = _exp_time_shift(u, _empirical_mu(seq_len, cfg.default_steps))
        if cfg.one_step_fraction > 0:
            one = torch.rand(n, generator=generator, device=gdev) < cfg.one_step_fraction
            u = torch.where(one, torch.ones_like(u), u)
        return u

    def training_loss(self, batch: Batch, generator: torch.Generator | None = None, *,
                      auxiliary: bool = True) -> torch.Tensor:
        """Rectified-flow loss ``|| v(x_t, sigma) - (noise - x0) ||^2`` in latent space.

        ``x_t = (1 - sigma) x0 + sigma noise`` with x0 the target's latents; samples with an input
        image see it as reference tokens, the others are text-to-image. Samples flagged
        ``batch.one_step`` are trained in the deterministic one-step mode: zeros in at sigma = 1, so
        the velocity target is ``-x0`` and one Euler step returns the answer. Noise and sigmas come
        from ``generator`` (any device) when given, so a fixed seed gives a fixed loss.

        Args:
            batch: target ``[B, 3, H, W]`` and cond in [-1, 1], has_cond ``[B]``, B prompts,
                optional one_step ``[B]`` bool.
            generator: torch.Generator for the noise and noise levels.
            auxiliary: the protocol's switch for auxiliary losses; this backend has none.

        Returns:
            scalar float32 loss (mean over samples, latent channels and positions).
        """
        if batch.target is None:
            raise ValueError("training_loss needs batch.target (the image to generate), got None")
        if batch.weight is not None:
            raise ValueError("per-pixel loss weights (objective.foreground_weight) need a pixel-space backend; "
                             "this one trains in latent space: set objective.foreground_weight to 0")
        b = batch.target.shape[0]
        if len(batch.prompts) != b or batch.cond.shape[0] != b or batch.has_cond.shape[0] != b:
            raise ValueError(f"batch fields disagree on the batch size: target {b}, cond {batch.cond.shape[0]}, "
                             f"has_cond {batch.has_cond.shape[0]}, prompts {len(batch.prompts)}")
        dev = self.device
        has_cond = batch.has_cond.to("cpu").bool()
        n_ref = int(has_cond.sum())
        if self.config.ref_scale == 1.0:
            pixels = torch.cat([batch.target, batch.cond[has_cond]]) if n_ref else batch.target
            if n_ref and batch.cond.shape[2:] != batch.target.shape[2:]:
                raise ValueError(f"cond {tuple(batch.cond.shape[2:])} and target {tuple(batch.target.shape[2:])} "
                                 "must have the same size in a training batch")
            latents = self.encode_images(pixels.to(dev))  # one VAE pass: [B + n_ref, C, h, w]
            x0, ref = latents[:b], (latents[b:] if n_ref else None)
        else:
            x0 = self.encode_images(batch.target.to(dev))
            ref = self.encode_reference(batch.cond[has_cond].to(dev)) if n_ref else None
        embeds, txt_ids = self.prompt_embeddings(list(batch.prompts))
        noise = torch.randn(x0.shape, generator=generator, device=_gen_device(generator, dev)).to(dev)
        sigma = self._sample_sigmas(b, x0.shape[2] * x0.shape[3], generator).to(dev)
        if batch.one_step is not None and batch.one_step.any():
            one = batch.one_step.to(dev).bool()
            sigma = torch.where(one, torch.ones_like(sigma), sigma)
            noise = noise * (~one).to(noise.dtype).view(-1, 1, 1, 1)  # zeros in for one-step samples
        x_t = (1.0 - sigma.view(-1, 1, 1, 1)) * x0 + sigma.view(-1, 1, 1, 1) * noise
        target = noise - x0
        # The transformer shares one token layout per call: run image-conditioned and text-only
        # samples as two groups and weight them by size.
        total = x0.new_zeros(())
        for mask, r, with_ref in ((has_cond, ref, True), (~has_cond, None, False)):
            if not mask.any():
                if self._sharded():  # FSDP: every process must make the same transformer calls (each
                    # gathers the weights), whatever its batch holds: a zero-weighted pass on sample 0
                    v = self.predict_velocity(x_t[:1], sigma[:1], x0[:1] if with_ref else None, embeds[:1], txt_ids)
                    total = total + 0.0 * v.sum()
                continue
            idx = mask.nonzero().squeeze(1).to(dev)
            v = self.predict_velocity(x_t[idx], sigma[idx], r, embeds[idx], txt_ids)
            total = total + ((v - target[idx]) ** 2).mean(dim=(1, 2, 3)).sum()
        return total / b

    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """Same as :meth:`training_loss` (so DDP/FSDP wrappers see a forward call)."""
        return self.training_loss(batch, generator)

    def _sharded(self) -> bool:
        """Whether FSDP2 shards the transformer or its blocks (inside the forward their parameters are
        plain gathered tensors, so the module types tell)."""
        from torch.distributed.fsdp import FSDPModule

        return any(isinstance(m, FSDPModule) for m in (self.transformer, *self.fsdp_units()))

    def fsdp_units(self) -> list[nn.Module]:
        """The transformer blocks, double-stream then single-stream: under FSDP2 (the training loop's
        ``fsdp: true``) each becomes one unit, gathered only while its block runs; the root unit keeps
        the embedders, the modulation and the output layers. Each block is entered through its own
        ``forward`` (also under gradient checkpointing), as FSDP2 requires."""
        return [*self.transformer.transformer_blocks, *self.transformer.single_transformer_blocks]

    def trainable_parameters(self) -> list[nn.Parameter]:
        """LoRA adapter weights (``finetune="lora"``) or every transformer weight (``"full"``)."""
        return [p for p in self.transformer.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(
        self,
        cond: torch.Tensor | None,
        prompts: list[str],
        *,
        height: int,
        width: int,
        num_inference_steps: int = 1,
        guidance_text: float = 1.0,
        guidance_image: float = 1.0,
        generator: torch.Generator | None = None,
        one_step: bool = False,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Generate images for ``prompts`` with the flow-matching Euler sampler of the base pipeline.

        Args:
            cond: ``[B, 3, H', W']`` input images in [-1, 1] (reference tokens), or None for text-to-image.
                ``H', W'`` and ``height, width`` must be multiples of :attr:`multiple_of` (16 for klein).
            prompts: B instruction strings.
            height, width: output size in pixels.
            num_inference_steps: Euler steps (sigmas ``linspace(1, 1/n, n)`` shifted as the pipeline does).
            guidance_text: classifier-free guidance on the prompt (1 = off; empty prompt as negative).
            guidance_image: guidance on the reference image (1 = off; InstructPix2Pix-style).
            generator: torch.Generator (any device) for the initial noise.
            one_step: the deterministic one-step mode (zeros in at sigma = 1, one Euler step; what
                dense tasks are trained for): ``num_inference_steps`` and ``generator`` are ignored.
            noise: optional initial latents ``[B, C, height/16, width/16]`` (instead of drawing them
                from ``generator``), e.g. one seeded draw per sample so results do not depend on batching.

        Returns:
            ``[B, 3, height, width]`` float32 in [-1, 1], on the backend's device.
        """
        b = len(prompts)
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        self._check_size(height, width, "output size")
        if cond is not None and cond.shape[0] != b:
            raise ValueError(f"cond has {cond.shape[0]} images but {b} prompts were given")
        was_training = self.transformer.training
        self.transformer.eval()
        dev = self.device
        ref = None if cond is None else self.encode_reference(cond.to(dev))
        embeds, txt_ids = self.prompt_embeddings(list(prompts))
        use_txt_cfg = guidance_text != 1.0
        use_img_cfg = guidance_image != 1.0 and ref is not None
        if use_txt_cfg or use_img_cfg:
            empty, _ = self.prompt_embeddings([""] * b)
        c = self.transformer.config.in_channels
        h, w = height // self.multiple_of, width // self.multiple_of
        if one_step:
            num_inference_steps = 1
            x = torch.zeros((b, c, h, w), device=dev)  # [B, C, h, w]
        elif noise is not None:
            if tuple(noise.shape) != (b, c, h, w):
                raise ValueError(f"noise must have shape {(b, c, h, w)}, got {tuple(noise.shape)}")
            x = noise.to(dev, torch.float32)
        else:
            x = torch.randn((b, c, h, w), generator=generator, device=_gen_device(generator, dev)).to(dev)

        from diffusers.pipelines.flux2.pipeline_flux2_klein import retrieve_timesteps

        scheduler = copy.deepcopy(self.scheduler)
        sigmas = np.linspace(1.0, 1.0 / num_inference_steps, num_inference_steps)
        timesteps, _ = retrieve_timesteps(scheduler, num_inference_steps, dev, sigmas=sigmas,
                                          mu=_empirical_mu(h * w, num_inference_steps))
        scheduler.set_begin_index(0)
        for t in timesteps:
            sigma = (t / 1000.0).expand(b).float()
            v = self.predict_velocity(x, sigma, ref, embeds, txt_ids)
            if use_txt_cfg or use_img_cfg:
                v_img = self.predict_velocity(x, sigma, ref, empty, txt_ids) if ref is not None else None
                v_none = self.predict_velocity(x, sigma, None, empty, txt_ids)
                if ref is None:
                    v = v_none + guidance_text * (v - v_none)
                else:  # v_uu + gi (v_iu - v_uu) + gt (v_it - v_iu)
                    v = v_none + guidance_image * (v_img - v_none) + guidance_text * (v - v_img)
            x = scheduler.step(v, t, x, return_dict=False)[0].float()
        if was_training:
            self.transformer.train()
        return self.decode_latents(x)

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """``(C, h, w)`` of the packed latents of a ``height x width`` image."""
        self._check_size(height, width, "image size")
        return self.transformer.config.in_channels, height // self.multiple_of, width // self.multiple_of

    @contextlib.contextmanager
    def adapters_disabled(self) -> Iterator[Flux2KleinBackend]:
        """Run the base model (LoRA adapters off) inside the block; a no-op without adapters."""
        if not self.has_lora:
            yield self
            return
        self.transformer.disable_adapters()
        try:
            yield self
        finally:
            self.transformer.enable_adapters()

    # ------------------------------------------------------------------ saving
    def lora_state_dict(self) -> dict[str, torch.Tensor]:
        """The adapters in diffusers' LoRA format (keys ``transformer.<module>.lora_A.weight``)."""
        from peft.utils import get_peft_model_state_dict

        if not self.has_lora:
            raise ValueError("this backend has no LoRA adapters (finetune='full')")
        sd = get_peft_model_state_dict(self.transformer)
        return {f"transformer.{k}": v.detach().to("cpu").contiguous() for k, v in sd.items()}

    def load_lora(self, path: str | Path) -> None:
        """Load adapters written by :meth:`save_pretrained` (or diffusers' ``save_lora_weights``)."""
        from peft.utils import set_peft_model_state_dict

        sd = load_file(str(path))
        sd = {k.removeprefix("transformer."): v for k, v in sd.items()}
        result = set_peft_model_state_dict(self.transformer, sd)
        unexpected = getattr(result, "unexpected_keys", None) or []
        if unexpected:
            raise ValueError(f"{path}: {len(unexpected)} LoRA weights match no adapter, e.g. {unexpected[0]!r}")
        for p in self.trainable_parameters():
            p.data = p.data.float()

    def save_pretrained(self, path: str | Path) -> None:
        """Write the config (JSON) and the trained weights (safetensors) to directory ``path``.

        LoRA: ``pytorch_lora_weights.safetensors`` in diffusers' format (``pipe.load_lora_weights``
        reads it). Full: ``transformer/`` as a diffusers model directory. The base is referenced by
        ``config.pretrained``; :meth:`save_merged` writes a standalone pipeline instead.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.config.save(path / CONFIG_NAME)
        if self.config.finetune == "lora":
            save_file(self.lora_state_dict(), str(path / LORA_WEIGHTS_NAME), metadata={"format": "pt"})
        elif self.config.finetune == "full":
            self.transformer.save_pretrained(path / "transformer", safe_serialization=True)

    def merged_transformer_state_dict(self) -> dict[str, torch.Tensor]:
        """Transformer weights with the LoRA update folded in, under the base model's key names.

        ``W = W_base + sum over active adapters of (alpha / r) B A``, computed on copies: the live
        model is not touched.
        """
        from peft.tuners.lora import LoraLayer

        out = {}
        for k, v in self.transformer.state_dict().items():
            if "lora_" not in k:
                out[k.replace(".base_layer.", ".")] = v.detach().to("cpu").clone()
        for name, module in self.transformer.named_modules():
            if isinstance(module, LoraLayer):
                weight = module.get_base_layer().weight.detach().float()
                for adapter in module.active_adapters:
                    if adapter in module.lora_A:
                        weight = weight + module.get_delta_weight(adapter).float()
                out[f"{name}.weight"] = weight.to(module.get_base_layer().weight.dtype).to("cpu")
        return {k: v.contiguous() for k, v in out.items()}

    def save_merged(self, path: str | Path, dtype: torch.dtype | None = None) -> None:
        """Write a standalone diffusers ``Flux2KleinPipeline`` directory with merged weights.

        The result loads with ``Flux2KleinPipeline.from_pretrained(path)`` or, as a base, with
        :meth:`from_pretrained`. Needs the text encoder (not released).
        """
        import diffusers

        if self.text_encoder is None:
            raise ValueError("save_merged needs the text encoder, which was released")
        sd = self.merged_transformer_state_dict()
        if dtype is not None:
            sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in sd.items()}
        with torch.device("meta"):
            clean = diffusers.Flux2Transformer2DModel.from_config(self.transformer.config)
        clean.load_state_dict(sd, assign=True, strict=True)
        pipe = diffusers.Flux2KleinPipeline(
            scheduler=self.scheduler, vae=self.vae, text_encoder=self.text_encoder,
            tokenizer=self.tokenizer, transformer=clean, is_distilled=self.config.is_distilled,
        )
        pipe.save_pretrained(Path(path), safe_serialization=True)


def _gen_device(generator: torch.Generator | None, default: torch.device) -> torch.device:
    """Where random numbers are drawn: the generator's device, else ``default``."""
    return generator.device if generator is not None else default


def _cast(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``module.to(dtype)`` only where a floating parameter has another dtype (diffusers warns on every cast)."""
    if any(p.is_floating_point() and p.dtype != dtype for p in module.parameters()):
        module.to(dtype)
    return module


def _patchify(latents: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B, 4C, H/2, W/2]`` (2x2 patches, channel-major), as FLUX.2 packs latents."""
    b, c, h, w = latents.shape
    x = latents.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)  # [B, C, 2, 2, H/2, W/2]
    return x.reshape(b, c * 4, h // 2, w // 2)


def _unpatchify(latents: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_patchify`."""
    b, c4, h, w = latents.shape
    x = latents.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)  # [B, C, H/2, 2, W/2, 2]
    return x.reshape(b, c4 // 4, h * 2, w * 2)


# ============================================================================ pipeline folders
def write_pipeline_dir(backend: Flux2KleinBackend, out: str | Path, *, resolution: int = 1024,
                       **inference: Any) -> Path:
    """Make ``out`` an openbanana pipeline folder (``pipeline.json`` + ``backend/``) for ``backend``.

    ``openbanana predict --model out`` and ``openbanana eval --model out`` then run it. The
    backend folder holds the config and, for a tuned backend, its weights (LoRA file or full
    transformer); a ``finetune="none"`` backend (the untuned base: the zero-shot baseline) holds
    only the config, which names the base by hub id or path.

    Args:
        backend: the backend to wrap; out: folder to write.
        resolution: square side the pipeline resizes inputs to (a multiple of 16).
        **inference: fields of :class:`openbanana.pipeline_config.InferenceDefaults`
            (default here: 4 steps, dense tasks one-step).
    """
    if resolution % backend.multiple_of:
        raise ValueError(f"resolution must be a multiple of {backend.multiple_of}, got {resolution}")
    out = Path(out)
    backend.save_pretrained(backend_dir(out))
    inf = {"num_inference_steps": backend.config.default_steps, **inference}
    PipelineConfig(backend=backend.name, resolution=resolution, inference=InferenceDefaults(**inf)).save(out)
    return out
