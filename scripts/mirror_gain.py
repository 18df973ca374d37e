"""What the test-time mirror buys: a model's depth and normals with and without ``mirror`` (the
pipeline also answers each input's left-right mirror, turns that answer back and combines the
two; :attr:`openbanana.tasks.Task.mirrorable`), on synthetic splits and the second renderer's rooms.

    python scripts/mirror_gain.py [--model DIR] [--n 64] [--splits val,shift] [--rooms 64]

``--model`` is an exported pipeline directory (default: the shipped model); the model card's
scorers (:func:`openbanana.model_card.evaluate_split`, :func:`~openbanana.model_card.evaluate_rooms`),
depth and normals only. Prints one JSON line per setting, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: card key -> (column title, higher is better)
COLUMNS = {"depth_delta1": ("depth delta1", True), "depth_abs_rel": ("AbsRel", False),
           "normals_mean_deg": ("normals mean (deg)", False)}
TASKS = ("depth", "normals")


def scores(pipe, splits: list[str], n: int, rooms: int) -> dict[str, dict[str, float]]:
    """``{place: {card key: value}}`` for each split (``n`` scenes) and, when ``rooms``, the rooms."""

    from openbanana.model_card import evaluate_rooms, evaluate_split

    out = {split: evaluate_split(pipe, split, n, tasks=TASKS) for split in splits}
    if rooms:
        out["rooms"] = evaluate_rooms(pipe, rooms, tasks=TASKS)
    return {place: {k: float(s[k]) for k in COLUMNS} for place, s in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="exported pipeline directory (default: the shipped one)")
    ap.add_argument("--n", type=int, default=64, help="scenes per split")
    ap.add_argument("--splits", default="val,shift", help="comma-separated synthetic splits (val, shift)")
    ap.add_argument("--rooms", type=int, default=64, help="primitive rooms (0: none)")
    args = ap.parse_args(argv)
    splits = [s for s in args.splits.split(",") if s]
    if args.n < 1 or args.rooms < 0 or not set(splits) <= {"val", "shift"}:
        ap.error("--n must be >= 1, --rooms >= 0, and --splits some of val, shift")

    from openbanana.model_card import load_model

    try:
        pipe = load_model(args.model)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = {}
    for mirror in (False, True):
        pipe.config.inference.mirror_dense = mirror
        result[mirror] = scores(pipe, splits, args.n, args.rooms)
        print(json.dumps({"mirror": mirror, **{p: {k: round(v, 4) for k, v in s.items()}
                                               for p, s in result[mirror].items()}}), flush=True)
    print("\n| where | answers | " + " | ".join(title for title, _ in COLUMNS.values()) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for place in result[False]:
        size = f"{args.rooms} primitive rooms" if place == "rooms" else f"{args.n} {place} scenes"
        for label, mirror in (("one", False), ("with its mirror", True)):
            row = " | ".join(f"{result[mirror][place][k]:.3f}" for k in COLUMNS)
            print(f"| {size} | {label} | {row} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
