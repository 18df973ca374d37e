"""Render the demo's bundled example images once, from the synthetic world's validation split.

    python scripts/make_examples.py            # writes src/openbanana/assets/examples/*.png

Each example is ``render_scene(seed, split="val", size=256).rgb`` saved losslessly; the seeds are
fixed, so for a given version of the world rerunning the script gives the same bytes (rerun it when
the world changes and pick the seeds again by eye). The files ship with the package (they
are package data) and the demo offers them under "Examples".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from openbanana.io import save_png

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "src" / "openbanana" / "assets" / "examples"
SEEDS = (0, 2, 5, 6)  # two streets, two rooms (picked by eye from seeds 0-7 of the current world)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=EXAMPLES_DIR)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = ap.parse_args(argv)

    from openbanana.data.synthetic import render_scene

    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        scene = render_scene(seed, split="val", size=args.size)
        path = save_png(args.out / f"val_{seed:03d}_{scene.kind}.png", scene.rgb)
        print(f"{path}  ({scene.kind}, {path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
