"""Samples/s the training mixture delivers through a DataLoader (scenes rendered on the fly).

    python scripts/mixture_rate.py --workers 2 [--size 128] [--seconds 20] [--vision-share 0.5]

Point PYTHONPATH at another checkout's ``src`` to compare versions on the same machine.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--vision-share", type=float, default=0.5)
    args = ap.parse_args(argv)

    from torch.utils.data import DataLoader

    import openbanana
    from openbanana.data.mixture import MixtureConfig, build_dataset

    ds = build_dataset(MixtureConfig(size=args.size, vision_share=args.vision_share), seed=0)
    loader = DataLoader(ds, batch_size=None, num_workers=args.workers, collate_fn=lambda s: s,
                        prefetch_factor=8 if args.workers else None)
    it = iter(loader)
    for _ in range(max(1, args.workers) * 4):  # workers start, compile and fill their queues
        next(it)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        next(it)
        n += 1
    rate = n / (time.perf_counter() - t0)
    print(f"{openbanana.__file__}: {rate:.1f} samples/s ({args.workers} workers, {args.size} px, "
          f"vision share {args.vision_share})")


if __name__ == "__main__":
    main()
