"""iBims-1 (core), 100 indoor images with high-quality depth.

Official layout (``ibims1_core_mat.zip``)::

    <root>/ibims1_core_mat/imagelist.txt         one name per line
    <root>/ibims1_core_mat/<name>.mat            MATLAB struct ``data`` with fields
                                                 rgb (H, W, 3) uint8, depth (H, W) metres,
                                                 mask_invalid (H, W), mask_transp (H, W)

The masks are 1 where the depth is usable (0 = invalid / transparent), as in the official
evaluation script. Protocol: 1e-3 .. 10 m (an indoor range; our choice, stated in the result).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import loadmat

from openbanana.data.sources.base import SOURCES, DataSource, Record, Target, read_list_file, require_file
from openbanana.errors import DataLayoutError

MIN_DEPTH_M, MAX_DEPTH_M = 1e-3, 10.0
IBIMS_LEN = 100
FIELDS = ("rgb", "depth", "mask_invalid", "mask_transp")


def read_ibims_mat(path: Path) -> dict[str, np.ndarray]:
    """The four fields of an iBims-1 ``.mat`` file (scipy; MATLAB v5 format)."""
    require_file(path, "iBims-1 .mat file")
    try:
        data = loadmat(path)["data"]
        rec = data[0, 0] if data.dtype.names else None
    except Exception as exc:  # noqa: BLE001
        raise DataLayoutError(f"{path}: expected a MATLAB file with a struct 'data', got {exc}") from None
    if rec is None or not all(f in data.dtype.names for f in FIELDS):
        raise DataLayoutError(f"{path}: expected struct 'data' with fields {list(FIELDS)}")
    return {f: np.asarray(rec[f]) for f in FIELDS}


class IBims1Source(DataSource):
    """iBims-1 core images listed in ``imagelist.txt``; ``task`` = ``depth``."""

    layout = "<root>/ibims1_core_mat/imagelist.txt + <root>/ibims1_core_mat/<name>.mat"
    expected_len = IBIMS_LEN

    def __init__(self, root: Path):
        self.dir = Path(root) / "ibims1_core_mat"
        self.names = read_list_file(self.dir / "imagelist.txt", "iBims-1 image list")

    def __len__(self) -> int:
        return len(self.names)

    def record_id(self, index: int) -> str:
        return self.names[index]

    def __getitem__(self, index: int) -> Record:
        name = self.names[index]
        path = self.dir / (name if name.endswith(".mat") else f"{name}.mat")
        f = read_ibims_mat(path)
        rgb, depth = f["rgb"], f["depth"].astype(np.float32)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise DataLayoutError(f"{path}: expected rgb uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
        for k in ("depth", "mask_invalid", "mask_transp"):
            if f[k].shape != rgb.shape[:2]:
                raise DataLayoutError(f"{path}: expected {k} of shape {rgb.shape[:2]}, got {f[k].shape}")
        valid = (f["mask_invalid"] != 0) & (f["mask_transp"] != 0)
        return Record(
            id=name, image=np.ascontiguousarray(rgb), targets=[Target(task="depth", gt=depth, valid=valid)]
        )


SOURCES.register("ibims1", IBims1Source)
