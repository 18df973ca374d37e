"""The DSINE normal evaluation sets (NYUv2, ScanNet, iBims-1, ...), as DSINE distributes them.

Layout of DSINE's evaluation archive (``dsine_eval.zip``), one folder per data set::

    <root>/<dataset>/<scene or split>/<id>_img.png      RGB (DSINE's loaders: "test/000000_img.png",
                                                        "scene0532_00/000000_img.png")
    <root>/<dataset>/<scene or split>/<id>_normal.png   uint8 RGB, n = png / 255 * 2 - 1 in DSINE's
                                                        frame (x right, y down, z toward the viewer)

As in DSINE's loaders, a pixel is valid when its normal PNG is not black (sum of channels > 0).
When ``<root>/<dataset>/test/`` exists (NYUv2) only that split is read.
Normals are converted to the paper's frame (y up); the angle metric does not depend on the frame
as long as prediction and ground truth share it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openbanana.data.sources.base import (
    SOURCES,
    DataSource,
    Record,
    Target,
    check_same_size,
    read_rgb,
    require_dir,
)
from openbanana.errors import DataLayoutError
from openbanana.tasks.codecs.normals import convert_frame

EXPECTED = {"nyuv2": 654, "scannet": 300, "ibims": 100}


def decode_dsine_normal_png(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DSINE normal PNG -> (paper-frame unit normals (H, W, 3) float32, valid (H, W))."""
    n = rgb.astype(np.float32) / 255.0 * 2.0 - 1.0
    norm = np.linalg.norm(n, axis=-1)
    valid = rgb.astype(np.int64).sum(-1) > 0
    n = np.where(valid[..., None], n / np.maximum(norm, 1e-6)[..., None], 0.0)
    return convert_frame(n, "dsine", "paper").astype(np.float32), valid


class DSINESource(DataSource):
    """All ``*_img.png`` / ``*_normal.png`` pairs under ``<root>`` (one DSINE evaluation set)."""

    layout = "<root>/<scene>/<id>_img.png + <id>_normal.png (DSINE evaluation archive dsine_eval/<set>)"

    def __init__(self, root: Path, name: str = ""):
        self.root = require_dir(Path(root), "DSINE evaluation set")
        base = self.root / "test" if (self.root / "test").is_dir() else self.root
        self.images = sorted(
            p for p in base.glob("**/*_img.*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")
        )
        if not self.images:
            raise DataLayoutError(f"{self.root}: expected <id>_img.png / <id>_normal.png pairs, found none")
        self.expected_len = EXPECTED.get(name)

    def __len__(self) -> int:
        return len(self.images)

    def record_id(self, index: int) -> str:
        rel = str(self.images[index].relative_to(self.root))
        return rel[: rel.rindex("_img")]

    def __getitem__(self, index: int) -> Record:
        img = self.images[index]
        image = read_rgb(img, "DSINE RGB")
        npath = img.with_name(img.name[: img.name.rindex("_img")] + "_normal.png")
        raw = read_rgb(npath, "DSINE normal PNG")
        check_same_size(image, raw, npath, "a normal map")
        normals, valid = decode_dsine_normal_png(raw)
        return Record(
            id=self.record_id(index), image=image, targets=[Target(task="normals", gt=normals, valid=valid)]
        )


SOURCES.register("dsine", DSINESource)
