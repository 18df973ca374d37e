"""Run ``openbanana predict`` on a bundled example and draw what it wrote as one picture.

    python scripts/make_cli_sheet.py                      # shipped model -> docs/images/cli_sheet.png
    python scripts/make_cli_sheet.py --model runs/x/pipeline --image photo.jpg

The commands run are printed; the sheet shows, left to right: the input, the generated depth
image, the depth visualisation, the generated normals image, the semantic segmentation overlay
and the referring-segmentation overlay, all read back from the files the CLI wrote.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PALETTE = "Semantic segmentation: the sky is #4682B4, the road is (128, 64, 128), buildings are light gray"
REFERRING = "segment the tree in (0, 255, 0)"


def _cli(argv: list[str]) -> dict:
    from openbanana.cli import main

    print("openbanana " + " ".join(f'"{a}"' if " " in a else a for a in argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main([*argv, "--json"])
    return json.loads(out.getvalue())


def main(argv: list[str] | None = None) -> None:
    from openbanana.io.export import make_sheet
    from openbanana.pipeline import DEFAULT_MODEL_DIR
    from openbanana.server.app import example_images

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--image", type=Path, default=None, help="default: the first bundled example")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "cli_sheet.png")
    ap.add_argument("--height", type=int, default=180)
    args = ap.parse_args(argv)
    image = args.image or Path(example_images()[0])

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        base = [str(image), "--model", str(args.model), "--point", "128,200"]
        geo = _cli(["predict", *base, "--task", "depth", "--task", "normals", "--out", str(out / "geo")])
        seg = _cli(["predict", str(image), PALETTE, "--model", str(args.model), "--out", str(out / "seg")])
        ref = _cli(["predict", str(image), REFERRING, "--model", str(args.model), "--out", str(out / "ref")])
        files = {r["task"]: r["files"] for r in geo["results"] + seg["results"] + ref["results"]}
        read = lambda p: np.asarray(Image.open(p).convert("RGB"))
        depth_point = next(r["point"] for r in geo["results"] if r.get("point"))
        panels = [
            ("input", read(image)),
            ("generated (depth)", read(files["depth"]["generated"])),
            (f"depth.vis  ({depth_point['depth_m']:.2f} m at 128,200)", read(files["depth"]["vis"])),
            ("generated (normals)", read(files["normals"]["generated"])),
            ("semantic overlay", read(files[seg["results"][0]["task"]]["overlay"])),
            ("referring overlay", read(files[ref["results"][0]["task"]]["overlay"])),
        ]
        sheet = make_sheet(panels, height=args.height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
