"""The generator behind a small protocol, so a large pretrained generator can take the place of
the default model without touching training, sampling, the pipeline, the CLI or the server.

Conventions (fixed for every backend):
- images inside models are float32/bf16 tensors ``[B, 3, H, W]`` in ``[-1, 1]``;
- a batch is a :class:`Batch`: the target image, an optional condition image per sample
  (``has_cond`` False means text-to-image; its ``cond`` slot then holds zeros) and one
  instruction string per sample;
- ``sample`` returns images in ``[-1, 1]``; decoding to task answers happens outside backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from openbanana.batch import Batch  # lives below data/ and backends/; re-exported here
from openbanana.registry import Registry


@runtime_checkable
class GeneratorBackend(Protocol):
    """What training, sampling and the pipeline need from a generator."""

    #: registry key of the backend (``"tiny"``, ``"flux2-klein"``)
    name: str

    def training_loss(self, batch: Batch, generator: torch.Generator | None = None, *,
                      auxiliary: bool = True) -> torch.Tensor:
        """Scalar loss of the generator on ``batch`` (flow matching; one-step samples included), plus
        the backend's auxiliary training losses when ``auxiliary`` (held-out losses pass False; a
        backend that shifts its training times toward noise then draws them unshifted, so that
        held-out losses compare across models)."""

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
    ) -> torch.Tensor:
        """Generate ``[B, 3, height, width]`` images in [-1, 1] for ``prompts``, conditioned on ``cond``.

        ``one_step=True``: the deterministic one-step mode (no noise, one Euler step from t = 1)
        that dense tasks are trained in; backends without it may raise NotImplementedError.
        """

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters the optimiser updates (all, or only LoRA adapters)."""

    def save_pretrained(self, path: str | Path) -> None:
        """Write weights (safetensors only) and a JSON config to directory ``path``."""

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> GeneratorBackend:
        """Load what :meth:`save_pretrained` wrote (never unpickles)."""


#: backend name -> class implementing :class:`GeneratorBackend`
BACKENDS: Registry[type] = Registry("backend")
