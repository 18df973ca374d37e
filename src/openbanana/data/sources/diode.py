"""DIODE indoor, validation split (depth, and normals for the normal benchmarks).

Official layout (``val.tar.gz`` and ``val_normals.tar.gz`` from diode-dataset.org)::

    <root>/val/indoors/scene_<id>/scan_<id>/<name>.png               RGB 768 x 1024
    <root>/val/indoors/scene_<id>/scan_<id>/<name>_depth.npy         float32 (H, W, 1) metres
    <root>/val/indoors/scene_<id>/scan_<id>/<name>_depth_mask.npy    float32 (H, W), 1 = valid
    <root>/val/indoors/scene_<id>/scan_<id>/<name>_normal.npy        float32 (H, W, 3) (normals only)

``.npy`` files are read with ``allow_pickle=False``. DIODE's normal frame is not stated in its
devkit; we ASSUME DSINE's frame (x right, y down, z toward the viewer) and convert to the paper's
frame (y up). Unverified here (no data could be downloaded): check one scan, a floor must decode
facing +y. The angle metric is wrong only if the assumed frame is. Depth protocol: 0.6 .. 350 m
(Marigold's DIODE range).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openbanana.data.sources.base import (
    SOURCES,
    DataSource,
    Record,
    Target,
    read_rgb,
    require_dir,
    require_file,
)
from openbanana.errors import DataLayoutError
from openbanana.tasks.codecs.normals import convert_frame

MIN_DEPTH_M, MAX_DEPTH_M = 0.6, 350.0
DIODE_INDOOR_VAL = 325


def read_npy(path: Path, what: str) -> np.ndarray:
    require_file(path, what)
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise DataLayoutError(f"{path}: expected a numeric .npy array ({what}), got {exc}") from None


class DIODESource(DataSource):
    """DIODE ``val/indoors`` scans; ``task`` = ``depth`` or ``normals``."""

    layout = "<root>/val/indoors/scene_*/scan_*/<name>{.png,_depth.npy,_depth_mask.npy,_normal.npy}"

    def __init__(self, root: Path, task: str = "depth", split: str = "val", scene_type: str = "indoors"):
        if task not in ("depth", "normals"):
            raise ValueError(f"DIODE: expected task 'depth' or 'normals', got {task!r}")
        self.root, self.task = Path(root), task
        base = require_dir(self.root / split / scene_type, f"DIODE {split}/{scene_type}")
        self.images = sorted(base.glob("scene_*/scan_*/*.png"))
        if not self.images:
            raise DataLayoutError(f"{base}: expected scene_*/scan_*/<name>.png files, found none")
        self.expected_len = DIODE_INDOOR_VAL if (split, scene_type) == ("val", "indoors") else None

    def __len__(self) -> int:
        return len(self.images)

    def record_id(self, index: int) -> str:
        return self.images[index].stem

    def __getitem__(self, index: int) -> Record:
        img_path = self.images[index]
        image = read_rgb(img_path, "DIODE RGB")
        h, w = image.shape[:2]
        stem = img_path.with_suffix("")
        if self.task == "depth":
            depth = read_npy(Path(f"{stem}_depth.npy"), "DIODE depth, float32 (H, W, 1) metres")
            mask = read_npy(Path(f"{stem}_depth_mask.npy"), "DIODE depth mask, (H, W)")
            depth = depth[..., 0] if depth.ndim == 3 else depth
            for arr, name, shape in ((depth, "_depth.npy", (h, w)), (mask, "_depth_mask.npy", (h, w))):
                if arr.shape != shape:
                    raise DataLayoutError(
                        f"{stem}{name}: expected shape {shape} (the image's), got {arr.shape}"
                    )
            target = Target(task="depth", gt=depth.astype(np.float32), valid=mask > 0.5)
        else:
            n = read_npy(Path(f"{stem}_normal.npy"), "DIODE normals, float32 (H, W, 3)")
            if n.shape != (h, w, 3):
                raise DataLayoutError(f"{stem}_normal.npy: expected shape {(h, w, 3)}, got {n.shape}")
            n = n.astype(np.float32)
            target = Target(task="normals", gt=convert_frame(n, "dsine", "paper").astype(np.float32))
        return Record(id=self.record_id(index), image=image, targets=[target])


SOURCES.register("diode", DIODESource)
