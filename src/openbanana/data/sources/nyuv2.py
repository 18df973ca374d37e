"""NYUv2 depth, the 654-image Eigen test split.

The split is usually distributed extracted from the official ``nyu_depth_v2_labeled.mat``; this
adapter reads that extraction (the layout Marigold's evaluation uses)::

    <root>/filename_list_test.txt          654 lines: "<rgb path> <depth path> [<filled path>]"
    <root>/test/<scene>/rgb_<idx>.png      480 x 640 RGB
    <root>/test/<scene>/depth_<idx>.png    480 x 640 uint16, millimetres, 0 = no measurement

Paths in the list are relative to ``<root>``. Protocol: the Eigen crop (rows 45:471, columns
41:601) and the valid range 1e-3 .. 10 m. A list with another number of lines than 654 is
evaluated but the result records the split as incomplete (``expected_len``).
"""

from __future__ import annotations

from pathlib import Path

from openbanana.data.sources.base import (
    SOURCES,
    DataSource,
    Record,
    Target,
    check_same_size,
    read_list_file,
    read_rgb,
)
from openbanana.data.sources.depth_common import eigen_crop_mask, read_depth_png
from openbanana.errors import DataLayoutError

NYU_TEST_SIZE = 654
MIN_DEPTH_M, MAX_DEPTH_M = 1e-3, 10.0
DEPTH_SCALE = 1000.0  # PNG units per metre


class NYUv2Source(DataSource):
    """NYUv2 Eigen test split (654 images), depth targets with the Eigen crop as valid mask."""

    layout = "<root>/filename_list_test.txt + <root>/test/<scene>/{rgb,depth}_<idx>.png (depth uint16 mm)"
    expected_len = NYU_TEST_SIZE

    def __init__(self, root: Path, list_file: str = "filename_list_test.txt"):
        self.root = Path(root)
        list_path = self.root / list_file
        self.pairs: list[tuple[Path, Path]] = []
        for n, line in enumerate(read_list_file(list_path, "NYUv2 test list"), 1):
            parts = line.split()
            if len(parts) < 2:
                raise DataLayoutError(
                    f"{list_path}:{n}: expected '<rgb path> <depth path> [<filled path>]', got {line!r}"
                )
            self.pairs.append((self.root / parts[0], self.root / parts[1]))
        if not self.pairs:
            raise DataLayoutError(f"{list_path}: expected {NYU_TEST_SIZE} lines, found none")

    def __len__(self) -> int:
        return len(self.pairs)

    def record_id(self, index: int) -> str:
        rgb = self.pairs[index][0]
        return f"{rgb.parent.name}/{rgb.stem}"

    def __getitem__(self, index: int) -> Record:
        rgb_path, depth_path = self.pairs[index]
        image = read_rgb(rgb_path, "NYUv2 RGB")
        depth = read_depth_png(depth_path, DEPTH_SCALE, "NYUv2 depth (uint16 mm)")
        check_same_size(image, depth, depth_path, "a depth map")
        valid = eigen_crop_mask(depth.shape, depth_path)
        return Record(
            id=self.record_id(index),
            image=image,
            targets=[Target(task="depth", gt=depth, valid=valid, meta={"gt_path": str(depth_path)})],
        )


SOURCES.register("nyuv2", NYUv2Source)
