"""Training speed of the tiny generator under settings that do not change what it computes.

Run on a GPU (about 3-5 minutes on one H100, most of it torch.compile)::

    python benchmarks/bench_train_variants.py                 # tiny-m, 128x128, batch 64
    python benchmarks/bench_train_variants.py --profile       # + top CUDA kernels of the plain step

Variants (each adds to the previous one): eager as shipped; + cuDNN autotuning and TF32; + fused
AdamW; + channels_last weights and inputs; + torch.compile of the backend's training loss.
Ratios are against the first row, measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import torch

from openbanana.backends.base import Batch
from openbanana.backends.tiny import SIZES, TinyBackend

PROMPTS = [
    "Estimate the depth of this image using the colour path from black to white.",
    "Colour each pixel by its class. floor: rgb(128, 64, 0); the wall is represented by [102,102,156]",
    "a wooden table and two chairs in a bright room",
    "make the sofa red",
]


def run(args: argparse.Namespace, *, tune: bool, fused: bool, channels_last: bool, compile_: bool,
        profile: bool = False) -> float:
    torch.backends.cudnn.benchmark = tune
    torch.backends.cuda.matmul.allow_tf32 = tune
    torch.backends.cudnn.allow_tf32 = tune
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = TinyBackend(SIZES.get(args.size)()).to(dev).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    B, R = args.batch, args.resolution
    batch = Batch(target=(torch.rand(B, 3, R, R, device=dev) * 2 - 1).to(memory_format=fmt),
                  cond=(torch.rand(B, 3, R, R, device=dev) * 2 - 1).to(memory_format=fmt),
                  has_cond=torch.ones(B, dtype=torch.bool, device=dev),
                  prompts=[PROMPTS[i % len(PROMPTS)] for i in range(B)], one_step=torch.arange(B, device=dev) % 2 == 0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, **({"fused": True} if fused else {}))
    gen = torch.Generator(device=dev).manual_seed(0)
    loss_fn = torch.compile(model.training_loss) if compile_ else model.training_loss

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(batch, gen)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as prof

        with prof(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as p:
            step()
            torch.cuda.synchronize()
        print(p.key_averages().table(sort_by="self_cuda_time_total", row_limit=20))
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    return B * args.steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="tiny-m", choices=SIZES.names())
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA device")
    variants = [
        ("eager, as shipped (no cuDNN autotune, foreach AdamW)",
         {"tune": False, "fused": False, "channels_last": False, "compile_": False}),
        ("+ cudnn.benchmark + TF32", {"tune": True, "fused": False, "channels_last": False, "compile_": False}),
        ("+ fused AdamW", {"tune": True, "fused": True, "channels_last": False, "compile_": False}),
        ("+ channels_last", {"tune": True, "fused": True, "channels_last": True, "compile_": False}),
        ("+ torch.compile (NCHW)", {"tune": True, "fused": True, "channels_last": False, "compile_": True}),
        ("+ torch.compile + channels_last", {"tune": True, "fused": True, "channels_last": True, "compile_": True}),
    ]
    print(f"\n{args.size} at {args.resolution}x{args.resolution}, batch {args.batch}, bf16 autocast, "
          f"{torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    print("| variant | train images/s | vs shipped |\n|---|---:|---:|")
    base = None
    for i, (name, kw) in enumerate(variants):
        try:
            ips = run(args, profile=args.profile and i == 0, **kw)
        except Exception as exc:  # noqa: BLE001 - a variant that fails on this torch build is reported, not fatal
            print(f"| {name} | failed: {type(exc).__name__}: {str(exc)[:80]} | - |")
            continue
        base = base or ips
        print(f"| {name} | {ips:.0f} | {ips / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
