"""ReasonSeg val: reasoning segmentation, queries with polygon masks.

Official layout (the ReasonSeg release of the LISA project)::

    <root>/val/<name>.jpg
    <root>/val/<name>.json   {"text": [query, ...], "is_sentence": bool,
                              "shapes": [{"label": "target" | "ignore" | "flag", "points": [[x, y], ...]}, ...]}

Ground truth as the release defines it: polygons labelled ``flag`` are skipped, the others are
filled largest-area first; ``ignore`` polygons mark pixels left out of the score, every other
label marks the target. The first query of each image is the sample (one per image).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from openbanana.data.sources.base import SOURCES, DataSource, Record, Target, read_json, read_rgb, require_dir
from openbanana.errors import DataLayoutError

RED = (255, 0, 0)
REASONSEG_VAL = 200


def _poly_mask(points: list, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    img = Image.new("L", (w, h), 0)
    pts = [(float(x), float(y)) for x, y in points]
    if len(pts) >= 2:
        ImageDraw.Draw(img).polygon(pts, fill=1, outline=1)
    return np.asarray(img, dtype=bool)


def reasonseg_mask(doc: dict, size: tuple[int, int], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(target mask, valid mask) from a ReasonSeg JSON (see the module docstring)."""
    shapes = doc.get("shapes")
    if not isinstance(shapes, list):
        raise DataLayoutError(f"{path}: expected a 'shapes' list of polygons, got {type(shapes).__name__}")
    polys = []
    for k, s in enumerate(shapes):
        if not isinstance(s, dict) or "points" not in s or "label" not in s:
            raise DataLayoutError(f"{path}: shape #{k}: expected keys 'label' and 'points'")
        if str(s["label"]).lower() == "flag":
            continue
        m = _poly_mask(s["points"], size)
        polys.append((int(m.sum()), "ignore" in str(s["label"]).lower(), m))
    value = np.zeros(size, dtype=np.uint8)
    for _, ignore, m in sorted(polys, key=lambda p: -p[0]):  # stable: largest first, later overwrite
        value[m] = 255 if ignore else 1
    return value == 1, value != 255


class ReasonSegSource(DataSource):
    """ReasonSeg ``split`` (default val): one reasoning target per image."""

    layout = "<root>/<split>/<name>.jpg + <name>.json (LISA ReasonSeg release)"

    def __init__(self, root: Path, split: str = "val"):
        self.dir = require_dir(Path(root) / split, f"ReasonSeg {split}")
        self.jsons = sorted(self.dir.glob("*.json"))
        if not self.jsons:
            raise DataLayoutError(f"{self.dir}: expected <name>.jpg + <name>.json pairs, found none")
        self.expected_len = REASONSEG_VAL if split == "val" else None

    def __len__(self) -> int:
        return len(self.jsons)

    def record_id(self, index: int) -> str:
        return self.jsons[index].stem

    def __getitem__(self, index: int) -> Record:
        jpath = self.jsons[index]
        img_path = jpath.with_suffix(".jpg")
        image = read_rgb(img_path, "ReasonSeg image")
        doc = read_json(jpath, "ReasonSeg annotation")
        texts = doc.get("text") if isinstance(doc, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise DataLayoutError(f"{jpath}: expected 'text' to hold at least one query, got {texts!r}")
        mask, valid = reasonseg_mask(doc, image.shape[:2], jpath)
        if not mask.any():
            raise DataLayoutError(f"{jpath}: expected a non-empty target mask, got an empty one")
        target = Target(
            task="reasoning",
            gt=mask[None],
            valid=valid,
            spec={"expressions": [texts[0].strip()], "colors": [RED], "background": (0, 0, 0)},
            meta={"is_sentence": bool(doc.get("is_sentence", False))},
        )
        return Record(id=self.record_id(index), image=image, targets=[target])


SOURCES.register("reasonseg", ReasonSegSource)
