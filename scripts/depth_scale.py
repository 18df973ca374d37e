"""Does a model read the scale of a scene? Metric depth of synthetic scenes, scene by scene.

For each scene: the median true depth, the median predicted depth, their ratio, delta1 as the
benchmark scores it (metric, no alignment) and after a per-image least-squares scale. Then, per
scene kind, the slope of log(predicted median) on log(true median): 1 when the model follows how
far away a scene is, 0 when it answers every scene at the same distance. Scenes come from
``render_scene(i, split=...)``, the synthetic benchmark's own scenes; the depth range is the
benchmark's (:data:`openbanana.evaluation.scoring.SYNTHETIC_DEPTH_RANGE_M`).

    python scripts/depth_scale.py [--model DIR] [--n 32] [--split val] [--grey-world]

``--grey-world`` shows the model every scene white-balanced by the grey-world rule
(:func:`openbanana.data.photometric.grey_world`): how much of its answer is the colour of the light.

Prints one JSON line per scene, then one per scene kind (``"kind": "all"`` too), then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def scale_slope(true_m: np.ndarray, pred_m: np.ndarray) -> float:
    """Least-squares slope of ``log(pred_m)`` on ``log(true_m)`` (NaN with fewer than 2 distinct values)."""
    x, y = np.log(np.asarray(true_m, float)), np.log(np.asarray(pred_m, float))
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan")
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def per_scene(pipe, *, n: int, split: str = "val", batch_size: int = 8, shown=None) -> list[dict]:
    """One row per scene ``0..n-1`` of ``split``: camera, kind, medians, ratio, delta1 (metric and
    scale-aligned). ``shown(rgb) -> rgb`` changes the pictures the model sees (not the truth)."""
    from openbanana.data.synthetic.generate import render_scene
    from openbanana.evaluation.scoring import SYNTHETIC_DEPTH_RANGE_M
    from openbanana.metrics.depth import depth, depth_valid_mask

    rows: list[dict] = []
    for start in range(0, n, batch_size):
        scenes = [render_scene(i, split=split, size=pipe.resolution) for i in range(start, min(n, start + batch_size))]
        out = pipe(images=[s.rgb if shown is None else shown(s.rgb) for s in scenes], task="depth",
                   batch_size=batch_size)
        for sc, pred in zip(scenes, out.predictions):
            gt = sc.depth_m
            mask = depth_valid_mask(gt, None, *SYNTHETIC_DEPTH_RANGE_M)
            if not mask.any():
                continue
            metric = depth(pred.answer, gt, align="none", min_depth_m=SYNTHETIC_DEPTH_RANGE_M[0],
                           max_depth_m=SYNTHETIC_DEPTH_RANGE_M[1])
            scaled = depth(pred.answer, gt, align="scale", min_depth_m=SYNTHETIC_DEPTH_RANGE_M[0],
                           max_depth_m=SYNTHETIC_DEPTH_RANGE_M[1])
            true_med, pred_med = float(np.median(gt[mask])), float(np.median(pred.answer[mask]))
            rows.append({"scene": sc.seed, "kind": sc.kind, "room": sc.room_type, "fov_deg": round(sc.camera.fov_deg, 1),
                         "camera_height_m": round(float(sc.camera.position_m[1]), 2),
                         "true_median_m": round(true_med, 3), "pred_median_m": round(pred_med, 3),
                         "ratio": round(pred_med / true_med, 3), "delta1": round(metric["delta1"], 4),
                         "delta1_scale": round(scaled["delta1"], 4)})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per scene kind and for all scenes: count, mean delta1 (metric, scale-aligned), the range of
    true and of predicted medians, and :func:`scale_slope` of the medians."""
    out = []
    for kind in ["all", *sorted({r["kind"] for r in rows})]:
        sel = [r for r in rows if kind in ("all", r["kind"])]
        t = np.array([r["true_median_m"] for r in sel])
        p = np.array([r["pred_median_m"] for r in sel])
        out.append({"kind": kind, "n": len(sel), "delta1": round(float(np.mean([r["delta1"] for r in sel])), 4),
                    "delta1_scale": round(float(np.mean([r["delta1_scale"] for r in sel])), 4),
                    "true_median_range_m": [round(float(t.min()), 2), round(float(t.max()), 2)],
                    "pred_median_range_m": [round(float(p.min()), 2), round(float(p.max()), 2)],
                    "slope": round(scale_slope(t, p), 3)})
    return out


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.pipeline import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap)
    ap.add_argument("--grey-world", action="store_true", help="show every scene white-balanced (grey world)")
    args = ap.parse_args(argv)
    if args.n < 2:
        ap.error("--n must be >= 2 (a slope needs two scenes)")
    from openbanana.data.photometric import grey_world

    rows = per_scene(load_model(args.model), n=args.n, split=args.split,
                     shown=grey_world if args.grey_world else None)
    summary = summarise(rows)
    for r in rows + summary:
        print(json.dumps(r))
    print("\n| scenes | n | delta1 | delta1, scale-aligned | true medians (m) | predicted medians (m) | slope |")
    print("|---|---|---|---|---|---|---|")
    for s in summary:
        t, p = s["true_median_range_m"], s["pred_median_range_m"]
        print(f"| {s['kind']} | {s['n']} | {s['delta1']:.3f} | {s['delta1_scale']:.3f} | {t[0]:.2f}-{t[1]:.2f} "
              f"| {p[0]:.2f}-{p[1]:.2f} | {s['slope']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
