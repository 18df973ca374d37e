"""NYUv2 depth, the 654-image Eigen test split.

The split is usually distributed extracted from the official ``nyu_depth_v2_labeled.mat``; this
adapter reads that extraction (the layout Marigold's evaluation uses)::

    <root>/filename_list_test.txt          654 lines: "<rgb path> <depth path> [<filled path>]"
    <root>/test/<scene>/rgb_<idx>.png      480 x 640 RGB
    <root>/test/<scene>/depth_<idx>.png    480 x 640 uint16, millimetres, 0 = no measurement

Paths in the list are relative to ``<root>``. ``openbanana convert-nyu nyu_depth_v2_labeled.mat
splits.mat <root>`` writes this layout from the official files (:func:`convert_nyu_mat`; the
ground truth read is ``depth_*`` = the raw sensor depth, holes not scored). Protocol: the Eigen crop (rows 45:471, columns
41:601) and the valid range 1e-3 .. 10 m. A list with another number of lines than 654 is
evaluated but the result records the split as incomplete (``expected_len``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat

from openbanana.data.sources.base import (
    SOURCES,
    DataSource,
    Record,
    Target,
    check_same_size,
    read_list_file,
    read_rgb,
    require_file,
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


def convert_nyu_mat(labeled_mat: Path | str, splits_mat: Path | str, out_root: Path | str) -> int:
    """Extract the Eigen test split from the official files into the layout above; returns 654.

    Args:
        labeled_mat: ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5; needs ``h5py``).
        splits_mat: ``splits.mat`` from the same page (``testNdxs``, 1-based indices).
        out_root: the ``<root>`` to write: ``test/<scene>/{rgb,depth,filled}_<idx>.png`` and
            ``filename_list_test.txt``. ``depth_`` holds ``rawDepths`` (the sensor, holes = 0),
            ``filled_`` holds ``depths`` (the in-painted maps); both uint16 millimetres.
    """
    try:
        import h5py
    except ImportError:
        raise ImportError("reading nyu_depth_v2_labeled.mat needs h5py: pip install h5py") from None
    labeled_mat, splits_mat, out_root = Path(labeled_mat), Path(splits_mat), Path(out_root)
    require_file(labeled_mat, "nyu_depth_v2_labeled.mat")
    try:
        test = np.asarray(loadmat(require_file(splits_mat, "splits.mat"))["testNdxs"]).ravel().astype(int)
    except (KeyError, ValueError) as exc:
        raise DataLayoutError(f"{splits_mat}: expected a MATLAB file with 'testNdxs', got {exc}") from None
    lines = []
    with h5py.File(labeled_mat, "r") as f:
        for key in ("images", "depths", "rawDepths", "scenes"):
            if key not in f:
                raise DataLayoutError(f"{labeled_mat}: expected dataset {key!r} (the official labeled file)")
        n = f["images"].shape[0]
        for idx in test:
            if not 1 <= idx <= n:
                raise DataLayoutError(f"{splits_mat}: test index {idx} outside 1..{n}")
            i = idx - 1
            rgb = np.asarray(f["images"][i]).transpose(2, 1, 0)  # stored (3, W, H) -> (H, W, 3)
            filled = np.asarray(f["depths"][i]).T
            raw = np.asarray(f["rawDepths"][i]).T
            scene = "".join(chr(int(c)) for c in np.asarray(f[f["scenes"][0][i]]).ravel())
            d = out_root / "test" / scene
            d.mkdir(parents=True, exist_ok=True)
            name = f"{idx:05d}"
            Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(d / f"rgb_{name}.png")
            for prefix, m in (("depth", raw), ("filled", filled)):
                mm = np.clip(np.round(np.nan_to_num(m) * DEPTH_SCALE), 0, 65535).astype(np.uint16)
                Image.fromarray(mm).save(d / f"{prefix}_{name}.png")
            rel = f"test/{scene}"
            lines.append(f"{rel}/rgb_{name}.png {rel}/depth_{name}.png {rel}/filled_{name}.png")
    (out_root / "filename_list_test.txt").write_text("\n".join(lines) + "\n")
    return len(lines)
