"""README's demo picture: ``openbanana demo`` on the bundled examples, its sheets stacked.

    python scripts/make_demo_sheet.py                          # shipped model -> docs/images/demo-sheet.png
    python scripts/make_demo_sheet.py --model runs/x --n 2 --out /tmp/sheet.png

Runs the same command a user runs (``openbanana demo --out TMP --model ... --n N``) and stacks the
sheets it wrote (one per example, five panels per task) top to bottom.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="pipeline folder (default: the shipped model)")
    ap.add_argument("--n", type=int, default=2, help="bundled examples")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "demo-sheet.png")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "openbanana", "demo", "--out", tmp, "--n", str(args.n)]
        if args.model is not None:
            cmd += ["--model", str(args.model)]
        print("$ " + " ".join(cmd), file=sys.stderr)
        done = subprocess.run(cmd, check=False, capture_output=True, text=True)
        sheets = sorted(Path(tmp).glob("*.demo.png"))
        if done.returncode != 0 or not sheets:
            print(f"error: openbanana demo failed:\n{done.stderr or done.stdout}", file=sys.stderr)
            return 1
        images = [np.asarray(Image.open(p).convert("RGB")) for p in sheets]
    width = max(a.shape[1] for a in images)
    padded = [np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), constant_values=255) for a in images]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(padded, axis=0)).save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(images)} sheets)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
