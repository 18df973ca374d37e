"""Rectified-flow sampling as pure functions: schedule, Euler, guidance, one-step mode, ensembles.

Convention (used by every backend and by the training objective):

- ``t = 0`` is data, ``t = 1`` is noise: ``x_t = (1 - t) * x0 + t * eps``;
- the network predicts the velocity ``v = eps - x0`` (so ``dx_t/dt = v``);
- an Euler step from ``t`` to ``s < t`` is ``x_s = x_t + (s - t) * v``; one step from ``t = 1``
  lands on ``x0_hat = x_1 - v``.

The **one-step mode** for dense tasks is the same formula with ``eps = 0``: the input at ``t = 1``
is all zeros (plus a mode flag in the backend), the model is trained with target ``v = -x0`` and one
Euler step returns ``x0_hat = -v``. It is deterministic: no generator is used.

Nothing here touches files, devices or models: callers pass a ``velocity_fn(x, t) -> v``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------------- schedule
def interpolate(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - t) x0 + t eps``.

    Shape: x0, eps ``[B, C, H, W]``; t ``[B]`` in [0, 1]. Returns ``[B, C, H, W]``.
    """
    t = t.to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return (1 - t) * x0 + t * eps


def velocity_target(x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The regression target ``v = eps - x0`` (shape of ``x0``)."""
    return eps - x0


def sample_train_t(
    batch_size: int,
    *,
    distribution: str = "logit_normal",
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Training times ``t`` in (0, 1), shape ``[B]``.

    Args:
        distribution: ``"uniform"`` or ``"logit_normal"`` (sigmoid of a standard normal, the
            SD3 choice that spends more samples at mid noise).
    """
    if distribution == "uniform":
        return torch.rand(batch_size, generator=generator, device=device)
    if distribution == "logit_normal":
        return torch.sigmoid(torch.randn(batch_size, generator=generator, device=device))
    raise ValueError(f"distribution must be 'uniform' or 'logit_normal', got {distribution!r}")


def shift_times(t: torch.Tensor, shift: float) -> torch.Tensor:
    """``t -> shift t / (1 + (shift - 1) t)``: a monotone map of [0, 1] onto itself that keeps 0 and 1
    and, for ``shift > 1``, moves every time toward noise (SD3's resolution shift). Used for the
    training times and the sampler's schedule alike, so a model samples where it was trained.

    Args:
        t: times in [0, 1], any shape. shift: > 0 (1 = unchanged).
    Returns:
        the shifted times, shape and dtype of ``t``.
    Example:
        ``shift_times(torch.tensor([0.5]), 3.0)`` is ``tensor([0.75])``.
    """
    if shift <= 0:
        raise ValueError(f"shift must be > 0, got {shift}")
    return shift * t / (1 + (shift - 1) * t)


def shift_some_times(t: torch.Tensor, shift: float, share: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """:func:`shift_times` applied to a random ``share`` of the times ``t`` (``[B]``), the rest kept:
    training times from a mixture of the shifted and the plain distribution, so that both the
    noise end (where a sample's layout is decided) and the clean end (its detail) are trained.

    Args:
        t: times in [0, 1], ``[B]``. shift: > 0. share: in [0, 1]; 1 shifts every time and draws
            nothing from ``generator``, 0 keeps them all.
        generator: draws which times are shifted (on its own device, like ``t``).
    Returns:
        times of ``t``'s shape, device and dtype.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    if share == 1.0:
        return shift_times(t, shift)
    if share == 0.0:
        return t
    pick = torch.rand(t.shape, generator=generator, device=t.device) < share
    return torch.where(pick, shift_times(t, shift), t)


def timesteps(num_steps: int, *, shift: float = 1.0) -> torch.Tensor:
    """Times of an N-step sampler, ``[N + 1]`` from exactly 1 ("trailing": the first step starts
    at pure noise) down to exactly 0.

    Args:
        num_steps: N >= 1.
        shift: :func:`shift_times`; 1.0 is uniform spacing, > 1 spends more steps at high noise
            (useful at high resolution).
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")
    return shift_times(torch.linspace(1.0, 0.0, int(num_steps) + 1, dtype=torch.float64), shift).float()


# ---------------------------------------------------------------------------- guidance
def cfg_combine(
    v_uncond: torch.Tensor,
    v_image: torch.Tensor,
    v_full: torch.Tensor,
    guidance_text: float,
    guidance_image: float,
) -> torch.Tensor:
    """InstructPix2Pix's three-way classifier-free guidance.

    ``v = v(-,-) + s_I (v(I,-) - v(-,-)) + s_T (v(I,T) - v(I,-))``. With both scales 1 this is
    ``v_full``; with ``s_I = 1`` it is plain text guidance around ``v_image``.

    Args:
        v_uncond: velocity without image and without text.
        v_image: velocity with the image, without text.
        v_full: velocity with image and text.
    """
    return v_uncond + guidance_image * (v_image - v_uncond) + guidance_text * (v_full - v_image)


# ---------------------------------------------------------------------------- samplers
def euler_sample(
    velocity_fn: VelocityFn,
    noise: torch.Tensor,
    num_inference_steps: int,
    *,
    shift: float = 1.0,
) -> torch.Tensor:
    """Integrate ``dx/dt = v`` from ``t = 1`` (``noise``) to ``t = 0`` with N Euler steps.

    Args:
        velocity_fn: ``(x [B, C, H, W], t [B]) -> v [B, C, H, W]``.
        noise: ``[B, C, H, W]``, the state at t = 1 (e.g. ``randn`` with a seeded generator).

    Returns:
        ``[B, C, H, W]`` the state at t = 0 (not clamped).
    """
    ts = timesteps(num_inference_steps, shift=shift)
    x = noise
    for i in range(len(ts) - 1):
        t = torch.full((x.shape[0],), float(ts[i]), device=x.device)
        v = velocity_fn(x, t)
        x = x + (float(ts[i + 1]) - float(ts[i])) * v
    return x


def one_step_sample(velocity_fn: VelocityFn, shape: Sequence[int], *, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The deterministic one-step mode: input zeros at t = 1, one Euler step, ``x0 = -v``.

    The backend must be told it is in one-step mode (it was trained on that input).
    """
    x = torch.zeros(*shape, device=device, dtype=dtype)
    t = torch.ones(shape[0], device=device, dtype=dtype)
    return x - velocity_fn(x, t)


def initial_noise(shape: Sequence[int], generator: torch.Generator | None = None, *,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device (so a seed gives the same noise on any
    target device), then moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(*shape, generator=generator, device=gen_device, dtype=dtype).to(device)


# ---------------------------------------------------------------------------- ensembles
def reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over the ensemble axis 0 (depth, normals before renormalising)."""
    return x.float().mean(0)


def reduce_median(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel median over axis 0 (robust for depth, as in Marigold's ensembling)."""
    return x.float().median(0).values


def reduce_mode(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel majority vote over axis 0 for integer label maps (ties: the smallest label)."""
    return torch.mode(x, dim=0).values


REDUCERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mean": reduce_mean,
    "median": reduce_median,
    "mode": reduce_mode,
}


def ensemble(
    draw: Callable[[int], torch.Tensor],
    k: int,
    reduce: Callable[[torch.Tensor], torch.Tensor] | str = "mean",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw K decoded answers and combine them.

    Args:
        draw: ``i -> answer_i`` (e.g. sample with seed ``base + i`` and decode to depth in metres);
            every answer must have the same shape.
        k: ensemble size >= 1.
        reduce: a reducer over a ``[K, ...]`` stack, or a name in :data:`REDUCERS`.

    Returns:
        combined: the reduced answer (shape of one answer).
        uncertainty: per-element spread, the standard deviation over the K answers (float32; for
            label maps, the share of members that disagree with the combined label). Zeros for K=1.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"ensemble size k must be an int >= 1, got {k!r}")
    if isinstance(reduce, str):
        if reduce not in REDUCERS:
            raise ValueError(f"unknown reducer {reduce!r}; expected one of {sorted(REDUCERS)}")
        reduce = REDUCERS[reduce]
    members = [draw(i) for i in range(int(k))]
    shapes = {tuple(m.shape) for m in members}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members must share one shape, got {sorted(shapes)}")
    stack = torch.stack(members)  # [K, ...]
    combined = reduce(stack)
    if stack.is_floating_point():
        spread = stack.float().std(0, unbiased=False)
    else:
        spread = (stack != combined.unsqueeze(0)).float().mean(0)
    return combined, spread
