"""Shared by the tests of the image backends (tiny, jit): live weights and a fixed random batch."""

from __future__ import annotations

import torch
from torch import nn

from openbanana.backends import Batch


def make_live(model: nn.Module, min_dim: int = 1) -> nn.Module:
    """Give every all-zero parameter of at least ``min_dim`` dimensions small random values:
    zero-initialised output layers and gates hide the inputs' effect, and a test of what reaches the
    output needs every path live."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= min_dim and not p.any():
                p.normal_(0, 0.05)
    return model


def random_batch(B: int = 4, s: int = 16, seed: int = 0) -> Batch:
    """B samples of ``s x s`` random targets and conditions, mixed tasks, one without its image."""
    g = torch.Generator().manual_seed(seed)
    return Batch(target=torch.rand(B, 3, s, s, generator=g) * 2 - 1, cond=torch.rand(B, 3, s, s, generator=g) * 2 - 1,
                 has_cond=torch.tensor([True, True, False, True][:B]),
                 prompts=["depth map", "palette (128, 64, 128)", "a red cube", ""][:B],
                 tasks=["depth", "semantic", "t2i", "edit"][:B])


def fit(model: nn.Module, batch: Batch, lr: float, steps: int) -> list[float]:
    """``steps`` Adam steps of ``model.training_loss`` on one fixed batch; the losses, in order."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
