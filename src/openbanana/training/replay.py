"""A replay pool: reuse rendered samples when the renderer is slower than the accelerator.

Rendering a synthetic scene costs tens of milliseconds of CPU; a GPU step on a small model costs
less than the samples it eats. With ``fresh_per_step = f < batch_size`` each step takes ``f`` new
samples from the data stream and ``batch_size - f`` samples drawn uniformly (seeded generator)
from a ring buffer of the last ``capacity`` samples, so every rendered sample is seen about
``batch_size / f`` times.

Exact resume: the pool's content is a function of the stream position, so a resumed run refills it
by re-reading the last ``min(position, capacity)`` samples of the stream (see :func:`refill_start`).
Images are kept as uint8 (exactly what the data source produced) on the training device.
"""

from __future__ import annotations

import torch

from openbanana.backends.text import to_device_nonblocking
from openbanana.batch import Batch, u8_to_unit, unit_to_u8


class ReplayPool:
    """Ring buffer of the last ``capacity`` samples.

    Args:
        capacity: samples kept (>= 1).
        device: where the uint8 images live.
    """

    def __init__(self, capacity: int, device: torch.device | str = "cpu") -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity, self.device = int(capacity), torch.device(device)
        self.count = 0  # samples ever added (ring slot = count % capacity)
        self.target: torch.Tensor | None = None
        self.cond: torch.Tensor | None = None
        self.has_cond = torch.zeros(self.capacity, dtype=torch.bool, device=self.device)
        self.prompts: list[str] = [""] * self.capacity
        self.tasks: list[str] = [""] * self.capacity

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def add(self, batch: Batch) -> None:
        """Append a collated batch (images in [-1, 1] that came from uint8)."""
        B = len(batch.prompts)
        if self.target is None:
            shape = (self.capacity, *batch.target.shape[1:])
            self.target = torch.zeros(shape, dtype=torch.uint8, device=self.device)
            self.cond = torch.zeros(shape, dtype=torch.uint8, device=self.device)
        slots = (torch.arange(B, device=self.device) + self.count) % self.capacity  # built on the device
        self.target[slots] = unit_to_u8(batch.target.to(self.device))
        self.cond[slots] = unit_to_u8(batch.cond.to(self.device))
        self.has_cond[slots] = batch.has_cond.to(self.device)
        tasks = batch.tasks or [""] * B
        for i in range(B):  # host-side slots: no device read-back
            s = (self.count + i) % self.capacity
            self.prompts[s], self.tasks[s] = batch.prompts[i], tasks[i]
        self.count += B

    def draw(self, n: int, generator: torch.Generator) -> Batch:
        """``n`` samples uniformly with replacement (CPU ``generator``), as a float Batch."""
        if len(self) == 0:
            raise ValueError("replay pool is empty")
        idx = torch.randint(len(self), (n,), generator=generator)
        dev_idx = to_device_nonblocking(idx, self.device)
        host = idx.tolist()
        return Batch(target=u8_to_unit(self.target[dev_idx]), cond=u8_to_unit(self.cond[dev_idx]),
                     has_cond=self.has_cond[dev_idx], prompts=[self.prompts[i] for i in host],
                     tasks=[self.tasks[i] for i in host])


def refill_start(position: int, capacity: int) -> int:
    """Stream position from which a resumed run re-reads samples to rebuild the pool."""
    return max(0, position - capacity)


def concat(a: Batch, b: Batch) -> Batch:
    """Concatenate two batches (on the device of ``a``)."""
    dev = a.target.device
    return Batch(target=torch.cat([a.target, b.target.to(dev)]), cond=torch.cat([a.cond, b.cond.to(dev)]),
                 has_cond=torch.cat([a.has_cond.to(dev), b.has_cond.to(dev)]), prompts=a.prompts + b.prompts,
                 tasks=(a.tasks or [""] * len(a.prompts)) + (b.tasks or [""] * len(b.prompts)))
