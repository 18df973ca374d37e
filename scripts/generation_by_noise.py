"""Where along the noise does a model's text-to-image fail? The denoiser's error per noise level.

For val scenes (their captions and renders), noise each render to time ``t`` (``x_t = (1 - t) x0 +
t eps``), ask the model for the clean image in the text-to-image mode and measure the squared error
of that prediction against the render, per ``t``. Beside it, the share of the model's training
times in each bin (its ``time_distribution`` and ``time_shift``). A sampler starts at ``t = 1`` and
the picture's layout is decided at high noise: a model never trained there starts every sample
from its worst guess.

    python scripts/generation_by_noise.py [--model DIR] [--n 8] [--split val] [--seeds 2] [--sheet PNG]

Prints one JSON line per ``t``, then a Markdown table. ``--sheet`` also draws, per scene, two rows:
the render with the model's clean-image guesses at a few noise levels, and two samples (``--steps``
Euler steps); under them, the guesses the sampler itself gets on its way to sample 1, at the
schedule's times nearest those levels. Where the first row is a blur of the scene and the second is
already blotches, the model reads the noise's own low frequencies as the picture.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

TIMES = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
SHOWN = (0.5, 0.8, 0.95, 1.0)


def training_share(times: tuple[float, ...], distribution: str, shift: float, draws: int = 200_000,
                   shift_share: float = 1.0) -> list[float]:
    """Share of training times in ``(midpoint below, midpoint above]`` around each of ``times``
    (the last bin runs to 1), from ``draws`` seeded samples of the training distribution (a
    ``shift_share`` of them shifted, as ``TinyConfig.time_shift_share``)."""
    from openbanana.sampling import sample_train_t, shift_some_times

    g = torch.Generator().manual_seed(0)
    t = shift_some_times(sample_train_t(draws, distribution=distribution, generator=g), shift, shift_share, g)
    edges = [0.0, *((a + b) / 2 for a, b in itertools.pairwise(times)), 1.0 + 1e-9]
    return [float(((t > lo) & (t <= hi)).float().mean()) for lo, hi in itertools.pairwise(edges)]


@torch.no_grad()
def clean_guess(backend, x0: torch.Tensor, eps: torch.Tensor, t: float, prompts: list[str]) -> torch.Tensor:
    """The backend's clean image ``[B, 3, H, W]`` for the renders ``x0`` noised to ``t`` with ``eps``
    (text-to-image: no condition image, not the one-step mode)."""
    B = x0.shape[0]
    tt = torch.full((B,), float(t))
    x_t = (1 - t) * x0 + t * eps
    off = torch.zeros(B, dtype=torch.bool)
    v = backend.net(x_t, tt, torch.zeros_like(x0), off, backend.net.encode_text(prompts), off)
    return x_t - t * v  # v = eps - x0


def errors_by_time(backend, renders: np.ndarray, prompts: list[str], seeds: int) -> list[float]:
    """Mean squared error (images in [-1, 1]) of :func:`clean_guess` per time of :data:`TIMES`,
    averaged over the scenes and ``seeds`` noise draws."""
    x0 = torch.from_numpy(renders).permute(0, 3, 1, 2).float() / 127.5 - 1  # [B, 3, H, W]
    out = []
    for t in TIMES:
        errs = []
        for s in range(seeds):
            eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(s))
            errs.append(float(((clean_guess(backend, x0, eps, t, prompts) - x0) ** 2).mean()))
        out.append(float(np.mean(errs)))
    return out


@torch.no_grad()
def sampler_guesses(backend, prompts: list[str], shape: tuple[int, ...], steps: int, seed: int,
                    shown: tuple[float, ...] = SHOWN) -> tuple[list[torch.Tensor], list[float], torch.Tensor]:
    """Follow the backend's own text-to-image sampler (:func:`openbanana.sampling.euler_sample` on its
    schedule, noise seeded with ``seed``) and keep its clean-image guess ``x_t - t v`` at the step
    whose time is nearest each of ``shown``.

    Returns:
        the guesses (one ``[B, 3, H, W]`` per shown time), the schedule times they were taken at,
        and the final state ``[B, 3, H, W]`` (the unclamped sample).
    """
    from openbanana.sampling import initial_noise, timesteps

    ts = [float(t) for t in timesteps(steps, shift=backend.config.time_shift)]
    keep = {min(range(steps), key=lambda i: abs(ts[i] - s)) for s in shown}
    B = shape[0]
    off = torch.zeros(B, dtype=torch.bool)
    text = backend.net.encode_text(prompts)
    x = initial_noise(shape, torch.Generator().manual_seed(seed))
    guesses: dict[int, torch.Tensor] = {}
    for i in range(steps):
        v = backend.net(x, torch.full((B,), ts[i]), torch.zeros(shape), off, text, off)
        if i in keep:
            guesses[i] = x - ts[i] * v
        x = x + (ts[i + 1] - ts[i]) * v
    order = sorted(keep, key=lambda i: -ts[i])
    return [guesses[i] for i in order], [ts[i] for i in order], x


def draw_sheet(pipe, renders: np.ndarray, prompts: list[str], steps: int, path: Path) -> None:
    """Per scene: the render, :func:`clean_guess` at :data:`SHOWN` and two samples from noise; under
    them the sampler's own guesses on its way to sample 1 (:func:`sampler_guesses`)."""
    from PIL import Image

    from openbanana.io.export import make_sheet

    def uint8(x: torch.Tensor) -> np.ndarray:
        return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()

    x0 = torch.from_numpy(renders).permute(0, 3, 1, 2).float() / 127.5 - 1
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    rows = [[("render", r)] for r in renders]
    for t in SHOWN:
        for row, im in zip(rows, uint8(clean_guess(pipe.backend, x0, eps, t, prompts)), strict=True):
            row.append((f"guess at t={t:g}", im))
    for k in range(2):
        out = pipe.generate(prompts, num_inference_steps=steps, generator=torch.Generator().manual_seed(k)).predictions
        for row, p in zip(rows, out, strict=True):
            row.append((f"sample {k + 1}", p.generated))
    trail = [[("sampling sample 1:", np.full_like(r, 255))] for r in renders]
    guesses, times, _ = sampler_guesses(pipe.backend, prompts, tuple(x0.shape), steps, seed=0)
    for g, t in zip(guesses, times, strict=True):
        for row, im in zip(trail, uint8(g), strict=True):
            row.append((f"its guess at t={t:.2f}", im))
    path.parent.mkdir(parents=True, exist_ok=True)
    strips = [make_sheet(r, height=128) for pair in zip(rows, trail, strict=True) for r in pair]
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips]
    Image.fromarray(np.concatenate(strips, 0)).save(path)


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.data.synthetic.generate import render_scene
    from openbanana.pipeline import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap, n=8)
    ap.add_argument("--seeds", type=int, default=2, help="noise draws per scene and time")
    ap.add_argument("--sheet", type=Path, default=None, help="also draw a sheet of guesses and samples here")
    ap.add_argument("--sheet-rows", type=int, default=3, help="scenes on the sheet")
    ap.add_argument("--steps", type=int, default=16, help="Euler steps of the sheet's samples")
    args = ap.parse_args(argv)
    if args.n < 1 or args.seeds < 1 or args.steps < 1 or args.sheet_rows < 1:
        ap.error("--n, --seeds, --steps and --sheet-rows must be >= 1")
    pipe = load_model(args.model)
    if not hasattr(pipe.backend, "net"):
        ap.error(f"a {pipe.config.backend!r} model; this script reads the tiny and JiT backends")
    scenes = [render_scene(i, split=args.split, size=pipe.resolution) for i in range(args.n)]
    renders, prompts = np.stack([s.rgb for s in scenes]), [s.caption for s in scenes]
    cfg = pipe.backend.config
    share = training_share(TIMES, cfg.time_distribution, cfg.time_shift,
                           shift_share=getattr(cfg, "time_shift_share", 1.0))
    errs = errors_by_time(pipe.backend, renders, prompts, args.seeds)
    for t, e, s in zip(TIMES, errs, share, strict=True):
        print(json.dumps({"t": t, "mse": round(e, 4), "training_share": round(s, 4)}))
    print(f"\n| t | squared error of the clean-image guess ({args.n} {args.split} scenes) | share of training times |")
    print("|---|---|---|")
    for t, e, s in zip(TIMES, errs, share, strict=True):
        print(f"| {t:g} | {e:.4f} | {100 * s:.1f} % |")
    if args.sheet is not None:
        k = min(args.sheet_rows, args.n)
        draw_sheet(pipe, renders[:k], prompts[:k], args.steps, args.sheet)
        print(f"\nwrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
