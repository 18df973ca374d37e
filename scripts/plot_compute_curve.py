"""Score against CPU minutes across the runs that made the default model: one picture.

    python scripts/plot_compute_curve.py --out docs/images/compute-curve.png \
        --segment "run 1 (fold-s)=docs/cpu-run-scores.json@0" \
        --segment "runs 2-3 (fold-w)=docs/curves/runs2-3.json@94" \
        --segment "run 4=src/openbanana/weights/default/scores.json@203"

Each ``--segment LABEL=PATH@MINUTES`` is a JSON holding a ``"curve"`` list (what
``scripts/evaluate_default.py`` writes into ``scores.json``: one entry per training snapshot with
``minutes`` and the val scores); ``MINUTES`` is the CPU time spent before that run started, so the
segments line up on one axis. One panel per task metric (the aims of issue 14 are in README's table).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: (key in the curve, panel title, higher is better)
PANELS = (
    ("depth_delta1", "depth delta1", True),
    ("normals_mean_deg", "normals mean angle (deg)", False),
    ("semantic_miou", "semantic mIoU (fixed palette)", True),
    ("semantic_random_miou", "semantic mIoU (random palettes)", True),
    ("instance_f1", "instance F1", True),
    ("referring_ciou", "referring cIoU", True),
    ("reasoning_giou", "reasoning gIoU", True),
)


def parse_segment(text: str) -> tuple[str, Path, float]:
    """``"LABEL=PATH@MINUTES"`` -> (label, path, minutes)."""
    rest, at, minutes = text.rpartition("@")
    label, sep, path = rest.rpartition("=")  # the last "=": a label may hold one, a path rarely does
    if not sep or not at or not label or not path:
        raise ValueError(f"--segment must look like LABEL=PATH@MINUTES, got {text!r}")
    try:
        return label, Path(path), float(minutes)
    except ValueError:
        raise ValueError(f"--segment {text!r}: {minutes!r} is not a number of minutes") from None


def load_curve(path: Path) -> list[dict]:
    """The ``"curve"`` list of a scores JSON, sorted by minutes."""
    try:
        curve = json.loads(path.read_text()).get("curve") or []
    except (OSError, json.JSONDecodeError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable scores JSON ({e})") from None
    if not curve or not all("minutes" in c for c in curve):
        raise ValueError(f"{path}: no 'curve' entries with 'minutes'")
    return sorted(curve, key=lambda c: c["minutes"])


DEFAULT_TITLE = "The default model: val scores of training snapshots against CPU minutes"


def plot(segments: list[tuple[str, list[dict], float]], out: Path, title: str = DEFAULT_TITLE) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = -(-len(PANELS) // 2)
    fig, axes = plt.subplots(2, cols, figsize=(4.4 * cols, 7), squeeze=False)
    for ax in axes.ravel()[len(PANELS):]:
        ax.set_visible(False)
    # one colour per segment: matplotlib's default cycle repeats after 10, tab20 after 20
    colours = plt.get_cmap("tab20" if len(segments) > 10 else "tab10").colors
    for ax, (key, panel, higher) in zip(axes.ravel(), PANELS):
        for i, (label, curve, offset) in enumerate(segments):
            pts = [(offset + c["minutes"], c[key]) for c in curve if c.get(key) is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", label=label, color=colours[i % len(colours)])
        ax.set_title(panel + (" (higher is better)" if higher else " (lower is better)"), fontsize=10)
        ax.set_xlabel("CPU minutes (2 cores)")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--segment", action="append", required=True, metavar="LABEL=PATH@MINUTES")
    ap.add_argument("--out", type=Path, default=Path("docs/images/compute-curve.png"))
    ap.add_argument("--title", default=DEFAULT_TITLE, help="the picture's title")
    args = ap.parse_args(argv)
    try:
        segments = [(label, load_curve(path), offset) for label, path, offset in map(parse_segment, args.segment)]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    plot(segments, args.out, args.title)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
