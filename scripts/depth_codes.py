"""In which colour code does a model answer depth best? Asks a pipeline for the metric depth of
synthetic val scenes once per code (the paper's colour path, and each augmentation colormap named
in the instruction, which the training mixture draws for ``colormap_prob`` of its depth samples)
and scores every answer with the synthetic benchmark's depth protocol (metric, no alignment,
valid 1e-3 .. 80 m).

    python scripts/depth_codes.py [--model DIR] [--n 32] [--split val] [--codes paper,grayscale,plasma]

Prints one JSON line per code, ``{"code", "delta1", "abs_rel", "rmse", "n"}``, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys


def score_codes(pipe, codes: list[str], *, n: int, split: str = "val", batch_size: int = 8) -> list[dict]:
    """Depth metrics of ``pipe`` on scenes ``0..n-1`` of ``split``, once per colour code: the
    ``synthetic-<split>`` benchmark with the depth targets' spec set to that code.

    Args:
        pipe: an :class:`~openbanana.pipeline.OpenBananaPipeline`.
        codes: keys of :data:`openbanana.tasks.codecs.colormaps.COLORMAPS` (``"paper"`` is the
            paper's colour path).
    Returns:
        one ``{"code", "delta1", "abs_rel", "rmse", "n"}`` per code, in order.
    """
    from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
    from openbanana.evaluation.runner import EvalOptions, evaluate

    rows = []
    for code in codes:
        opts = EvalOptions(limit=n, grid=0, batch_size=batch_size, tasks=("depth",),
                           task_spec={"depth": {"colormap": code}},
                           benchmark=BenchmarkOptions(synthetic_size=pipe.resolution))
        result, _ = evaluate(pipe, BENCHMARKS.get(f"synthetic-{split}"), opts, progress=False)
        m = result["metrics"]["depth"]
        rows.append({"code": code, "delta1": m["delta1"], "abs_rel": m["abs_rel"], "rmse": m["rmse"],
                     "n": result["n_samples"]["depth"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.pipeline import load_model
    from openbanana.tasks.codecs.colormaps import COLORMAPS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap)
    known = ["paper", *(c for c in COLORMAPS if c != "paper")]
    ap.add_argument("--codes", default=",".join(known), help="comma-separated colour codes")
    args = ap.parse_args(argv)
    codes = [c for c in args.codes.split(",") if c]
    bad = [c for c in codes if c not in known]
    if bad or not codes:
        ap.error(f"--codes: unknown {bad}; known: {', '.join(known)}")
    if args.n < 1:
        ap.error("--n must be >= 1")
    rows = score_codes(load_model(args.model), codes, n=args.n, split=args.split)
    for r in rows:
        print(json.dumps(r))
    print("\n| code | depth delta1 | AbsRel | RMSE (m) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['code']} | {r['delta1']:.3f} | {r['abs_rel']:.3f} | {r['rmse']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
