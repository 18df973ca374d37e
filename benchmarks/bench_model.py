"""Speed of the tiny generator: predictions per second (1 step, N steps, with guidance) and training
images per second; optionally the data mixture's rendering throughput. Prints a Markdown table.

    python benchmarks/bench_model.py                       # tiny-m at 128 on CPU (and CUDA if present)
    python benchmarks/bench_model.py --size tiny-xs --resolution 64 --devices cpu
    python benchmarks/bench_model.py --data-workers 15     # + mixture samples/s with 15 workers

Ratios are against the one-step prediction measured in the same run (so the N-step row reads as
"how many one-step predictions one N-step prediction costs").
"""

from __future__ import annotations

import argparse
import time

import torch
from train_speed import (  # benchmarks/train_speed.py, beside this script
    measure_train_images_per_second,
    time_call,
)

from openbanana.backends.tiny import SIZES, TinyBackend

PROMPTS = [
    "Estimate the depth of this image using the colour path from black to white.",
    "Colour each pixel by its class. floor: rgb(128, 64, 0); the wall is represented by [102,102,156]",
    "a wooden table and two chairs in a bright room",
    "make the sofa red",
]


def bench_device(args: argparse.Namespace, device: torch.device) -> list[tuple[str, float, str]]:
    torch.manual_seed(0)
    model = TinyBackend(SIZES.get(args.size)()).to(device)
    R, B = args.resolution, args.batch
    cond = torch.rand(B, 3, R, R, device=device) * 2 - 1
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(B)]
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    gen = torch.Generator(device=device).manual_seed(0)
    rows = []

    model.eval()
    with amp:
        one = time_call(lambda: model.sample(cond, prompts, height=R, width=R, one_step=True), device, args.min_s)
        rows.append((f"predict, one-step mode, batch {B}", B / one, "1.00"))
        n = time_call(lambda: model.sample(cond, prompts, height=R, width=R, num_inference_steps=args.steps, generator=gen),
                  device, args.min_s)
        rows.append((f"predict, {args.steps} Euler steps, batch {B}", B / n, f"{n / one:.2f}"))
        g = time_call(lambda: model.sample(cond, prompts, height=R, width=R, num_inference_steps=args.steps,
                                       guidance_text=3.0, guidance_image=1.5, generator=gen), device, args.min_s)
        rows.append((f"predict, {args.steps} steps + 3-way CFG, batch {B}", B / g, f"{g / one:.2f}"))

    TB = args.train_batch
    ips = measure_train_images_per_second(R, batch=TB, device=device, backend=model, min_s=args.min_s)
    rows.append((f"train step (fwd+bwd+AdamW), batch {TB}", ips, f"{TB / ips / one:.2f}"))
    return rows


def bench_data(args: argparse.Namespace) -> float:
    from torch.utils.data import DataLoader

    from openbanana.data.mixture import MixtureConfig, build_dataset

    ds = build_dataset(MixtureConfig(size=args.resolution, vision_share=0.5), seed=0)
    loader = DataLoader(ds, batch_size=None, num_workers=args.data_workers, collate_fn=lambda s: s,
                        prefetch_factor=8 if args.data_workers else None)
    it = iter(loader)
    for _ in range(max(1, args.data_workers) * 2):  # let workers start
        next(it)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.min_s * 3:
        next(it)
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="tiny-m", choices=SIZES.names())
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4, help="prediction batch")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=16, help="Euler steps of the N-step rows")
    ap.add_argument("--devices", default="auto", help="comma list: cpu,cuda (auto: cpu + cuda if present)")
    ap.add_argument("--min-s", type=float, default=2.0, help="seconds of repetitions per row")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default); 1 on a busy machine")
    ap.add_argument("--data-workers", type=int, default=-1, help=">= 0: also time the mixture with N workers")
    args = ap.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.devices == "auto" else args.devices.split(",")
    n_params = sum(p.numel() for p in TinyBackend(SIZES.get(args.size)()).parameters())
    print(f"\n{args.size} ({n_params / 1e6:.1f} M parameters) at {args.resolution}x{args.resolution}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n")
    print("| device | measurement | images/s | time vs one-step |")
    print("|---|---|---:|---:|")
    for d in devices:
        dev = torch.device(d)
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
        for label, ips, ratio in bench_device(args, dev):
            print(f"| {name} | {label} | {ips:.3g} | {ratio} |")
    if args.data_workers >= 0:
        print(f"| cpu | mixture samples rendered, {args.data_workers} workers, vision_share 0.5 | "
              f"{bench_data(args):.1f} | - |")


if __name__ == "__main__":
    main()
