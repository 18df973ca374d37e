"""Which architecture learns per CPU-second? FLOPs and images/s of a training step (fwd + bwd +
AdamW) and of one-step inference, for each registered size of the default generator's UNet
(``tiny-*``, ``fold-*``) and of the pixel-patch transformer (``jit-*``, :mod:`openbanana.backends.jit`),
at one resolution, on this machine. Ratios are against ``--reference`` measured in the same run.

    python benchmarks/bench_architectures.py                       # every size at 128 px
    python benchmarks/bench_architectures.py --sizes tiny-xs,fold-s --resolution 128 --min-s 5
    python benchmarks/bench_architectures.py --sizes fold-s,fold-w --reference fold-s --prompts mixture
    python benchmarks/bench_architectures.py --sizes fold-w,jit-s --reference fold-w --prompts mixture

``--prompts short`` uses the four short instructions below; ``--prompts mixture`` draws each batch's
instructions from the CPU recipe's instruction-tuning mixture (``configs/default-cpu.json``), with its
long palettes, as training sees them (one new set of prompts per step, the same sets for every size).

FLOPs are counted by ``torch.utils.flop_counter`` on one training step (matrix products and
convolutions, forward and backward; 1 multiply-add = 2 FLOPs) with the instruction mix below.
"""

from __future__ import annotations

import argparse
import time

import torch

from openbanana.backends.base import Batch
from openbanana.backends.jit import JIT_SIZES, JiTBackend
from openbanana.backends.tiny import SIZES, TinyBackend

#: size registry -> the backend class its configs build
FAMILIES = ((SIZES, TinyBackend), (JIT_SIZES, JiTBackend))


def build(size_name: str) -> torch.nn.Module:
    """A fresh backend of a registered size of any family."""
    for sizes, cls in FAMILIES:
        if size_name in sizes:
            return cls(sizes.get(size_name)())
    known = [n for sizes, _ in FAMILIES for n in sizes.names()]
    raise SystemExit(f"unknown size {size_name!r}; expected one of {', '.join(known)}")

PROMPTS = [
    "Estimate the depth of this image using the colour path from black to white.",
    "Colour each pixel by its class. floor: rgb(128, 64, 0); the wall is represented by [102,102,156]",
    "Highlight the red chair left of the table in (255, 0, 0) on a black background.",
    "Paint the surface orientation of every pixel as a normal map.",
]


def mixture_prompts(n_sets: int, batch: int) -> list[list[str]]:
    """``n_sets`` batches of instructions from the CPU recipe's instruction-tuning mixture."""
    import json
    from pathlib import Path

    from openbanana.data.mixture import MixtureConfig, make_sample

    recipe = json.loads((Path(__file__).resolve().parents[1] / "configs" / "default-cpu.json").read_text())
    cfg = MixtureConfig(**recipe["stages"][-1]["data"])
    return [[make_sample(cfg, 0, k * batch + i)["prompt"] for i in range(batch)] for k in range(n_sets)]


def _batch(n: int, size: int, prompts: list[str] | None = None) -> Batch:
    g = torch.Generator().manual_seed(0)
    return Batch(target=torch.rand(n, 3, size, size, generator=g) * 2 - 1,
                 cond=torch.rand(n, 3, size, size, generator=g) * 2 - 1,
                 has_cond=torch.ones(n, dtype=torch.bool),
                 prompts=prompts or [PROMPTS[i % 4] for i in range(n)],
                 one_step=torch.ones(n, dtype=torch.bool))


def measure(size_name: str, resolution: int, batch: int, min_s: float,
            prompt_sets: list[list[str]] | None = None) -> dict[str, float]:
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = build(size_name)
    params = sum(p.numel() for p in model.parameters())
    sets = prompt_sets or [None]
    batches = [_batch(batch, resolution, p) for p in sets]
    b = batches[0]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    with FlopCounterMode(display=False) as fc:
        model.training_loss(b).backward()
    flops = fc.get_total_flops() / batch
    opt.zero_grad()

    def step(k: int) -> None:
        opt.zero_grad()
        model.training_loss(batches[k % len(batches)]).backward()
        opt.step()

    step(0)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s or n < 2:
        step(n + 1)
        n += 1
    train_ips = n * batch / (time.perf_counter() - t0)
    model.eval()
    cond = b.cond[:4]
    with torch.no_grad():
        model.sample(cond, b.prompts[:4], height=resolution, width=resolution, one_step=True)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_s / 2 or n < 2:
            model.sample(cond, b.prompts[:4], height=resolution, width=resolution, one_step=True)
            n += 1
        infer_s = (time.perf_counter() - t0) / (4 * n)
    return {"params_m": params / 1e6, "gflop": flops / 1e9, "train_ips": train_ips, "infer_ms": 1e3 * infer_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join([n for sizes, _ in FAMILIES for n in sizes.names()]))
    ap.add_argument("--reference", default="tiny-xs")
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--min-s", type=float, default=5.0)
    ap.add_argument("--prompts", choices=("short", "mixture"), default="short")
    args = ap.parse_args()
    prompt_sets = mixture_prompts(32, args.batch) if args.prompts == "mixture" else None
    names = [s for s in args.sizes.split(",") if s]
    if args.reference not in names:
        names.insert(0, args.reference)
    rows = {n: measure(n, args.resolution, args.batch, args.min_s, prompt_sets) for n in names}
    ref = rows[args.reference]
    print(f"{args.resolution}x{args.resolution}, batch {args.batch}, {torch.get_num_threads()} threads; "
          f"{args.prompts} prompts; ratios against {args.reference} in the same run\n")
    print("| size | parameters | GFLOP per image (train step) | train img/s | x ref | one-step inference ms/img | x ref |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, r in rows.items():
        print(f"| {n} | {r['params_m']:.2f} M | {r['gflop']:.1f} | {r['train_ips']:.1f} | "
              f"{r['train_ips'] / ref['train_ips']:.2f} | {r['infer_ms']:.1f} | {r['infer_ms'] / ref['infer_ms']:.2f} |")


if __name__ == "__main__":
    main()
