"""Sample sheets of what the model still does besides vision: text-to-image and editing on held-out
(val) scenes, beside the renders the prompts were written from.

    python scripts/make_generation_sheet.py                       # shipped model -> docs/images/
    python scripts/make_generation_sheet.py --model runs/x --n 6 --steps 16 --seed 0

Writes ``generation-sheet.png`` (per row: the caption, the val render it describes, two samples
of the model) and ``editing-sheet.png`` (per row: the instruction, the source, the re-rendered
target, the model's edit). Sampling: ``--steps`` Euler steps from noise, seeded, no guidance
unless ``--guidance`` is given.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _rows_to_sheet(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], height: int) -> np.ndarray:
    """Stack rows of titled panels, each row under its wrapped text."""
    from PIL import Image, ImageDraw

    from openbanana.io.export import make_sheet

    images = []
    for text, panels in rows:
        strip = Image.fromarray(make_sheet(panels, height=height))
        lines = textwrap.wrap(text, width=max(20, strip.width // 7))[:3]
        head = Image.new("RGB", (strip.width, 14 * len(lines) + 6), (255, 255, 255))
        for i, line in enumerate(lines):
            ImageDraw.Draw(head).text((6, 3 + 14 * i), line, fill=(0, 0, 0))
        images += [head, strip]
    width = max(im.width for im in images)
    sheet = Image.new("RGB", (width, sum(im.height for im in images)), (255, 255, 255))
    y = 0
    for im in images:
        sheet.paste(im, (0, y))
        y += im.height
    return np.asarray(sheet)


def main(argv: list[str] | None = None) -> None:
    from PIL import Image

    from openbanana.data.synthetic import make_edit, render_scene
    from openbanana.pipeline import DEFAULT_MODEL_DIR, OpenBananaPipeline

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--n", type=int, default=5, help="rows per sheet")
    ap.add_argument("--steps", type=int, default=16, help="Euler steps from noise")
    ap.add_argument("--guidance", type=float, default=1.0, help="text guidance scale (1 = off)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--height", type=int, default=128)
    args = ap.parse_args(argv)
    if args.n < 1 or args.steps < 1:
        ap.error("--n and --steps must be >= 1")

    pipe = OpenBananaPipeline.from_pretrained(args.model)
    size = pipe.resolution
    kw = {"num_inference_steps": args.steps, "guidance_text": args.guidance}
    args.out.mkdir(parents=True, exist_ok=True)

    rows = []
    for i in range(args.n):
        scene = render_scene(i, split="val", size=size)
        gen = torch.Generator().manual_seed(args.seed + i)
        out = pipe.generate(scene.caption, num_images_per_prompt=2, generator=gen, **kw).predictions
        rows.append((f"t2i: {scene.caption}", [("val render", scene.rgb), ("sample 1", out[0].generated),
                                                ("sample 2", out[1].generated)]))
    Image.fromarray(_rows_to_sheet(rows, args.height)).save(args.out / "generation-sheet.png")

    rows = []
    for i in range(args.n):
        pair = make_edit(10**6 + i, split="val", size=size)
        gen = torch.Generator().manual_seed(args.seed + i)
        out = pipe.edit(pair.source, pair.instruction, generator=gen, **kw).predictions[0]
        rows.append((f"edit: {pair.instruction}", [("source", pair.source), ("target (render)", pair.target),
                                                   ("model", out.generated)]))
    Image.fromarray(_rows_to_sheet(rows, args.height)).save(args.out / "editing-sheet.png")
    print(f"wrote {args.out / 'generation-sheet.png'} and {args.out / 'editing-sheet.png'}")


if __name__ == "__main__":
    main()
