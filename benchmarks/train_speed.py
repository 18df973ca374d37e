"""Training throughput: images per second of one training step (forward, loss, backward, AdamW),
the rate other benchmarks print theirs against (e.g. the synthetic world's scenes/s).

A helper of the scripts in ``benchmarks/`` (``from train_speed import ...``: a script's own folder
is on ``sys.path``), not part of the package.

The step is the loop's: ``backend.training_loss`` on a batch of image-conditioned samples, half of
them one-step, bf16 autocast on CUDA. Weights are random: their values do not change the speed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from openbanana.backends.base import Batch

_PROMPTS = (
    "Estimate the depth of this image using the colour path from black to white.",
    "Colour each pixel by its class. floor: rgb(128, 64, 0); the wall is represented by [102,102,156]",
    "a wooden table and two chairs in a bright room",
    "make the sofa red",
)


def default_backend_config() -> dict:
    """The shipped default model's backend config (``weights/default/backend/config.json``)."""
    from openbanana.pipeline import DEFAULT_MODEL_DIR

    path = Path(DEFAULT_MODEL_DIR) / "backend" / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no default model config at {path}")
    cfg = json.loads(path.read_text())
    cfg.pop("backend", None)  # the registry name, not an architecture field
    return cfg


def time_call(fn, device: torch.device, min_s: float, warmup: int = 1) -> float:
    """Median seconds per call of ``fn`` over repetitions totalling at least ``min_s`` (>= 2 calls)."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    t_end = time.perf_counter() + min_s
    while time.perf_counter() < t_end or len(times) < 2:
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def measure_train_images_per_second(size: int = 128, *, batch: int = 16, device: str | torch.device = "cpu",
                                    backend: torch.nn.Module | None = None, min_s: float = 2.0,
                                    seed: int = 0) -> float:
    """Images per second of training steps of ``backend`` (default: a randomly initialised model of
    the shipped default model's architecture) at ``size`` x ``size`` with ``batch`` images."""
    if size < 16 or batch < 1 or min_s < 0:
        raise ValueError(f"need size >= 16, batch >= 1, min_s >= 0; got {size}, {batch}, {min_s}")
    device = torch.device(device)
    torch.manual_seed(seed)
    if backend is None:
        from openbanana.backends.tiny import TinyBackend

        backend = TinyBackend.from_config(default_backend_config())
    backend = backend.to(device).train()
    g = torch.Generator(device=device).manual_seed(seed)
    shape = (batch, 3, size, size)
    data = Batch(target=torch.rand(shape, generator=g, device=device) * 2 - 1,
                 cond=torch.rand(shape, generator=g, device=device) * 2 - 1,
                 has_cond=torch.ones(batch, dtype=torch.bool, device=device),
                 prompts=[_PROMPTS[i % len(_PROMPTS)] for i in range(batch)],
                 one_step=torch.arange(batch, device=device) % 2 == 0)
    opt = torch.optim.AdamW(backend.parameters(), lr=1e-4)
    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
           else torch.autocast("cpu", enabled=False))

    def step() -> None:
        with amp:
            loss = backend.training_loss(data, g)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return batch / time_call(step, device, min_s, warmup=2)
