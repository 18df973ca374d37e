"""What do hard choices in the colour-copy head change? Scores a model's mask tasks on synthetic
scenes twice: with the head mixing its options (the softmax's blend, how it is trained) and with
each pixel taking its most probable option (``TinyConfig.color_copy_hard``), whatever the model's
own setting is.

    python scripts/hard_choices.py [--model DIR] [--n 64] [--split val]

Prints one JSON line per mode, then a Markdown table (rows: the two modes; columns: the scores).
A model without the head is refused.
"""

from __future__ import annotations

import argparse
import json
import sys

#: the scores a colour-copy head can change (depth and normals name no colour: it keeps there)
METRICS = ("semantic_miou", "semantic_random_miou", "instance_f1", "referring_ciou", "reasoning_giou")


def scores(pipe, hard: bool, *, n: int, split: str) -> dict[str, float]:
    """:data:`METRICS` of ``pipe`` on the first ``n`` scenes of ``split``, the head set to ``hard``."""
    from openbanana.model_card import evaluate_split

    head = pipe.backend.net.copy
    before = head.hard
    head.hard = hard
    try:
        result = evaluate_split(pipe, split, n, progress=False)
    finally:
        head.hard = before
    return {k: result[k] for k in METRICS if k in result}


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.pipeline import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap, n=64)
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be >= 1")
    pipe = load_model(args.model)
    if getattr(getattr(pipe.backend, "net", None), "copy", None) is None:
        print("this model has no colour-copy head (TinyConfig.color_copy = 0)", file=sys.stderr)
        return 1
    rows = {}
    for mode, hard in (("mixture", False), ("hard", True)):
        rows[mode] = scores(pipe, hard, n=args.n, split=args.split)
        print(json.dumps({"mode": mode, "split": args.split, "n": args.n,
                          **{k: round(v, 4) for k, v in rows[mode].items()}}), flush=True)
    keys = list(rows["mixture"])
    print(f"\n| {args.split}, {args.n} scenes | {' | '.join(keys)} |\n|---|{'---|' * len(keys)}")
    for mode, row in rows.items():
        print(f"| {mode} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
