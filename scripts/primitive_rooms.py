"""Depth and normals on rooms from a second renderer: does the model keep them off its own renders?

Scores a model on the ``primitive-rooms`` benchmark (rooms of boxes, balls and cylinders, ray-cast
in closed form by :mod:`openbanana.data.primitive_rooms`, none of the training renderer's code),
beside two references scored by the same scorers on the same rooms:

- *one constant depth*: every pixel of every room at the rooms' median true depth (fitted on the
  rooms themselves, so it is the best single distance in hindsight);
- *every normal facing the camera*: (0, 0, 1) in the paper's frame.

It also scores the model's depth after a per-image least-squares scale (the shape of its maps
without their metric scale), and draws the first rooms (input, depth and normals, the model's
beside the truth, depth of both on the truth's colour scale).

    python scripts/primitive_rooms.py [--model DIR] [--n 64] [--sheet docs/images/primitive-rooms.png]
                                      [--contrast 1.6] [--saturation 0]

The scores are :func:`openbanana.model_card.evaluate_rooms`, the same as the model card's section
on these rooms (:func:`openbanana.model_card.rooms_card`).

``--contrast`` and ``--saturation`` show the model every room with its contrast or saturation
scaled (:func:`openbanana.data.photometric.jitter_image`; the answers are unchanged): what the
model reads from the light.

Prints one JSON line per row, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from openbanana.data.photometric import jitter_image


class ShownAs:
    """A source whose pictures are shown with other contrast and saturation (targets unchanged)."""

    def __init__(self, source, contrast: float = 1.0, saturation: float = 1.0):
        self.source, self.contrast, self.saturation = source, contrast, saturation

    def __len__(self) -> int:
        return len(self.source)

    def __getattr__(self, name: str):
        return getattr(self.source, name)

    def __getitem__(self, index: int):
        rec = self.source[index]
        return replace(rec, image=jitter_image(rec.image, self.contrast, 0.0, 1.0, self.saturation))


def draw_sheet(pipe, source, rows: int, path: Path) -> None:
    from PIL import Image, ImageDraw

    from openbanana.io.export import colorize_depth, colorize_normals, depth_limits

    recs = [source[i] for i in range(rows)]
    depth = pipe(images=[r.image for r in recs], task="depth", batch_size=rows).predictions
    normals = pipe(images=[r.image for r in recs], task="normals", batch_size=rows).predictions
    lines = []
    for rec, d, nm in zip(recs, depth, normals):
        gt_d, gt_n = rec.targets[0].gt, rec.targets[1].gt
        lim = depth_limits(gt_d)
        lines.append(np.concatenate([rec.image, colorize_depth(d.answer, limits=lim), colorize_depth(gt_d, limits=lim),
                                     colorize_normals(nm.answer), colorize_normals(gt_n)], 1))
    grid = np.concatenate(lines, 0)
    head = 16
    out = Image.new("RGB", (grid.shape[1], grid.shape[0] + head), (255, 255, 255))
    out.paste(Image.fromarray(grid), (0, head))
    w = grid.shape[1] // 5
    for c, name in enumerate(["input", "model depth", "true depth", "model normals", "true normals"]):
        ImageDraw.Draw(out).text((c * w + 4, 2), name, fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="exported pipeline directory (default: the shipped model)")
    ap.add_argument("--n", type=int, default=64, help="rooms")
    ap.add_argument("--sheet", type=Path, default=None, help="also draw the first rooms into this PNG")
    ap.add_argument("--sheet-rows", type=int, default=4)
    ap.add_argument("--contrast", type=float, default=1.0, help="show the rooms with their contrast scaled")
    ap.add_argument("--saturation", type=float, default=1.0, help="show the rooms with their saturation scaled")
    args = ap.parse_args(argv)
    if args.n < 1 or args.sheet_rows < 1:
        ap.error("--n and --sheet-rows must be >= 1")
    if args.contrast <= 0 or args.saturation < 0:
        ap.error("--contrast must be > 0 and --saturation >= 0")

    from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource
    from openbanana.evaluation.model import OracleModel
    from openbanana.model_card import constant_room_answers, evaluate_rooms, load_model

    try:
        pipe = load_model(args.model)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    source = PrimitiveRoomsSource(size=pipe.resolution)
    if (args.contrast, args.saturation) != (1.0, 1.0):
        source = ShownAs(source, args.contrast, args.saturation)
    constant, median = constant_room_answers(source, args.n)
    rows = [
        ("the model", evaluate_rooms(pipe, args.n, source=source)),
        ("the model, depth scaled per image", {**evaluate_rooms(pipe, args.n, align="scale", source=source),
                                               "normals_mean_deg": float("nan"), "normals_a11_25": float("nan")}),
        (f"one constant depth ({median:.2f} m), every normal facing the camera",
         evaluate_rooms(OracleModel(source, transform=constant, through_code=False), args.n, source=source)),
    ]
    for name, r in rows:
        print(json.dumps({"answers": name, **{k: None if np.isnan(v) else round(v, 4) for k, v in r.items()}}))
    print(f"\n| answers ({args.n} primitive rooms, {pipe.resolution} px) | depth delta1 | AbsRel | normals mean (deg) "
          "| normals < 11.25 deg (%) |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        normals = " | ".join("" if np.isnan(r[k]) else f"{r[k]:.1f}" for k in ("normals_mean_deg", "normals_a11_25"))
        print(f"| {name} | {r['depth_delta1']:.3f} | {r['depth_abs_rel']:.3f} | {normals} |")
    if args.sheet is not None:
        draw_sheet(pipe, source, args.sheet_rows, args.sheet)
        print(f"\nwrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
