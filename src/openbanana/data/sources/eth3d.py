"""ETH3D high-resolution multi-view training scenes as a single-image depth benchmark (454 images).

Official layout (``multi_view_training_dslr_undistorted.7z`` + ``multi_view_training_dslr_depth.7z``
from eth3d.net)::

    <root>/<scene>/images/dslr_images/DSC_<n>.JPG                 RGB, 6048 x 4032
    <root>/<scene>/ground_truth_depth/dslr_images/DSC_<n>.JPG     raw little-endian float32,
                                                                  H * W values, inf = no data

(the depth files keep the image's name but are raw float arrays, not JPEGs). Protocol: depth
above 1e-5 m, no upper bound (Marigold's ETH3D setting).
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

MIN_DEPTH_M, MAX_DEPTH_M = 1e-5, None
ETH3D_LEN = 454


def read_raw_depth(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """ETH3D raw float32 depth of ``shape`` (H, W); inf -> 0 (no data)."""
    require_file(path, "ETH3D raw float32 depth")
    data = np.fromfile(path, dtype="<f4")
    if data.size != shape[0] * shape[1]:
        raise DataLayoutError(
            f"{path}: expected {shape[0]} x {shape[1]} float32 values (the image's size), got {data.size}"
        )
    depth = data.reshape(shape).astype(np.float32)
    depth[~np.isfinite(depth)] = 0.0
    return depth


class ETH3DSource(DataSource):
    """Every DSLR image of every scene under ``root`` that has a ground-truth depth file."""

    layout = "<root>/<scene>/images/dslr_images/*.JPG + <root>/<scene>/ground_truth_depth/dslr_images/*.JPG"
    expected_len = ETH3D_LEN

    def __init__(self, root: Path):
        self.root = require_dir(Path(root), "ETH3D root")
        self.images = sorted(self.root.glob("*/images/dslr_images/*.JPG"))
        if not self.images:
            raise DataLayoutError(f"{self.root}: expected <scene>/images/dslr_images/*.JPG, found none")

    def __len__(self) -> int:
        return len(self.images)

    def record_id(self, index: int) -> str:
        p = self.images[index]
        return f"{p.parents[2].name}/{p.stem}"

    def __getitem__(self, index: int) -> Record:
        img = self.images[index]
        image = read_rgb(img, "ETH3D DSLR image")
        gt = img.parents[2] / "ground_truth_depth" / "dslr_images" / img.name
        depth = read_raw_depth(gt, image.shape[:2])
        return Record(id=self.record_id(index), image=image, targets=[Target(task="depth", gt=depth)])


SOURCES.register("eth3d", ETH3DSource)
