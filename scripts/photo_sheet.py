"""What the default model does with photos: one row per photo, the model's drawing for each task.

    python scripts/photo_sheet.py PHOTO [PHOTO ...] [--classes wall,floor,person] [--refer "the person"]
    python scripts/photo_sheet.py --package-photos [--out docs/images/photos-sheet.png] [--model DIR]

Each row shows the photo and what the model drew for depth, normals, semantic segmentation (with a
palette of ``--classes``) and referring segmentation (``--refer``, red on black), in the tasks'
own colour codes; the model's decoded answers follow from those drawings. ``--package-photos``
takes four photos that ship inside scikit-image (astronaut, coffee, chelsea) and scikit-learn
(china), with a palette and a referring expression chosen per photo; it needs those two packages
(``pip install scikit-image scikit-learn``, not part of this project's install). It reads the
image files from the installed packages without importing them.

Prints one JSON line per photo: the depth answer's median and range (metres), the share of
pixels the semantic answer leaves void (no class), and the share the referring answer marks.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
#: palette colours, in order, for the semantic classes of a row
COLOURS = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 255, 0), "yellow": (255, 255, 0),
           "magenta": (255, 0, 255), "cyan": (0, 255, 255)}
#: height of a panel in the sheet (pixels); widths follow each photo's aspect ratio
PANEL = 160


@dataclass(frozen=True)
class Photo:
    """A photo and what to ask of it."""

    path: Path
    classes: tuple[str, ...]
    refer: str


#: (package, file inside it, semantic classes, referring expression): photos the packages ship
PACKAGE_PHOTOS = [
    ("skimage", "data/astronaut.png", ("person", "wall", "sign"), "the person"),
    ("skimage", "data/coffee.png", ("cup", "table", "wall"), "the cup"),
    ("skimage", "data/chelsea.png", ("floor", "wall", "toy"), "the cat"),
    ("sklearn", "datasets/images/china.jpg", ("building", "sky", "tree"), "the building"),
]


def package_photos() -> list[Photo]:
    """The photos of :data:`PACKAGE_PHOTOS`, found in the installed packages (not imported)."""
    photos = []
    for package, rel, classes, refer in PACKAGE_PHOTOS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"--package-photos needs {package} installed (pip install scikit-image "
                                    "scikit-learn), or give photo paths instead")
        path = Path(next(iter(spec.submodule_search_locations))) / rel
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not in the installed {package}")
        photos.append(Photo(path, classes, refer))
    return photos


def _panel(rgb: np.ndarray) -> np.ndarray:
    width = max(1, round(PANEL * rgb.shape[1] / rgb.shape[0]))
    return np.asarray(Image.fromarray(rgb).resize((width, PANEL), Image.BILINEAR))


def photo_row(pipe, photo: Photo) -> tuple[np.ndarray, dict]:
    """The row of panels for one photo, and its summary numbers."""
    from openbanana.io.images import load_image

    image = load_image(photo.path)
    palette = dict(zip(photo.classes, COLOURS.values()))
    depth = pipe(image, task="depth").predictions[0]
    normals = pipe(image, task="normals").predictions[0]
    semantic = pipe(image, task="semantic", palette=palette).predictions[0]
    referring = pipe(image, task="referring", expressions=[photo.refer]).predictions[0]
    d = depth.answer[depth.valid] if depth.valid is not None else depth.answer.ravel()
    summary = {"photo": photo.path.name, "depth_median_m": round(float(np.median(d)), 2),
               "depth_p5_m": round(float(np.percentile(d, 5)), 2), "depth_p95_m": round(float(np.percentile(d, 95)), 2),
               "semantic_void_share": round(float(np.mean(semantic.answer == 255)), 3),
               "referring_marked_share": round(float(np.mean(referring.answer[0])), 4),
               "classes": list(photo.classes), "refer": photo.refer}
    panels = [image, depth.generated, normals.generated, semantic.generated, referring.generated]
    return np.concatenate([_panel(p) for p in panels], axis=1), summary


def draw_sheet(rows: list[np.ndarray], photos: list[Photo], path: Path) -> None:
    """Stack the rows, each under a line naming its photo, palette and expression."""
    label = 14
    height = sum(r.shape[0] + label for r in rows)
    out = Image.new("RGB", (max(r.shape[1] for r in rows), height), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    y = 0
    for row, photo in zip(rows, photos):
        key = ", ".join(f"{n} {c}" for n, c in zip(photo.classes, COLOURS))
        text = (f"{photo.path.name}: photo | depth | normals | semantic ({key}) | referring "
                f"(\"{photo.refer}\" in red)")
        draw.text((4, y + 1), text, fill=(0, 0, 0))
        out.paste(Image.fromarray(row), (0, y + label))
        y += row.shape[0] + label
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", nargs="*", type=Path, help="photo files (any size; PNG, JPEG, ...)")
    ap.add_argument("--package-photos", action="store_true",
                    help="use four photos shipped inside scikit-image and scikit-learn")
    ap.add_argument("--classes", default="wall,floor,person", help="semantic classes for given photos (at most 6)")
    ap.add_argument("--refer", default="the person", help="referring expression for given photos")
    ap.add_argument("--model", type=Path, default=None, help="pipeline folder (default: the shipped model)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "photos-sheet.png")
    args = ap.parse_args(argv)
    classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
    if not args.photos and not args.package_photos:
        ap.error("give photo paths or --package-photos")
    if not 1 <= len(classes) <= len(COLOURS):
        ap.error(f"--classes: give 1 to {len(COLOURS)} class names")
    if not args.refer.strip():
        ap.error("--refer must not be empty")

    from openbanana.pipeline import load_model

    try:
        photos = [Photo(p, classes, args.refer) for p in args.photos]
        missing = [str(p.path) for p in photos if not p.path.is_file()]
        if missing:
            raise FileNotFoundError(f"no such photo: {', '.join(missing)}")
        if args.package_photos:
            photos += package_photos()
        pipe = load_model(args.model)
        rows = []
        for photo in photos:
            row, summary = photo_row(pipe, photo)
            rows.append(row)
            print(json.dumps(summary))
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    draw_sheet(rows, photos, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
