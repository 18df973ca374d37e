"""Run ``openbanana predict`` on a bundled example and draw what it wrote as one picture.

    python scripts/make_cli_sheet.py                      # shipped model -> docs/images/cli_sheet.png
    python scripts/make_cli_sheet.py --model runs/x/pipeline --image photo.jpg

The commands run are printed; the sheet shows, left to right: the input, the generated depth
image, the depth visualisation, the generated normals image, the semantic segmentation overlay
(the task's own palette) and the instance segmentation overlay, all read back from the files
the CLI wrote.
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
        seg = _cli(
            [
                "predict",
                str(image),
                "--task",
                "semantic",
                "--task",
                "instance",
                "--model",
                str(args.model),
                "--out",
                str(out / "seg"),
            ]
        )
        files = {r["task"]: r["files"] for r in geo["results"] + seg["results"]}
        read = lambda p: np.asarray(Image.open(p).convert("RGB"))
        depth_point = next(r["point"] for r in geo["results"] if r.get("point"))
        panels = [
            ("input", read(image)),
            ("generated (depth)", read(files["depth"]["generated"])),
            (f"depth.vis  ({depth_point['depth_m']:.2f} m at 128,200)", read(files["depth"]["vis"])),
            ("generated (normals)", read(files["normals"]["generated"])),
            ("semantic overlay", read(files["semantic"]["overlay"])),
            ("instance overlay", read(files["instance"]["overlay"])),
        ]
        sheet = make_sheet(panels, height=args.height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
