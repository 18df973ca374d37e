"""Does a model read which colour the instruction gives each class, or has it memorised colours?

For each palette length ``k`` and each of the first ``n`` synthetic scenes with at least ``k``
classes in view, it asks for semantic segmentation of ``k`` of those classes twice: once in their
fixed colours (the benchmark's palette, seen throughout training) and once in random colours drawn
for that question. It scores the pixel accuracy over the pixels of those ``k`` classes (an answer of
another class or void is wrong) against chance, ``1/k``. A model that binds colours to class words
scores the same on both; one that has learnt "this colour means that class" scores well only on the
fixed colours.

    python scripts/palette_binding.py [--model DIR] [--n 8] [--split val] [--ks 2,3,4,6,9]

Prints one JSON line per ``k``, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def ask(pipe, image: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> np.ndarray:
    """The model's labels ``(H, W)`` (indices into ``palette``, 255 = void) for ``palette``, asked
    with the task's canonical instruction."""
    from openbanana.tasks import TASKS

    instruction = TASKS.get("semantic").instruction(None, palette=palette)
    return np.asarray(pipe.predict(image, instruction, task="semantic").answer)


def binding_accuracy(pipe, *, k: int, n: int, split: str = "val", seed: int = 0) -> dict[str, float | int]:
    """Mean pixel accuracy over the first ``n`` scenes of ``split`` with at least ``k`` classes in view:
    ``fixed`` (k classes in their fixed colours) and ``random`` (the same classes, random colours)."""
    from openbanana.data.sources.synthetic import SyntheticSource
    from openbanana.data.synthetic.targets import random_colors, synthetic_palette

    fixed_palette = synthetic_palette()
    names = list(fixed_palette)
    source = SyntheticSource(split=split, size=pipe.resolution)
    acc: dict[str, list[float]] = {"fixed": [], "random": []}
    for i in range(n):
        record = source[i]
        classes = np.asarray(next(t for t in record.targets if t.task == "semantic" and not t.group).gt)
        present = [c for c in np.unique(classes) if c < len(names)]
        if len(present) < k:
            continue
        rng = np.random.default_rng([seed, i, k])
        picked = [int(c) for c in rng.choice(present, size=k, replace=False)]
        truth = np.full(classes.shape, -1)
        for j, c in enumerate(picked):
            truth[classes == c] = j
        on = truth >= 0
        for kind, colors in (("fixed", [fixed_palette[names[c]] for c in picked]), ("random", random_colors(rng, k))):
            labels = ask(pipe, record.image, {names[c]: col for c, col in zip(picked, colors, strict=True)})
            acc[kind].append(float((labels[on] == truth[on]).mean()))
    return {"k": k, "scenes": len(acc["fixed"]), "chance": round(1 / k, 4),
            **{kind: round(float(np.mean(v)), 4) if v else float("nan") for kind, v in acc.items()}}


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.pipeline import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap, n=8)
    ap.add_argument("--ks", default="2,3,4,6,9", help="comma-separated palette lengths (each >= 1)")
    args = ap.parse_args(argv)
    try:
        ks = [int(k) for k in args.ks.split(",") if k]
    except ValueError:
        ap.error(f"--ks: whole numbers separated by commas, got {args.ks!r}")
    if not ks or min(ks) < 1:
        ap.error(f"--ks: palette lengths must be >= 1, got {args.ks!r}")
    if args.n < 1:
        ap.error("--n must be >= 1")
    pipe = load_model(args.model)
    rows = [binding_accuracy(pipe, k=k, n=args.n, split=args.split) for k in ks]
    for r in rows:
        print(json.dumps(r))
    print("\n| classes asked | scenes | chance | fixed colours | random colours |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['k']} | {r['scenes']} | {r['chance']:.3f} | {r['fixed']:.3f} | {r['random']:.3f} |")
    return 0 if any(r["scenes"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
