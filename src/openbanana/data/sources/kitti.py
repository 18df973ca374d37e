"""KITTI depth, the Eigen test split with the annotated (improved) ground truth.

Official layout (KITTI raw data + the KITTI depth benchmark's annotated depth maps)::

    <root>/eigen_test_files_with_gt.txt
        lines "<date>/<drive>_sync/image_02/data/<frame>.png <drive>_sync/proj_depth/groundtruth/image_02/<frame>.png <focal>"
        (the 697-line Eigen test list; a ground-truth path of "None" marks frames without annotation)
    <root>/raw/<date>/<drive>_sync/image_02/data/<frame>.png                        RGB, ~375 x 1242
    <root>/data_depth_annotated/{train,val}/<drive>_sync/proj_depth/groundtruth/image_02/<frame>.png
        uint16, metres * 256, 0 = no measurement

Protocol: the Garg crop, depth up to 80 m (1e-3 .. 80). Lines without ground truth are not
evaluated; their number is written into the result's notes (652 of 697 have it).
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
    require_dir,
)
from openbanana.data.sources.depth_common import garg_crop_mask, read_depth_png
from openbanana.errors import DataLayoutError

MIN_DEPTH_M, MAX_DEPTH_M = 1e-3, 80.0
DEPTH_SCALE = 256.0
EIGEN_WITH_GT = 652


class KITTISource(DataSource):
    """KITTI Eigen test frames that have annotated ground truth."""

    layout = "<root>/eigen_test_files_with_gt.txt + raw/ + data_depth_annotated/{train,val}/"
    expected_len = EIGEN_WITH_GT

    def __init__(self, root: Path, list_file: str = "eigen_test_files_with_gt.txt"):
        self.root = Path(root)
        list_path = self.root / list_file
        lines = read_list_file(list_path, "KITTI Eigen test list")
        raw = require_dir(self.root / "raw", "KITTI raw data")
        gt_root = require_dir(self.root / "data_depth_annotated", "KITTI annotated depth")
        self.items: list[tuple[Path, Path | None]] = []
        no_gt = 0
        for n, line in enumerate(lines, 1):
            parts = line.split()
            if len(parts) < 2:
                raise DataLayoutError(
                    f"{list_path}:{n}: expected '<image path> <gt path> [<focal>]', got {line!r}"
                )
            if parts[1] == "None":
                no_gt += 1
                continue
            cands = [gt_root / sub / parts[1] for sub in ("train", "val")]
            gt = next((c for c in cands if c.is_file()), cands[0])
            self.items.append((raw / parts[0], gt))
        if not self.items:
            raise DataLayoutError(f"{list_path}: expected lines with ground truth, found none")
        self.notes = [f"{no_gt} lines of {list_file} have no ground truth (None) and are not evaluated"]

    def __len__(self) -> int:
        return len(self.items)

    def record_id(self, index: int) -> str:
        img = self.items[index][0]
        return f"{img.parents[2].name}/{img.stem}"

    def __getitem__(self, index: int) -> Record:
        img_path, gt_path = self.items[index]
        image = read_rgb(img_path, "KITTI raw image_02 frame")
        depth = read_depth_png(gt_path, DEPTH_SCALE, "KITTI annotated depth (uint16, m * 256)")
        check_same_size(image, depth, gt_path, "a depth map")
        return Record(
            id=self.record_id(index),
            image=image,
            targets=[
                Target(
                    task="depth", gt=depth, valid=garg_crop_mask(depth.shape), meta={"gt_path": str(gt_path)}
                )
            ],
        )


SOURCES.register("kitti", KITTISource)
