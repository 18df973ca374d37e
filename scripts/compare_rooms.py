"""Is one model better than another on rooms from a second renderer, or is the difference noise?
Scores two models room by room on the ``primitive-rooms`` benchmark (the scorers of
:func:`openbanana.model_card.evaluate_rooms`, one room at a time; their means are the model card's
numbers) and bootstraps the rooms: the mean difference of each metric (new minus old) with a 95 %
interval from resampling the rooms with replacement (paired: both models on the same rooms), and
on how many rooms each model is the better one.

    python scripts/compare_rooms.py --old DIR --new DIR [--n 64] [--resamples 10000]

``--old`` / ``--new`` are exported pipeline directories (``--new`` defaults to the shipped model);
an earlier shipped model: ``git archive <commit> src/openbanana/weights/default | tar -x -C /tmp/old``.
Prints one JSON line per metric, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: metric key -> True when higher is better
METRICS = {"depth_delta1": True, "depth_abs_rel": False, "normals_mean_deg": False}


class OneRoom:
    """Room ``index`` of ``source`` as a source of one record."""

    def __init__(self, source, index: int):
        self.source, self.index = source, index

    def __len__(self) -> int:
        return 1

    def __getattr__(self, name: str):
        return getattr(self.source, name)

    def __getitem__(self, index: int):
        if index != 0:
            raise IndexError(index)
        return self.source[self.index]

    def record_id(self, index: int) -> str:
        return self.source.record_id(self.index)


def per_room(model, source, n: int) -> dict[str, np.ndarray]:
    """``{metric: scores of rooms 0..n-1}`` for ``model`` (a pipeline or any evaluation model)."""

    from openbanana.model_card import evaluate_rooms

    rows = [evaluate_rooms(model, 1, source=OneRoom(source, i)) for i in range(n)]
    return {key: np.array([r[key] for r in rows]) for key in METRICS}


def paired_bootstrap(old: np.ndarray, new: np.ndarray, *, higher_better: bool, resamples: int = 10000,
                     seed: int = 0) -> dict[str, float]:
    """Mean of ``new - old`` over the rooms, its 95 % percentile interval over ``resamples``
    resamplings of the rooms, and the rooms on which each is better (ties in neither)."""

    diff = np.asarray(new, float) - np.asarray(old, float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    better = diff > 0 if higher_better else diff < 0
    worse = diff < 0 if higher_better else diff > 0
    return {"old": float(np.mean(old)), "new": float(np.mean(new)), "diff": float(diff.mean()), "lo": float(lo),
            "hi": float(hi), "new_better": int(better.sum()), "old_better": int(worse.sum())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="exported pipeline directory: the model compared against")
    ap.add_argument("--new", type=Path, default=None, help="exported pipeline directory (default: the shipped model)")
    ap.add_argument("--n", type=int, default=64, help="rooms")
    ap.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples")
    args = ap.parse_args(argv)
    if args.n < 2 or args.resamples < 100:
        ap.error("--n must be >= 2 and --resamples >= 100")

    from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource
    from openbanana.model_card import load_model

    try:
        old, new = load_model(args.old), load_model(args.new)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if old.resolution != new.resolution:
        print(f"error: the models answer at {old.resolution} and {new.resolution} px; compare models of one "
              "resolution", file=sys.stderr)
        return 2
    source = PrimitiveRoomsSource(size=new.resolution)
    a, b = per_room(old, source, args.n), per_room(new, source, args.n)
    rows = {key: paired_bootstrap(a[key], b[key], higher_better=hb, resamples=args.resamples)
            for key, hb in METRICS.items()}
    for key, r in rows.items():
        print(json.dumps({"metric": key, **{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}}))
    print(f"\n| {args.n} primitive rooms | old | new | new - old | 95 % interval (rooms resampled) | rooms where new "
          "/ old is better |")
    print("|---|---|---|---|---|---|")
    for key, r in rows.items():
        print(f"| {key} | {r['old']:.3f} | {r['new']:.3f} | {r['diff']:+.3f} | {r['lo']:+.3f} to {r['hi']:+.3f} | "
              f"{r['new_better']} / {r['old_better']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
