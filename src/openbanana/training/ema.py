"""Exponential moving average of model weights (the exported weights are the EMA)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

# torch.distributed.tensor (about 0.5 s to import) only under FSDP: imported inside the functions.


class EMA:
    """Float32 shadow copy of a module's trainable floating-point parameters.

    ``shadow = d * shadow + (1 - d) * param`` after each optimiser step, with the warm-up
    ``d = min(decay, (1 + n) / (10 + n))`` (n = updates so far) so early weights fade fast.

    Under FSDP2 the parameters are sharded ``DTensor``s and so is the shadow: each process keeps the
    EMA of its own shard (same sharding, no communication per update). :meth:`state_dict` gathers
    full tensors and :meth:`load_state_dict` takes full tensors; both are then collective (every
    process must call them).

    Args:
        model: the (unwrapped) module whose ``named_parameters`` are tracked.
        decay: the long-run decay in [0, 1).
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.num_updates = 0
        # frozen weights (a LoRA base model) never change: shadowing them would only cost memory
        self.shadow = {k: p.detach().float().clone() for k, p in model.named_parameters()
                       if p.dtype.is_floating_point and p.requires_grad}

    def current_decay(self) -> float:
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        params = dict(model.named_parameters())
        names = list(self.shadow)
        torch._foreach_lerp_([self.shadow[k] for k in names], [params[k].detach().float() for k in names], 1 - d)
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        for k, p in model.named_parameters():
            if k in self.shadow:
                p.copy_(self.shadow[k].to(p.dtype))

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the EMA weights into ``model`` (for evaluation/export)."""
        backup = {k: p.detach().clone() for k, p in model.named_parameters() if k in self.shadow}
        self.copy_to(model)
        try:
            yield model
        finally:
            with torch.no_grad():
                for k, p in model.named_parameters():
                    if k in backup:
                        p.copy_(backup[k])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Full (unsharded) float32 copies of the shadow weights."""
        return {k: _full(v) for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor], num_updates: int) -> None:
        missing = set(self.shadow) - set(state)
        extra = set(state) - set(self.shadow)
        if missing or extra:
            raise ValueError(f"EMA state mismatch: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}")
        for k, v in self.shadow.items():
            if _is_dtensor(v):  # keep this process's shard of the full tensor (no communication)
                from torch.distributed.tensor import distribute_tensor

                full = state[k].to(v.device, v.dtype)
                v.to_local().copy_(distribute_tensor(full, v.device_mesh, v.placements, src_data_rank=None).to_local())
            else:
                v.copy_(state[k])
        self.num_updates = int(num_updates)


def _is_dtensor(t: torch.Tensor) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(t, DTensor)


def _full(t: torch.Tensor) -> torch.Tensor:
    """A full local copy (gathers a sharded ``DTensor``: collective)."""
    return t.full_tensor().detach().clone() if _is_dtensor(t) else t.detach().clone()
