"""How much does a model's colour-copy head copy? For each task, the mean weight of the head's
"keep" option (1 = the network's own output, 0 = a colour the instruction names) over the pixels of
synthetic scenes, asked with the benchmark's instruction for each scene's target, and the share of
pixels that mostly copy (keep < 0.5).

    python scripts/color_copy_usage.py [--model DIR] [--n 8] [--split val] [--tasks semantic,referring,instance]

Prints one JSON line per task, then a Markdown table. A model without the head is refused.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

DEFAULT_TASKS = ("semantic", "referring", "reasoning", "instance")


def keep_weights(pipe, group: str, *, n: int, split: str = "val") -> list[torch.Tensor]:
    """The head's keep weight ``[H, W]`` for each of the first ``n`` scenes of ``split`` that have a
    target of scorer group ``group`` (a task, or ``reasoning``), asked with the benchmark's
    instruction for that target."""
    from openbanana.data.sources.synthetic import SyntheticSource
    from openbanana.tasks import TASKS

    head = getattr(pipe.backend.net, "copy", None)
    if head is None:
        raise ValueError("this model has no colour-copy head (TinyConfig.color_copy = 0)")
    seen: list[torch.Tensor] = []

    def record(module, inputs, output):  # inputs: (out, features, pixels, text, target, one_step)
        seen.extend(module.weights(*inputs[1:4], inputs[5])[0][:, 0].detach().cpu())

    handle = head.register_forward_hook(record)
    try:
        source = SyntheticSource(split=split, size=pipe.resolution)
        for i in range(n):
            record_ = source[i]
            targets = [t for t in record_.targets if (t.group or t.task) == group]
            if targets:
                t = targets[0]
                pipe.predict(record_.image, TASKS.get(t.task).instruction(None, **t.spec), task=t.task)
    finally:
        handle.remove()
    return seen


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.pipeline import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap, n=8)
    ap.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="comma-separated tasks")
    args = ap.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    bad = [t for t in tasks if t not in DEFAULT_TASKS + ("depth", "normals")]
    if bad or not tasks:
        ap.error(f"--tasks: unknown {bad}")
    if args.n < 1:
        ap.error("--n must be >= 1")
    pipe = load_model(args.model)
    rows = []
    with torch.no_grad():
        for task in tasks:
            try:
                keep = keep_weights(pipe, task, n=args.n, split=args.split)
            except ValueError as e:  # no head
                ap.error(str(e))
            flat = torch.cat([k.flatten() for k in keep]) if keep else torch.zeros(0)
            rows.append({"task": task, "images": len(keep),
                         "mean_keep": round(float(flat.mean()), 4) if len(flat) else float("nan"),
                         "copy_share": round(float((flat < 0.5).float().mean()), 4) if len(flat) else float("nan")})
    for r in rows:
        print(json.dumps(r))
    print("\n| task | images | mean keep weight | pixels that copy (keep < 0.5) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {r['images']} | {r['mean_keep']:.4f} | {100 * r['copy_share']:.1f} % |")
    return 0 if all(np.isfinite(r["mean_keep"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
